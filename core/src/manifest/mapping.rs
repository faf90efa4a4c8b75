//! A read-only shared mapping of a file that is safe to read even if the file shrinks meanwhile.
//!
//! Hashing a file the page cache holds straight from a mapping skips the copy `read` makes (about 0.1 CPU s per GB,
//! a fifth of what SHA-256 itself costs) and needs no other thread. Its danger: if another process truncates the
//! file while it is mapped, touching a page past the new end raises `SIGBUS`, which kills the process. Checking the
//! size first (`fstat`) does not help, since the truncation can come at any moment after; a read lease
//! (`F_SETLEASE`) would only hold off writers that honour it on this host, and costs a signal disposition of its own.
//! So a `SIGBUS` handler is installed (once, chaining to whatever handler was there before) that, for a fault inside
//! a registered [`Mapping`], maps zero pages over the rest of that mapping, notes it, and lets the read go on. The
//! reader then sees [`Mapping::shrank`] and reports an error instead of a digest of bytes the file no longer has.
//! A fault anywhere else is passed to the previous handler, or gets the default action, exactly as without us.

use std::fs::File;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Mappings that can be registered at once; one per file being hashed, so a few per core. A mapping that finds no
/// free slot is not made, and the file is read instead.
const SLOTS: usize = 64;

/// A registered address range `[start, end)`; `start == 0` means free.
struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    /// Set by the handler when a page of the range was past the end of the file.
    shrank: AtomicBool,
}

static GUARDED: [Slot; SLOTS] =
    [const { Slot { start: AtomicUsize::new(0), end: AtomicUsize::new(0), shrank: AtomicBool::new(false) } }; SLOTS];

/// The `SIGBUS` action in place before ours, to pass faults that are not ours on to; set once, before ours is.
static PREVIOUS: std::sync::OnceLock<libc::sigaction> = std::sync::OnceLock::new();
/// The page size, read before the handler is installed (`sysconf` is not async-signal-safe).
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
/// Whether our handler is installed.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A read-only `MAP_SHARED` mapping of a whole file, registered with the `SIGBUS` guard.
#[derive(Debug)]
pub(super) struct Mapping {
    /// Start of the mapping (an address, kept as an integer so that the struct is `Send` and `Sync`).
    addr: usize,
    /// Length of the mapping: the file's size when it was mapped.
    len: usize,
    /// Our slot in `GUARDED`.
    slot: usize,
}

impl Mapping {
    /// Maps the first `len` bytes of `file` (its size from `fstat`); `None` for an empty file, a size that does not
    /// fit the address space, a file that cannot be mapped, or when the guard is not available.
    pub(super) fn new(file: &File, len: u64) -> Option<Self> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(len).ok().filter(|&len| len > 0)?;
        if !install_guard() {
            return None;
        }
        // SAFETY: a fresh read-only mapping chosen by the kernel; it aliases no Rust memory.
        let addr =
            unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if addr == libc::MAP_FAILED {
            return None;
        }
        let addr = addr as usize;
        // Claim a free slot: `end` first, then `start` (which marks the slot taken) with release ordering, so that the
        // handler never sees our start with a stale end.
        for (slot, guarded) in GUARDED.iter().enumerate() {
            if guarded.start.load(Ordering::Relaxed) == 0
                && guarded.end.compare_exchange(0, addr + len, Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                guarded.shrank.store(false, Ordering::Relaxed);
                guarded.start.store(addr, Ordering::Release);
                return Some(Self { addr, len, slot });
            }
        }
        // SAFETY: unmaps exactly the mapping made above, which nothing refers to.
        unsafe { libc::munmap(addr as *mut libc::c_void, len) };
        None
    }

    /// Length of the mapping: the file's size when it was mapped.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The mapped bytes `[offset, offset + len)`, clamped to the mapping. If the file shrank meanwhile, the bytes
    /// past its new end read as zeros and [`Self::shrank`] turns true: check it after using the bytes.
    pub(super) fn bytes(&self, offset: usize, len: usize) -> &[u8] {
        let offset = offset.min(self.len);
        let len = len.min(self.len - offset);
        // SAFETY: the range lies inside the mapping, which is readable and lives as long as `self`. Nothing in this
        // process writes to it. Another process may change the file's bytes under it (as with any read of a file
        // being written: the digest is then of a mix); a page past a new end of file is replaced with zeros by the
        // SIGBUS guard instead of killing the process.
        unsafe { std::slice::from_raw_parts((self.addr + offset) as *const u8, len) }
    }

    /// Whether a read of the mapping found the file shorter than when it was mapped.
    pub(super) fn shrank(&self) -> bool {
        GUARDED[self.slot].shrank.load(Ordering::Acquire)
    }

    /// How many of the pages of `[offset, offset + len)` the page cache holds, and how many there are. Beyond the
    /// mapped size (a file that grew) nothing is known: `(0, 0)`.
    pub(super) fn cached_pages(&self, offset: usize, len: usize) -> (usize, usize) {
        let page = page_size();
        let offset = offset / page * page;
        if offset >= self.len {
            return (0, 0);
        }
        let len = len.min(self.len - offset);
        let count = len.div_ceil(page);
        let mut pages = vec![0u8; count];
        // SAFETY: `offset` is page-aligned and the range lies inside the mapping; `pages` has one byte per page of it.
        let rc = unsafe { libc::mincore((self.addr + offset) as *mut libc::c_void, len, pages.as_mut_ptr().cast()) };
        if rc != 0 {
            return (count, count);
        }
        (pages.iter().filter(|&&p| p & 1 != 0).count(), count)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        let guarded = &GUARDED[self.slot];
        guarded.start.store(0, Ordering::Release);
        // SAFETY: unmaps exactly the mapping made in `new` (and any zero pages the guard put over part of it); no
        // reference into it outlives `self`.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
        guarded.end.store(0, Ordering::Release);
    }
}

pub(super) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).ok().filter(|&s| s >= 4096 && s.is_power_of_two()).unwrap_or(4096)
}

/// Installs the `SIGBUS` handler once; whether it is in place. Elsewhere than Linux files are not mapped.
#[cfg(not(target_os = "linux"))]
fn install_guard() -> bool {
    false
}

/// Installs the `SIGBUS` handler once; whether it is in place.
#[cfg(target_os = "linux")]
fn install_guard() -> bool {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        PAGE_SIZE.store(page_size(), Ordering::Relaxed);
        // SAFETY: `sigaction` with a null new action only reads the current one into `previous`, a zeroed
        // (valid) `sigaction`; the new action names a handler that is async-signal-safe (atomics and mmap only) and
        // takes the three arguments SA_SIGINFO passes.
        unsafe {
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) != 0 {
                return;
            }
            let _ = PREVIOUS.set(previous);
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) == 0 {
                INSTALLED.store(true, Ordering::Release);
            }
        }
    });
    INSTALLED.load(Ordering::Acquire)
}

/// The `SIGBUS` handler: a fault in a registered mapping (the file shrank under it) gets zero pages from the faulting
/// page to the mapping's end and returns, so the read goes on; any other fault goes to the previous handler.
#[cfg(target_os = "linux")]
extern "C" fn on_sigbus(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for a handler installed with SA_SIGINFO.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    for guarded in &GUARDED {
        let start = guarded.start.load(Ordering::Acquire);
        let end = guarded.end.load(Ordering::Acquire);
        if start == 0 || !(start..end).contains(&addr) {
            continue;
        }
        let from = addr / page * page;
        // SAFETY: replaces pages `[from, end)` of our own registered mapping, which only this process reads, with
        // private zero pages; MAP_FIXED over our own range unmaps nothing else. mmap is a plain system call.
        let zeros = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                end - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            guarded.shrank.store(true, Ordering::Release);
            return;
        }
    }
    // Not ours: as if we were not here.
    match PREVIOUS.get() {
        Some(previous) if previous.sa_sigaction != libc::SIG_DFL && previous.sa_sigaction != libc::SIG_IGN => {
            if previous.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous action was installed with SA_SIGINFO, so it is a three-argument handler.
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(previous.sa_sigaction) };
                handler(signal, info, context);
            } else {
                // SAFETY: without SA_SIGINFO the previous action is a one-argument handler.
                let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(previous.sa_sigaction) };
                handler(signal);
            }
        }
        _ => {
            // Back to the default action; returning re-runs the faulting instruction, which now gets it.
            // SAFETY: a zeroed sigaction is SIG_DFL with an empty mask.
            unsafe {
                let default: libc::sigaction = std::mem::zeroed();
                libc::sigaction(libc::SIGBUS, &default, std::ptr::null_mut());
            }
        }
    }
}
