//! Model manifests: prova's own format ([`prova`]: one `(path, size, sha256)` entry per file and the version hash
//! over them) and sigstore model_signing's ([`model_signing`]: digests only), and [`AnyManifest`] that reads either.
//! The formats are specified in `docs/format.md`.

mod mapping;
pub mod model_signing;
pub mod prova;
mod read_ahead;

use alloy::primitives::B256;

pub use prova::*;

use crate::error::Result;

/// A manifest in any format prova reads: its own, or model_signing's (statement or sigstore bundle).
#[derive(Debug, Clone)]
pub enum AnyManifest {
    /// prova's manifest, with sizes and version hash.
    Prova(Manifest),
    /// model_signing's, with digests only.
    ModelSigning(model_signing::ModelSigningManifest),
}

impl AnyManifest {
    /// Detects the format and parses it, checking its internal consistency (root or subject digest).
    pub fn parse(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        if value.get("format").and_then(|f| f.as_str()) == Some(MANIFEST_FORMAT) {
            Ok(Self::Prova(Manifest::from_json(text)?))
        } else {
            Ok(Self::ModelSigning(model_signing::parse(text)?))
        }
    }

    /// `(path, sha256)` of every file.
    pub fn digests(&self) -> Vec<(String, B256)> {
        match self {
            Self::Prova(m) => m.files.iter().map(|e| (e.path.clone(), e.sha256)).collect(),
            Self::ModelSigning(m) => m.files.clone(),
        }
    }

    /// The prova version hash this manifest stands for. model_signing records no sizes, so they are taken from
    /// `folder` when every file is there with the same digest; otherwise `None`.
    pub fn version_hash(&self, folder: &Manifest) -> Option<B256> {
        match self {
            Self::Prova(m) => Some(m.version_hash),
            Self::ModelSigning(m) => {
                let sizes: std::collections::HashMap<(&str, B256), u64> =
                    folder.files.iter().map(|e| ((e.path.as_str(), e.sha256), e.size)).collect();
                let entries = m
                    .files
                    .iter()
                    .map(|(path, sha256)| {
                        sizes.get(&(path.as_str(), *sha256)).map(|&size| ManifestEntry {
                            path: path.clone(),
                            size,
                            sha256: *sha256,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                version_hash(&entries)
            }
        }
    }
}
