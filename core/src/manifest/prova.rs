//! prova's own model manifest: one `(path, size, sha256)` entry per file of a model folder, and the version hash over them.
//!
//! The version hash is the root of an OpenZeppelin `StandardMerkleTree` with leaf types
//! `["string","uint64","bytes32"]` (specified in `docs/format.md`). File digests are plain SHA-256, equal to Hugging Face LFS oids
//! and to sigstore model_signing's per-file digests.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use alloy::primitives::B256;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hash_cache::{FileStamp, HashCache};
use crate::merkle::{MerkleTree, leaf_hash};

/// Manifest format tag written into every manifest file.
pub const MANIFEST_FORMAT: &str = "prova.manifest/v1";

/// Names ignored by default, as files or folders at any depth: version-control metadata is not part of a model.
/// It includes everything sigstore model_signing ignores by default (`.git`, `.github`, `.gitattributes`,
/// `.gitignore`), so both tools list the same files for a Hugging Face repository.
pub const DEFAULT_IGNORE: &[&str] = &[".git", ".github", ".gitattributes", ".gitignore", ".hg", ".svn", ".jj"];

/// Solidity types of a manifest leaf, as passed to `StandardMerkleTree.of`.
pub const LEAF_TYPES: [&str; 3] = ["string", "uint64", "bytes32"];

/// One file of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the model folder, `/`-separated, UTF-8.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: B256,
}

impl ManifestEntry {
    /// The entry's `StandardMerkleTree` leaf hash.
    pub fn leaf(&self) -> B256 {
        leaf_hash(&(self.path.clone(), self.size, self.sha256))
    }
}

/// A model version's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// The tool that wrote it, e.g. `prova 0.1.0`.
    pub tool: String,
    /// The Merkle root over the entries: the version hash registered on-chain.
    pub version_hash: B256,
    /// File and folder names that were skipped while hashing.
    pub ignore: Vec<String>,
    /// The files, sorted by path.
    pub files: Vec<ManifestEntry>,
}

impl Manifest {
    /// Builds a manifest from entries, checking their paths and computing the version hash.
    pub fn from_entries(mut files: Vec<ManifestEntry>, ignore: Vec<String>) -> Result<Self> {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut seen = BTreeSet::new();
        for entry in &files {
            check_relative_path(&entry.path)?;
            if !seen.insert(entry.path.as_str()) {
                return Err(Error::DuplicatePath(entry.path.clone()));
            }
        }
        let version_hash = version_hash(&files).ok_or_else(|| Error::EmptyFolder(PathBuf::from("<manifest>")))?;
        Ok(Self {
            format: MANIFEST_FORMAT.to_owned(),
            tool: concat!("prova ", env!("CARGO_PKG_VERSION")).to_owned(),
            version_hash,
            ignore,
            files,
        })
    }

    /// Parses a manifest and checks that its recorded version hash matches its entries.
    pub fn from_json(json: &str) -> Result<Self> {
        let parsed: Self = serde_json::from_str(json)?;
        let rebuilt = Self::from_entries(parsed.files, parsed.ignore)?;
        if rebuilt.version_hash != parsed.version_hash {
            return Err(Error::ManifestRootMismatch { recorded: parsed.version_hash, computed: rebuilt.version_hash });
        }
        Ok(rebuilt)
    }

    /// The Merkle tree over the entries.
    pub fn tree(&self) -> MerkleTree {
        MerkleTree::from_leaf_hashes(self.files.iter().map(ManifestEntry::leaf).collect())
            .expect("a manifest has at least one entry")
    }

    /// Total bytes over all files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|e| e.size).sum()
    }
}

/// The version hash of a set of entries, or `None` if there are none.
pub fn version_hash(entries: &[ManifestEntry]) -> Option<B256> {
    MerkleTree::from_leaf_hashes(entries.iter().map(ManifestEntry::leaf).collect()).map(|t| t.root())
}

/// Options for [`hash_dir`].
#[derive(Default)]
pub struct HashOptions<'a> {
    /// File and folder names to skip anywhere in the tree; `None` means [`DEFAULT_IGNORE`].
    pub ignore: Option<Vec<String>>,
    /// Worker threads; `None` means one per core.
    pub threads: Option<usize>,
    /// Digest cache to consult and fill; `None` hashes every file.
    pub cache: Option<&'a HashCache>,
    /// Called with the number of bytes just hashed (or found in the cache), from any worker thread.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl std::fmt::Debug for HashOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashOptions")
            .field("ignore", &self.ignore)
            .field("threads", &self.threads)
            .field("cache", &self.cache.is_some())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl HashOptions<'_> {
    /// The ignore list in effect.
    pub fn ignore_list(&self) -> Vec<String> {
        self.ignore.clone().unwrap_or_else(|| DEFAULT_IGNORE.iter().map(|s| (*s).to_owned()).collect())
    }
}

/// A file to hash: its manifest path, where it is, and its size as listed.
#[derive(Debug, Clone)]
pub struct ListedFile {
    /// Relative `/`-separated path.
    pub rel: String,
    /// Absolute (or root-joined) path on disk.
    pub path: PathBuf,
    /// Size from the listing, for progress totals.
    pub size: u64,
}

/// Lists the files [`hash_dir`] would hash, with their sizes (for progress bars), refusing what it would refuse.
pub fn list_dir(root: &Path, options: &HashOptions<'_>) -> Result<Vec<ListedFile>> {
    let files = list_files(root, &options.ignore_list())?;
    if files.is_empty() {
        return Err(Error::EmptyFolder(root.to_path_buf()));
    }
    files
        .into_iter()
        .map(|(rel, path)| {
            let size = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
            Ok(ListedFile { rel, path, size })
        })
        .collect()
}

/// Hashes every file under `root` in parallel and returns the manifest.
///
/// Refuses an empty folder, non-UTF-8 paths, symlinks that leave the folder, symlinks to directories and
/// unreadable files. The result does not depend on thread count, directory order or the cache.
pub fn hash_dir(root: &Path, options: &HashOptions<'_>) -> Result<Manifest> {
    hash_listed(list_dir(root, options)?, options)
}

/// Hashes an already listed set of files (see [`list_dir`]).
pub fn hash_listed(files: Vec<ListedFile>, options: &HashOptions<'_>) -> Result<Manifest> {
    let work = || files.par_iter().with_max_len(1).map(|file| hash_one(file, options)).collect::<Result<Vec<_>>>();
    let entries = match options.threads {
        Some(n) => {
            rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build().map_err(Error::ThreadPool)?.install(work)?
        }
        None => work()?,
    };
    if let Some(cache) = options.cache {
        cache.save(&entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>())?;
    }
    Manifest::from_entries(entries, options.ignore_list())
}

fn hash_one(file: &ListedFile, options: &HashOptions<'_>) -> Result<ManifestEntry> {
    let stamp = match options.cache {
        Some(_) => Some(FileStamp::of(&std::fs::metadata(&file.path).map_err(|e| Error::io(&file.path, e))?)),
        None => None,
    };
    if let (Some(cache), Some(stamp)) = (options.cache, &stamp)
        && let Some(sha256) = cache.get(&file.rel, stamp)
    {
        if let Some(progress) = options.progress {
            progress(stamp.size);
        }
        return Ok(ManifestEntry { path: file.rel.clone(), size: stamp.size, sha256 });
    }
    let (size, sha256) = sha256_file_with(&file.path, options.progress)?;
    if let (Some(cache), Some(stamp)) = (options.cache, stamp) {
        cache.put(&file.rel, stamp, sha256);
    }
    Ok(ManifestEntry { path: file.rel.clone(), size, sha256 })
}

/// SHA-256 of a file's bytes, with its size.
pub fn sha256_file(path: &Path) -> Result<(u64, B256)> {
    sha256_file_with(path, None)
}

fn sha256_file_with(path: &Path, progress: Option<&(dyn Fn(u64) + Sync)>) -> Result<(u64, B256)> {
    // Reads ahead on other threads while this one hashes (see `read_ahead`).
    let (size, digest) = super::read_ahead::sha256_file(path, progress).map_err(|e| Error::io(path, e))?;
    Ok((size, B256::from(digest)))
}

/// Lists `(relative path, absolute path)` of every file under `root`, sorted by relative path.
fn list_files(root: &Path, ignore: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::NotADirectory(root.to_path_buf()));
    }
    let canonical_root = root.canonicalize().map_err(|e| Error::io(root, e))?;
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !ignore.iter().any(|i| e.file_name() == i.as_str()));
    let mut files = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf());
            Error::io(path, e.into_io_error().unwrap_or_else(|| std::io::Error::other("filesystem loop")))
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = relative_utf8(root, entry.path())?;
        if entry.file_type().is_symlink() {
            let target = entry.path().canonicalize().map_err(|e| Error::io(entry.path(), e))?;
            if !target.starts_with(&canonical_root) {
                return Err(Error::SymlinkOutside { link: rel, target });
            }
            if target.is_dir() {
                return Err(Error::SymlinkToDirectory(rel));
            }
        }
        files.push((rel, entry.path().to_path_buf()));
    }
    Ok(files)
}

/// The `/`-separated UTF-8 path of `path` relative to `root`.
fn relative_utf8(root: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(root).expect("walkdir yields paths under the root");
    let mut parts = Vec::new();
    for component in rel.components() {
        match component {
            Component::Normal(part) => {
                parts.push(part.to_str().ok_or_else(|| Error::NonUtf8Path(path.to_path_buf()))?);
            }
            _ => return Err(Error::BadManifestPath(rel.display().to_string())),
        }
    }
    Ok(parts.join("/"))
}

/// Checks that a manifest path is relative, `/`-separated and free of `.`/`..`/empty segments.
pub fn check_relative_path(path: &str) -> Result<()> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if bad { Err(Error::BadManifestPath(path.to_owned())) } else { Ok(()) }
}

/// How a folder's manifest differs from a registered version's manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDiff {
    /// Files in both with the same size and digest.
    pub unchanged: usize,
    /// Paths in the folder but not in the version.
    pub added: Vec<String>,
    /// Paths in the version but not in the folder.
    pub removed: Vec<String>,
    /// Paths in both whose size or digest differ.
    pub changed: Vec<String>,
}

impl ManifestDiff {
    /// True when the two manifests list exactly the same files.
    pub fn is_exact(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares `folder` (what an auditor holds) against `version` (what was registered), by path.
pub fn diff(folder: &[ManifestEntry], version: &[ManifestEntry]) -> ManifestDiff {
    let digests = |entries: &[ManifestEntry]| entries.iter().map(|e| (e.path.clone(), e.sha256)).collect::<Vec<_>>();
    diff_digests(&digests(folder), &digests(version))
}

/// [`diff`] over `(path, sha256)` pairs, for manifests without sizes (model_signing's).
pub fn diff_digests(folder: &[(String, B256)], version: &[(String, B256)]) -> ManifestDiff {
    use std::collections::BTreeMap;
    let registered: BTreeMap<&str, &B256> = version.iter().map(|(p, d)| (p.as_str(), d)).collect();
    let held: BTreeMap<&str, &B256> = folder.iter().map(|(p, d)| (p.as_str(), d)).collect();
    let mut out = ManifestDiff::default();
    for (path, digest) in &held {
        match registered.get(path) {
            None => out.added.push((*path).to_owned()),
            Some(r) if r == digest => out.unchanged += 1,
            Some(_) => out.changed.push((*path).to_owned()),
        }
    }
    out.removed = registered.keys().filter(|p| !held.contains_key(*p)).map(|p| (*p).to_owned()).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(dir: &Path, rel: &str, bytes: &[u8]) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn sha256_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "abc", b"abc");
        let (size, digest) = sha256_file(&dir.path().join("abc")).unwrap();
        assert_eq!(size, 3);
        assert_eq!(digest.to_string(), "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn hashes_nested_folder_and_skips_vcs() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "config.json", b"{}");
        write(dir.path(), "weights/part-0.bin", &[7u8; 5000]);
        write(dir.path(), ".git/HEAD", b"ref: main");
        write(dir.path(), ".gitattributes", b"*.bin filter=lfs");
        write(dir.path(), "weights/.gitignore", b"*.tmp");
        let manifest = hash_dir(dir.path(), &HashOptions::default()).unwrap();
        let paths: Vec<_> = manifest.files.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["config.json", "weights/part-0.bin"]);
        assert_eq!(manifest.files[1].size, 5000);
        assert_eq!(manifest.version_hash, version_hash(&manifest.files).unwrap());
    }

    #[test]
    fn refuses_empty_folder() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".git/HEAD", b"x");
        assert!(matches!(hash_dir(dir.path(), &HashOptions::default()), Err(Error::EmptyFolder(_))));
    }

    #[test]
    fn refuses_symlink_outside() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "secret", b"x");
        write(dir.path(), "a", b"a");
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        assert!(matches!(hash_dir(dir.path(), &HashOptions::default()), Err(Error::SymlinkOutside { .. })));
    }

    #[test]
    fn follows_symlink_inside() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a", b"a");
        std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("b")).unwrap();
        let manifest = hash_dir(dir.path(), &HashOptions::default()).unwrap();
        assert_eq!(manifest.files.len(), 2);
        assert_eq!(manifest.files[0].sha256, manifest.files[1].sha256);
    }

    #[test]
    fn one_byte_changes_the_version_hash() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "w.bin", &[0u8; 100]);
        let before = hash_dir(dir.path(), &HashOptions::default()).unwrap().version_hash;
        let mut bytes = vec![0u8; 100];
        bytes[42] = 1;
        write(dir.path(), "w.bin", &bytes);
        let after = hash_dir(dir.path(), &HashOptions::default()).unwrap().version_hash;
        assert_ne!(before, after);
    }

    #[test]
    fn manifest_json_round_trip_and_tamper_detection() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x", b"x");
        write(dir.path(), "y/z", b"z");
        let manifest = hash_dir(dir.path(), &HashOptions::default()).unwrap();
        let json = serde_json::to_string(&manifest).unwrap();
        assert_eq!(Manifest::from_json(&json).unwrap(), manifest);
        let tampered = json.replace("\"size\":1", "\"size\":2");
        assert!(matches!(Manifest::from_json(&tampered), Err(Error::ManifestRootMismatch { .. })));
    }

    #[test]
    fn diff_names_added_removed_and_changed_files() {
        let e = |path: &str, byte: u8| ManifestEntry { path: path.into(), size: 1, sha256: B256::repeat_byte(byte) };
        let version = [e("a", 1), e("b", 2), e("c", 3)];
        let folder = [e("a", 1), e("b", 9), e("d", 4)];
        let d = diff(&folder, &version);
        assert_eq!(d.unchanged, 1);
        assert_eq!(d.added, ["d"]);
        assert_eq!(d.removed, ["c"]);
        assert_eq!(d.changed, ["b"]);
        assert!(!d.is_exact());
        assert!(diff(&version, &version).is_exact());
    }

    fn many_files(dir: &Path) {
        for i in 0..40u32 {
            let bytes: Vec<u8> = (0..(i * 997 + 13)).map(|b| (b ^ i) as u8).collect();
            write(dir, &format!("d{}/f{i:03}.bin", i % 5), &bytes);
        }
    }

    #[test]
    fn parallel_equals_sequential() {
        let dir = tempfile::tempdir().unwrap();
        many_files(dir.path());
        let one = hash_dir(dir.path(), &HashOptions { threads: Some(1), ..HashOptions::default() }).unwrap();
        let four = hash_dir(dir.path(), &HashOptions { threads: Some(4), ..HashOptions::default() }).unwrap();
        let default = hash_dir(dir.path(), &HashOptions::default()).unwrap();
        assert_eq!(one, four);
        assert_eq!(one, default);
        // And equal to hashing each file on its own, in path order.
        for entry in &one.files {
            assert_eq!(sha256_file(&dir.path().join(&entry.path)).unwrap(), (entry.size, entry.sha256));
        }
    }

    #[test]
    fn progress_reports_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        many_files(dir.path());
        let seen = std::sync::atomic::AtomicU64::new(0);
        let tick = |n: u64| {
            seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let manifest = hash_dir(dir.path(), &HashOptions { progress: Some(&tick), ..HashOptions::default() }).unwrap();
        assert_eq!(seen.into_inner(), manifest.total_bytes());
    }

    #[test]
    fn cache_is_used_and_invalidated_by_size_or_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.bin", b"first");
        write(dir.path(), "b.bin", b"second");
        let cache_path = cache_dir.path().join("cache.json");
        let fresh = hash_dir(dir.path(), &HashOptions::default()).unwrap();

        let cache = HashCache::load(cache_path.clone(), dir.path());
        let cached = hash_dir(dir.path(), &HashOptions { cache: Some(&cache), ..HashOptions::default() }).unwrap();
        assert_eq!(cached, fresh);

        // The cache is consulted: a planted digest with a matching stamp is returned as is.
        let planted = B256::repeat_byte(0xAB);
        let stamp = FileStamp::of(&std::fs::metadata(dir.path().join("a.bin")).unwrap());
        let cache = HashCache::load(cache_path.clone(), dir.path());
        cache.put("a.bin", stamp, planted);
        let with_plant = hash_dir(dir.path(), &HashOptions { cache: Some(&cache), ..HashOptions::default() }).unwrap();
        assert_eq!(with_plant.files[0].sha256, planted);

        // A new size invalidates the entry.
        write(dir.path(), "a.bin", b"first, longer");
        let cache = HashCache::load(cache_path.clone(), dir.path());
        let after_size = hash_dir(dir.path(), &HashOptions { cache: Some(&cache), ..HashOptions::default() }).unwrap();
        assert_eq!(after_size, hash_dir(dir.path(), &HashOptions::default()).unwrap());

        // Same size, new content and mtime: invalidated too.
        std::thread::sleep(std::time::Duration::from_millis(20));
        write(dir.path(), "b.bin", b"SECOND");
        let cache = HashCache::load(cache_path.clone(), dir.path());
        let after_mtime = hash_dir(dir.path(), &HashOptions { cache: Some(&cache), ..HashOptions::default() }).unwrap();
        assert_eq!(after_mtime, hash_dir(dir.path(), &HashOptions::default()).unwrap());
        assert_ne!(after_mtime.files[1].sha256, fresh.files[1].sha256);

        // A cache written for another folder is ignored.
        let other = tempfile::tempdir().unwrap();
        write(other.path(), "a.bin", b"first, longer");
        let foreign = HashCache::load(cache_path, other.path());
        assert!(
            foreign.get("a.bin", &FileStamp::of(&std::fs::metadata(other.path().join("a.bin")).unwrap())).is_none()
        );
    }

    #[test]
    fn refuses_unreadable_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a", b"a");
        std::os::unix::fs::symlink(dir.path().join("missing"), dir.path().join("dangling")).unwrap();
        let err = hash_dir(dir.path(), &HashOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(err.to_string().contains("dangling"), "{err}");
    }

    #[test]
    fn refuses_symlinked_directory_and_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sub/a", b"a");
        std::os::unix::fs::symlink(dir.path().join("sub"), dir.path().join("link")).unwrap();
        assert!(matches!(hash_dir(dir.path(), &HashOptions::default()), Err(Error::SymlinkToDirectory(_))));
        assert!(matches!(hash_dir(&dir.path().join("nope"), &HashOptions::default()), Err(Error::Io { .. })));
        assert!(matches!(hash_dir(&dir.path().join("sub/a"), &HashOptions::default()), Err(Error::NotADirectory(_))));
    }

    #[test]
    fn refuses_bad_paths() {
        for bad in ["", "/abs", "a/../b", "./a", "a//b", "a\\b"] {
            assert!(check_relative_path(bad).is_err(), "{bad}");
        }
        check_relative_path("a/b.c").unwrap();
    }
}
