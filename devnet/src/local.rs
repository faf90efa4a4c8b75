//! The local stack's processes: finding the pinned Foundry binaries and running a private Postgres cluster.
//!
//! Used by `prova dev` and by the end-to-end tests, so both start the same things the same way.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// Finds a Foundry tool (`anvil`, `forge`, `cast`).
///
/// Looks at `PROVA_<TOOL>` (e.g. `PROVA_ANVIL`), then the npm-pinned copy under `node_modules/@foundry-rs/`
/// in the current folder or any parent, then the compile-time workspace, then `PATH`.
pub fn find_foundry_tool(tool: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(format!("PROVA_{}", tool.to_uppercase())) {
        return Ok(PathBuf::from(path));
    }
    let rel = format!("node_modules/@foundry-rs/{tool}-linux-amd64/bin/{tool}");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf);
    let cwd = std::env::current_dir().ok();
    let roots = cwd.iter().flat_map(|d| d.ancestors().map(Path::to_path_buf)).chain(workspace);
    for root in roots {
        let candidate = root.join(&rel);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    which(tool).ok_or_else(|| {
        Error::Tool(format!(
            "{tool} not found: run `npm ci` in the prova checkout, or set PROVA_{}",
            tool.to_uppercase()
        ))
    })
}

/// Looks a program up on `PATH`.
fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| p.is_file())
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("127.0.0.1:0", e))?;
    Ok(listener.local_addr().map_err(|e| Error::io("127.0.0.1:0", e))?.port())
}

/// A private Postgres cluster in a folder of its own, listening on 127.0.0.1 only.
///
/// The cluster is stopped when the value is dropped, if this value started it.
#[derive(Debug)]
pub struct LocalPostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    started_here: bool,
}

impl LocalPostgres {
    /// Initializes the cluster in `dir` if needed and starts it on `port`, unless it already runs.
    pub fn start(dir: &Path, port: u16) -> Result<Self> {
        let bin = postgres_bin_dir()?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let dir = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
        let mut pg = Self { dir, bin, port, started_here: false };
        if !pg.dir.join("PG_VERSION").exists() {
            pg.chown_for_postgres()?;
            pg.run("initdb", &["-D", &pg.dir_str(), "-A", "trust", "-U", "postgres", "--no-sync"])?;
        }
        pg.ensure_running()?;
        Ok(pg)
    }

    /// Starts the cluster unless it already runs (for example after [`LocalPostgres::stop`]).
    pub fn ensure_running(&mut self) -> Result<()> {
        if self.run("pg_ctl", &["-D", &self.dir_str(), "status"]).is_ok() {
            return Ok(());
        }
        let options = format!(
            "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c max_connections=200",
            port = self.port,
            dir = self.dir_str()
        );
        let log = self.dir.join("postgres.log");
        self.run("pg_ctl", &["-D", &self.dir_str(), "-o", &options, "-l", &log.to_string_lossy(), "-w", "start"])?;
        self.started_here = true;
        Ok(())
    }

    /// The cluster's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of database `name` in this cluster (user `postgres`, trust auth on loopback).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` if it does not exist, and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        let port = self.port.to_string();
        let exists = self.run_output(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-tAc",
                &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
            ],
        )?;
        if exists.trim() != "1" {
            self.run("createdb", &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name])?;
        }
        Ok(self.url(name))
    }

    /// Stops the cluster (fast shutdown), whether or not this value started it.
    pub fn stop(&mut self) -> Result<()> {
        self.started_here = false;
        self.run("pg_ctl", &["-D", &self.dir_str(), "-m", "fast", "-w", "stop"])
    }

    fn dir_str(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }

    /// Postgres refuses to run as root; when we are root, the cluster belongs to the `postgres` user.
    fn chown_for_postgres(&self) -> Result<()> {
        if !is_root() {
            return Ok(());
        }
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&self.dir)
            .status()
            .map_err(|e| Error::io("chown", e))?;
        if !status.success() {
            return Err(Error::Tool(format!("chown postgres {} failed", self.dir.display())));
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<()> {
        self.run_output(program, args).map(drop)
    }

    fn run_output(&self, program: &str, args: &[&str]) -> Result<String> {
        let output = self
            .command(program)
            .args(args)
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::io(self.bin.join(program), e))?;
        if !output.status.success() {
            return Err(Error::Tool(format!(
                "{program} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        if self.started_here {
            let _ = self.stop();
        }
    }
}

/// Where to keep a Postgres cluster that would preferably live at `preferred`.
///
/// As root, the cluster belongs to the `postgres` user, which must be able to reach the folder; under a private
/// home such as `/root` it cannot, so the cluster moves to a folder of its own under `/var/tmp`, named after
/// `preferred` so the same project keeps the same cluster.
pub fn cluster_dir(preferred: &Path) -> PathBuf {
    if !is_root() {
        return preferred.to_path_buf();
    }
    let parent = preferred.parent().unwrap_or(Path::new("/"));
    let _ = std::fs::create_dir_all(parent);
    let reachable = Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(parent)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if reachable {
        return preferred.to_path_buf();
    }
    let absolute = std::path::absolute(preferred).unwrap_or_else(|_| preferred.to_path_buf());
    let tag = alloy::primitives::keccak256(absolute.to_string_lossy().as_bytes());
    PathBuf::from(format!("/var/tmp/prova-pg-{}", &tag.to_string()[2..14]))
}

/// True when this process runs as root (the owner of `/proc/self` is the process's user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Finds the folder holding `initdb` and `pg_ctl`: `PROVA_PG_BIN`, then Debian's newest
/// `/usr/lib/postgresql/<v>/bin`, then `pg_config --bindir`.
pub fn postgres_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PROVA_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    debian.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    if let Some(dir) = debian.pop() {
        return Ok(dir);
    }
    let output = Command::new("pg_config").arg("--bindir").output();
    if let Ok(output) = output
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    Err(Error::Tool(
        "Postgres server binaries not found: install them (apt-get install -y postgresql) or set PROVA_PG_BIN".into(),
    ))
}
