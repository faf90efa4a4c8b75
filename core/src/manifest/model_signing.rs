//! The manifest format of sigstore's model_signing (v1.x): an in-toto statement whose predicate lists one
//! `{name, algorithm: "sha256", digest}` resource per file, and whose subject digest is SHA-256 over the raw
//! resource digests in path order. prova reads it (bare, or inside a sigstore bundle's DSSE envelope) and
//! writes it, so manifests move both ways between the tools.
//!
//! model_signing records no file sizes, so a statement alone gives `(path, sha256)` pairs; the sizes (and with
//! them prova's version hash) come from the folder being checked.

use alloy::primitives::B256;
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::prova::{Manifest, check_relative_path};
use crate::error::{Error, Result};

/// in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// model_signing's predicate type.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";

/// A model_signing manifest: per-file digests, without sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSigningManifest {
    /// The subject name (model_signing uses the folder name).
    pub model_name: String,
    /// `(path, sha256)` in model_signing's order.
    pub files: Vec<(String, B256)>,
    /// The ignore list recorded in the serialization section.
    pub ignore: Vec<String>,
    /// The subject digest (SHA-256 over the file digests in order).
    pub subject_digest: B256,
}

/// model_signing's order: by path components (`a/b` before `a.b`, unlike a plain string sort).
fn order(files: &mut [(String, B256)]) {
    files.sort_by(|a, b| a.0.split('/').cmp(b.0.split('/')));
}

/// SHA-256 over the raw digests, in order.
fn subject_digest(files: &[(String, B256)]) -> B256 {
    let mut hasher = Sha256::new();
    for (_, digest) in files {
        hasher.update(digest.as_slice());
    }
    B256::from_slice(&hasher.finalize())
}

/// The model_signing in-toto statement of a prova manifest (unsigned; sign it with sigstore tooling).
pub fn to_statement(manifest: &Manifest, model_name: &str) -> Value {
    let mut files: Vec<(String, B256)> = manifest.files.iter().map(|e| (e.path.clone(), e.sha256)).collect();
    order(&mut files);
    let digest = subject_digest(&files);
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": model_name, "digest": { "sha256": hex(&digest) } }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": false,
                "ignore_paths": manifest.ignore,
            },
            "resources": files.iter().map(|(name, digest)| json!({
                "name": name,
                "algorithm": "sha256",
                "digest": hex(digest),
            })).collect::<Vec<_>>(),
        }
    })
}

fn hex(digest: &B256) -> String {
    alloy::primitives::hex::encode(digest)
}

/// Parses a model_signing statement, or a sigstore bundle (`.sig`) that carries one in its DSSE envelope.
///
/// Checks the statement and predicate types, the serialization method (only per-file `files` is supported),
/// the paths, and that the subject digest matches the resources.
pub fn parse(json: &str) -> Result<ModelSigningManifest> {
    let bad = |what: &str| Error::Format(format!("model_signing manifest: {what}"));
    let mut value: Value = serde_json::from_str(json)?;
    if let Some(payload) = value.pointer("/dsseEnvelope/payload").and_then(Value::as_str) {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(payload).map_err(|_| bad("DSSE payload is not base64"))?;
        value = serde_json::from_slice(&bytes)?;
    }
    if value["_type"] != STATEMENT_TYPE || value["predicateType"] != PREDICATE_TYPE {
        return Err(bad("not an in-toto statement with the model_signing v1.0 predicate"));
    }
    let serialization = &value["predicate"]["serialization"];
    if serialization["method"] != "files" {
        return Err(bad(&format!(
            "serialization method {} is not supported (only \"files\")",
            serialization["method"]
        )));
    }
    let subject =
        value["subject"].as_array().filter(|s| s.len() == 1).ok_or_else(|| bad("expected exactly one subject"))?;
    let model_name = subject[0]["name"].as_str().unwrap_or_default().to_owned();
    let subject_hex = subject[0]["digest"]["sha256"].as_str().ok_or_else(|| bad("subject has no sha256 digest"))?;
    let recorded = parse_hex_digest(subject_hex).ok_or_else(|| bad("subject digest is not 64 hex digits"))?;

    let resources = value["predicate"]["resources"].as_array().ok_or_else(|| bad("no resources"))?;
    let mut files = Vec::with_capacity(resources.len());
    for resource in resources {
        let name = resource["name"].as_str().ok_or_else(|| bad("resource without a name"))?;
        if resource["algorithm"] != "sha256" {
            return Err(bad(&format!("resource {name} uses {}, not sha256", resource["algorithm"])));
        }
        check_relative_path(name)?;
        let digest = resource["digest"]
            .as_str()
            .and_then(parse_hex_digest)
            .ok_or_else(|| bad(&format!("bad digest for {name}")))?;
        files.push((name.to_owned(), digest));
    }
    if files.is_empty() {
        return Err(bad("no resources"));
    }
    let computed = subject_digest(&files);
    if computed != recorded {
        return Err(bad(&format!("subject digest {recorded} does not match the resources, which give {computed}")));
    }
    let ignore = serialization["ignore_paths"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(ModelSigningManifest { model_name, files, ignore, subject_digest: recorded })
}

fn parse_hex_digest(text: &str) -> Option<B256> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    (text.len() == 64).then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::prova::{HashOptions, hash_dir};
    use std::path::Path;

    fn fixture_dir() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/model-signing"))
    }

    /// The fixture was made by the real model_signing 1.1.1 (scripts/model-signing-fixture.py).
    #[test]
    fn reads_real_model_signing_output_and_writes_it_back() {
        let statement = std::fs::read_to_string(fixture_dir().join("statement.json")).unwrap();
        let parsed = parse(&statement).unwrap();
        let bundle = parse(&std::fs::read_to_string(fixture_dir().join("model.sig")).unwrap()).unwrap();
        assert_eq!(parsed, bundle, "bare statement and bundle agree");

        // Our own hashing of the same folder gives model_signing's per-file digests.
        let manifest = hash_dir(&fixture_dir().join("model"), &HashOptions::default()).unwrap();
        let mut ours: Vec<(String, B256)> = manifest.files.iter().map(|e| (e.path.clone(), e.sha256)).collect();
        order(&mut ours);
        assert_eq!(ours, parsed.files);

        // Writing it back gives model_signing's resources and subject digest.
        let written = to_statement(&manifest, &parsed.model_name);
        let original: Value = serde_json::from_str(&statement).unwrap();
        assert_eq!(written["subject"], original["subject"]);
        assert_eq!(written["predicate"]["resources"], original["predicate"]["resources"]);
        assert_eq!(parse(&written.to_string()).unwrap().files, parsed.files);
    }

    #[test]
    fn refuses_tampered_or_foreign_statements() {
        let statement = std::fs::read_to_string(fixture_dir().join("statement.json")).unwrap();
        let mut value: Value = serde_json::from_str(&statement).unwrap();
        value["predicate"]["resources"][0]["digest"] = json!("00".repeat(32));
        assert!(parse(&value.to_string()).unwrap_err().to_string().contains("does not match"));
        let mut shards: Value = serde_json::from_str(&statement).unwrap();
        shards["predicate"]["serialization"]["method"] = json!("shards");
        assert!(parse(&shards.to_string()).is_err());
        let mut escape: Value = serde_json::from_str(&statement).unwrap();
        escape["predicate"]["resources"][0]["name"] = json!("../etc/passwd");
        assert!(parse(&escape.to_string()).is_err());
        assert!(parse("{}").is_err());
    }
}
