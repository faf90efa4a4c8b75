//! One guard for child processes (`prova dev`, `prova serve`, an indexer) started by tests and tools: on drop it
//! asks the child to stop with a signal, waits a grace period, then kills it.

use std::process::Child;
use std::time::{Duration, Instant};

/// The signals callers send with [`ChildGuard::signal`] or stop with ([`ChildGuard::with_signal`]): Ctrl-C, a service
/// manager's stop, and the unconditional kill.
pub use libc::{SIGINT, SIGKILL, SIGTERM};

/// Owns a child process and stops it when dropped: `signal` first (SIGINT, as Ctrl-C does, by default), then
/// SIGKILL after `grace` if it has not exited.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    signal: i32,
    grace: Duration,
}

impl ChildGuard {
    /// Guards `child`, stopping it with SIGINT and a 30-second grace period.
    pub fn new(child: Child) -> Self {
        Self { child, signal: libc::SIGINT, grace: Duration::from_secs(30) }
    }

    /// Stops the child with `signal` instead of SIGINT (e.g. [`SIGTERM`] for `prova serve`, which drains the
    /// requests in flight on it).
    pub fn with_signal(mut self, signal: i32) -> Self {
        self.signal = signal;
        self
    }

    /// Waits `grace` instead of 30 seconds after the signal before killing the child.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The child.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the child; false if it has already exited or the signal could not be sent.
    pub fn signal(&mut self, signal: i32) -> bool {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return false;
        }
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else { return false };
        // SAFETY: kill(2) with a pid of our own child and a valid signal number has no memory effects.
        unsafe { libc::kill(pid, signal) == 0 }
    }

    /// Waits up to `timeout` for the child to exit; its status if it did.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.signal(self.signal) && self.wait_timeout(self.grace).is_some() {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
