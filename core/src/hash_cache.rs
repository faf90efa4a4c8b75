//! A per-folder cache of file digests, keyed by path, size, mtime, ctime and inode, so that re-hashing a large
//! model after editing one file only reads that file.
//!
//! The cache is an optimisation for `prova model hash` and `prova model publish`; verification never uses it.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use alloy::primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a cached digest was computed from; any change means the file must be hashed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Status-change time, nanoseconds since the epoch (cannot be set back by users, unlike mtime).
    pub ctime_ns: i128,
    /// Inode number.
    pub inode: u64,
    /// Device number.
    pub device: u64,
}

impl FileStamp {
    /// The stamp of a file's current metadata.
    pub fn of(meta: &Metadata) -> Self {
        Self {
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            inode: meta.ino(),
            device: meta.dev(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cached {
    stamp: FileStamp,
    sha256: B256,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    /// The folder the cache belongs to.
    root: PathBuf,
    /// Relative path to digest.
    files: HashMap<String, Cached>,
}

/// A loaded cache; thread-safe so parallel hashing can consult and fill it.
#[derive(Debug)]
pub struct HashCache {
    path: PathBuf,
    inner: Mutex<CacheFile>,
}

impl HashCache {
    /// The default cache file of a model folder: `$XDG_CACHE_HOME/prova/hashes/<keccak of the folder path>.json`
    /// (or `~/.cache/...`).
    pub fn default_path(root: &Path) -> Result<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .ok_or(Error::NoCacheDir)?;
        let canonical = root.canonicalize().map_err(|e| Error::io(root, e))?;
        let tag = keccak256(canonical.to_string_lossy().as_bytes());
        Ok(base.join("prova").join("hashes").join(format!("{}.json", &tag.to_string()[2..18])))
    }

    /// Loads the cache at `path`; a missing or unreadable cache is an empty one (it is only an optimisation).
    pub fn load(path: PathBuf, root: &Path) -> Self {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let file = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|file| file.root == root)
            .unwrap_or(CacheFile { root, files: HashMap::new() });
        Self { path, inner: Mutex::new(file) }
    }

    /// The cached digest of `rel`, if its stamp is unchanged.
    pub fn get(&self, rel: &str, stamp: &FileStamp) -> Option<B256> {
        let inner = self.inner.lock().expect("cache lock");
        inner.files.get(rel).filter(|c| c.stamp == *stamp).map(|c| c.sha256)
    }

    /// Records a freshly computed digest.
    pub fn put(&self, rel: &str, stamp: FileStamp, sha256: B256) {
        self.inner.lock().expect("cache lock").files.insert(rel.to_owned(), Cached { stamp, sha256 });
    }

    /// Drops entries for files that no longer exist and writes the cache atomically.
    pub fn save(&self, present: &[String]) -> Result<()> {
        let mut inner = self.inner.lock().expect("cache lock");
        let keep: std::collections::HashSet<&str> = present.iter().map(String::as_str).collect();
        inner.files.retain(|path, _| keep.contains(path.as_str()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&*inner)?).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}
