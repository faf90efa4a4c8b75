//! Hashing a model folder from the command line: ignore list, threads, the digest cache, and progress output.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use prova_core::hash_cache::HashCache;
use prova_core::manifest::{HashOptions, Manifest, hash_listed, list_dir};

/// How to hash a folder.
#[derive(Debug, Clone, Args)]
pub struct HashingArgs {
    /// File or folder names to skip anywhere (repeatable); default .git, .github, .gitattributes, .gitignore, .hg,
    /// .svn, .jj.
    #[arg(long = "ignore")]
    pub ignore: Vec<String>,
    /// Hashing threads (default: one per core). The result does not depend on it.
    #[arg(long, env = "PROVA_HASH_THREADS")]
    pub threads: Option<usize>,
    /// Reuse digests of files whose size, mtime, ctime and inode are unchanged since the last hash.
    #[arg(long, env = "PROVA_HASH_CACHE", conflicts_with = "no_cache")]
    pub cache: bool,
    /// Hash every file, ignoring and not writing the cache (the default unless --cache is given).
    #[arg(long)]
    pub no_cache: bool,
    /// Cache file (default: under $XDG_CACHE_HOME/prova/hashes/).
    #[arg(long, requires = "cache")]
    pub cache_file: Option<PathBuf>,
    /// No progress bar or summary line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

impl HashingArgs {
    /// Hashes `dir`, showing a progress bar on a terminal and a summary line otherwise.
    pub fn hash(&self, dir: &Path) -> anyhow::Result<Manifest> {
        let cache = if self.cache && !self.no_cache {
            let path = match &self.cache_file {
                Some(path) => path.clone(),
                None => HashCache::default_path(dir)?,
            };
            Some(HashCache::load(path, dir))
        } else {
            None
        };
        self.hash_inner(dir, cache.as_ref())
    }

    /// Hashes `dir` without any cache, whatever the flags say (verification never trusts a cache).
    pub fn hash_uncached(&self, dir: &Path) -> anyhow::Result<Manifest> {
        self.hash_inner(dir, None)
    }

    fn hash_inner(&self, dir: &Path, cache: Option<&HashCache>) -> anyhow::Result<Manifest> {
        let ignore = (!self.ignore.is_empty()).then(|| self.ignore.clone());
        let listing = HashOptions { ignore: ignore.clone(), ..HashOptions::default() };
        let files = list_dir(dir, &listing)?;
        let total: u64 = files.iter().map(|f| f.size).sum();
        let terminal = std::io::stderr().is_terminal() && !self.quiet;
        let bar = if terminal {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} hashing {bytes}/{total_bytes} [{bar:30}] {binary_bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        // Cleared however hashing ends, an error too, so that nothing printed next lands on the bar's line.
        let bar = ClearOnDrop(bar);
        let tick = |n: u64| bar.0.inc(n);
        let started = Instant::now();
        let options = HashOptions { ignore, threads: self.threads, cache, progress: Some(&tick) };
        let manifest = hash_listed(files, &options)?;
        drop(bar);
        if !self.quiet {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "hashed {} files, {:.2} GB in {:.2} s ({:.2} GB/s){}",
                manifest.files.len(),
                total as f64 / 1e9,
                secs,
                total as f64 / 1e9 / secs.max(1e-9),
                if cache.is_some() { ", with cache" } else { "" }
            );
        }
        Ok(manifest)
    }
}

/// A progress bar that is cleared from the terminal when dropped.
struct ClearOnDrop(ProgressBar);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
