//! Errors of the core crate.

use std::path::PathBuf;

/// Result with the core [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong reading, hashing and checking prova's formats.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The model folder is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// The model folder holds no files (after the ignore list).
    #[error("{0} holds no files to hash; an empty model cannot be attested")]
    EmptyFolder(PathBuf),
    /// A symlink resolves to a place outside the model folder.
    #[error("symlink {link} points outside the model folder (to {target})")]
    SymlinkOutside {
        /// The link, relative to the folder.
        link: String,
        /// Where it resolves to.
        target: PathBuf,
    },
    /// A symlink points to a directory, which would make the manifest depend on link layout.
    #[error("symlink {0} points to a directory; only symlinks to files are followed")]
    SymlinkToDirectory(String),
    /// A path is not valid UTF-8, so it cannot be put in a manifest.
    #[error("path {0:?} is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    /// A manifest entry has an unsafe or non-normal path.
    #[error("manifest path {0:?} is not a normal relative path")]
    BadManifestPath(String),
    /// A manifest lists the same path twice.
    #[error("manifest lists {0:?} twice")]
    DuplicatePath(String),
    /// A manifest's recorded version hash disagrees with its entries.
    #[error("manifest version hash {recorded} does not match its entries, which give {computed}")]
    ManifestRootMismatch {
        /// The hash written in the manifest.
        recorded: alloy::primitives::B256,
        /// The hash computed from the entries.
        computed: alloy::primitives::B256,
    },
    /// A manifest file is not valid JSON of the expected shape.
    #[error("invalid manifest: {0}")]
    ManifestJson(#[from] serde_json::Error),
    /// A document (manifest, statement, receipt) is not in the expected format.
    #[error("{0}")]
    Format(String),
    /// The hashing thread pool could not start.
    #[error("cannot start the hashing threads")]
    ThreadPool(#[from] rayon::ThreadPoolBuildError),
    /// There is no default place for the hash cache.
    #[error("neither XDG_CACHE_HOME nor HOME is set; pass --cache-file")]
    NoCacheDir,
    /// A signature could not be made or recovered.
    #[error("signature: {0}")]
    Signature(#[from] alloy::signers::Error),
    /// A signature's bytes are malformed.
    #[error("malformed signature")]
    SignatureBytes(#[from] alloy::primitives::SignatureError),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
