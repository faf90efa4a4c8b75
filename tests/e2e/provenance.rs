//! Model provenance in depth, end to end on anvil and Postgres: a base version and a fine-tune, revocation,
//! a compromised key, lineage, file-level matching (API and chain-only), and single-file proofs checked by the
//! contract and by @openzeppelin/merkle-tree.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use alloy::primitives::B256;
use alloy::providers::Provider;
use prova_attestor::admin;
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_core::bindings::IProvenanceRegistry;
use prova_core::manifest::{HashOptions, hash_dir};
use prova_e2e::{Stack, copy_dir, stderr, stdout, write_model};
use serde_json::{Value, json};

fn request(version_hash: B256, parent: B256) -> PublishRequest {
    PublishRequest { parent, ..PublishRequest::new(version_hash, "acme/llm-7b") }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn lineage_revocation_compromise_and_file_matching() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let lab = a_publisher_with_an_attestor_key_indexed_and_served(&stack).await?;

    let v1 = the_base_is_published_with_the_library_and_its_manifest_uploaded(&stack, &lab).await?;
    // Let chain time pass, so v1 is clearly older than the compromise time set below.
    let _: Value = stack.admin.raw_request("evm_increaseTime".into(), [60u64]).await?;
    let (v2, compromised_since) = a_fine_tune_is_published_with_the_cli(&stack, &lab, v1).await?;
    the_admin_revokes_the_base_and_flags_the_key_compromised(&stack, &lab, v1, compromised_since);
    a_compromised_key_can_sign_nothing_new(&stack, &lab).await?;

    wait_indexed(&stack).await?;
    let versions = Versions { v1, v2, compromised_since };
    the_api_reports_the_revocation_and_the_compromise(&lab, &versions).await?;
    lineage_is_served_both_ways(&lab, &versions).await?;
    matching_finds_an_exact_copy_and_a_one_file_change_but_not_an_unrelated_folder(&stack, &lab, &versions).await?;
    the_cli_verifies_through_the_api_and_from_a_manifest_file_alone(&stack, &lab, &versions)?;
    a_file_proof_is_checked_by_the_contract_and_by_openzeppelin(&stack, &lab, &versions).await?;
    Ok(())
}

/// The publisher's side of the test, and the API.
struct Lab {
    /// The publisher admin's key, as hex.
    admin_hex: String,
    /// The publisher (its admin's address).
    publisher: alloy::primitives::Address,
    /// Its attestor key.
    attestor: alloy::signers::local::PrivateKeySigner,
    /// The API's base URL.
    api: String,
    http: reqwest::Client,
}

/// The two versions, and when the attestor key was flagged compromised (v2's block time).
struct Versions {
    v1: B256,
    v2: B256,
    compromised_since: u64,
}

/// The indexer follows the chain in the background; the API serves what it writes. A publisher with an attestor
/// key is registered.
async fn a_publisher_with_an_attestor_key_indexed_and_served(stack: &Stack) -> anyhow::Result<Lab> {
    let admin_hex = stack.admin_key.to_bytes().to_string();
    let publisher = stack.admin_key.address();
    let attestor = stack.anvil_key(2);

    let api = stack.index_and_serve().await?;
    let http = reqwest::Client::new();

    admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
    admin::add_own_attestor(&stack.admin, stack.registry, publisher, &attestor).await?;
    Ok(Lab { admin_hex, publisher, attestor, api, http })
}

/// v1: the base model (folder `base`), published through the library and its manifest uploaded with the CLI.
async fn the_base_is_published_with_the_library_and_its_manifest_uploaded(
    stack: &Stack,
    lab: &Lab,
) -> anyhow::Result<B256> {
    let base = stack.dir.path().join("base");
    write_model(&base, 1);
    let v1 = hash_dir(&base, &HashOptions::default())?.version_hash;
    publish_model_version(&stack.admin, stack.registry, &lab.attestor, &request(v1, B256::ZERO)).await?;
    let out = stack.prova(&["model", "upload-manifest", s(&base), "--api", &lab.api], &[]);
    assert!(out.status.success(), "upload-manifest: {}", stderr(&out));
    Ok(v1)
}

/// v2: a fine-tune (folder `tuned`: one file changed, one added), published with the CLI, which uploads its
/// manifest. Returns v2 and its block time.
async fn a_fine_tune_is_published_with_the_cli(stack: &Stack, lab: &Lab, v1: B256) -> anyhow::Result<(B256, u64)> {
    let dir = stack.dir.path();
    let tuned = dir.join("tuned");
    copy_dir(&dir.join("base"), &tuned);
    std::fs::write(tuned.join("weights/model-00001.safetensors"), vec![9u8; 200_000])?;
    std::fs::write(tuned.join("adapter.safetensors"), vec![5u8; 1000])?;
    let attestor_hex = lab.attestor.to_bytes().to_string();
    let out = stack.prova(
        &[
            "model",
            "publish",
            s(&tuned),
            "--model",
            "acme/llm-7b-chat",
            "--parent",
            &v1.to_string(),
            "--api",
            &lab.api,
            "--json",
        ],
        &[("PROVA_PRIVATE_KEY", &attestor_hex)],
    );
    assert!(out.status.success(), "publish v2: {}", stderr(&out));
    let published: Value = serde_json::from_str(&stdout(&out))?;
    let v2: B256 = published["version_hash"].as_str().unwrap().parse()?;
    let v2_block = stack.admin.get_block_by_number(published["block_number"].as_u64().unwrap().into()).await?.unwrap();
    Ok((v2, v2_block.header.timestamp))
}

/// The admin revokes v1 and flags the attestor key compromised from v2's block time on.
fn the_admin_revokes_the_base_and_flags_the_key_compromised(
    stack: &Stack,
    lab: &Lab,
    v1: B256,
    compromised_since: u64,
) {
    let admin_hex = &lab.admin_hex;
    let out = stack.prova(
        &["model", "revoke", &v1.to_string(), "--reason", "weights leaked"],
        &[("PROVA_PRIVATE_KEY", admin_hex)],
    );
    assert!(out.status.success(), "revoke: {}", stderr(&out));
    let out = stack.prova(
        &[
            "publisher",
            "compromise-attestor",
            &lab.attestor.address().to_string(),
            "--since",
            &compromised_since.to_string(),
        ],
        &[("PROVA_PRIVATE_KEY", admin_hex)],
    );
    assert!(out.status.success(), "compromise: {}", stderr(&out));
}

/// A revoked (compromised) key can sign nothing new.
async fn a_compromised_key_can_sign_nothing_new(stack: &Stack, lab: &Lab) -> anyhow::Result<()> {
    let third = stack.dir.path().join("third");
    write_model(&third, 3);
    let refused = publish_model_version(
        &stack.admin,
        stack.registry,
        &lab.attestor,
        &request(hash_dir(&third, &HashOptions::default())?.version_hash, B256::ZERO),
    )
    .await;
    assert!(refused.unwrap_err().to_string().contains("revoked"));
    Ok(())
}

/// Revocation and compromise, as the API reports them.
async fn the_api_reports_the_revocation_and_the_compromise(lab: &Lab, versions: &Versions) -> anyhow::Result<()> {
    let (api, http, publisher) = (&lab.api, &lab.http, lab.publisher);
    let Versions { v1, v2, compromised_since } = versions;
    let got_v1: Value = http.get(format!("{api}/v1/model-versions/{v1}")).send().await?.json().await?;
    let got_v1 = &got_v1["claims"][0];
    assert_eq!(got_v1["revocation"]["reason"], "weights leaked");
    assert!(got_v1["revocation"]["chain"]["tx_hash"].is_string());
    assert_eq!(got_v1["signed_by_compromised_key"], false, "signed before the compromise time");
    let got_v2: Value = http.get(format!("{api}/v1/model-versions/{v2}")).send().await?.json().await?;
    let got_v2 = &got_v2["claims"][0];
    assert_eq!(got_v2["parent"], v1.to_string());
    assert_eq!(got_v2["signed_by_compromised_key"], true, "signed at the compromise time");
    assert_eq!(got_v2["revocation"], Value::Null);
    let publisher_view: Value = http.get(format!("{api}/v1/publishers/{publisher}")).send().await?.json().await?;
    assert_eq!(publisher_view["attestor_keys"][0]["status"], "compromised");
    assert_eq!(publisher_view["attestor_keys"][0]["compromised_since"], *compromised_since);
    Ok(())
}

/// Lineage both ways.
async fn lineage_is_served_both_ways(lab: &Lab, versions: &Versions) -> anyhow::Result<()> {
    let (api, http) = (&lab.api, &lab.http);
    let Versions { v1, v2, .. } = versions;
    let lineage_v2: Value = http.get(format!("{api}/v1/model-versions/{v2}/lineage")).send().await?.json().await?;
    assert_eq!(lineage_v2["ancestors"][0]["version_hash"], v1.to_string());
    assert_eq!(lineage_v2["ancestors"].as_array().unwrap().len(), 1);
    let lineage_v1: Value = http.get(format!("{api}/v1/model-versions/{v1}/lineage")).send().await?.json().await?;
    assert_eq!(lineage_v1["descendants"][0]["version_hash"], v2.to_string());
    assert_eq!(lineage_v1["ancestors"], json!([]));
    Ok(())
}

/// Matching through the API: an exact copy (folder `copy`), a one-file change (`one-change`), an unrelated folder.
async fn matching_finds_an_exact_copy_and_a_one_file_change_but_not_an_unrelated_folder(
    stack: &Stack,
    lab: &Lab,
    versions: &Versions,
) -> anyhow::Result<()> {
    let (dir, api, http, v2) = (stack.dir.path(), &lab.api, &lab.http, versions.v2);
    let tuned = dir.join("tuned");
    let exact_copy = dir.join("copy");
    copy_dir(&tuned, &exact_copy);
    let one_change = dir.join("one-change");
    copy_dir(&tuned, &one_change);
    std::fs::write(one_change.join("config.json"), b"{\"edited\":true}")?;
    let unrelated = dir.join("unrelated");
    std::fs::create_dir_all(&unrelated)?;
    std::fs::write(unrelated.join("notes.txt"), b"nothing to do with it")?;
    let files =
        |p: &Path| -> anyhow::Result<Value> { Ok(json!({ "files": hash_dir(p, &HashOptions::default())?.files })) };
    let exact: Value =
        http.post(format!("{api}/v1/model-versions/match")).json(&files(&exact_copy)?).send().await?.json().await?;
    assert_eq!(exact["exact"], true);
    assert_eq!(exact["best"]["version_hash"], v2.to_string());
    let changed: Value =
        http.post(format!("{api}/v1/model-versions/match")).json(&files(&one_change)?).send().await?.json().await?;
    assert_eq!(changed["exact"], false);
    assert_eq!(changed["best"]["version_hash"], v2.to_string());
    assert_eq!(changed["best"]["diff"]["changed"], json!(["config.json"]));
    assert_eq!(changed["best"]["diff"]["added"], json!([]));
    assert_eq!(changed["best"]["diff"]["removed"], json!([]));
    let none: Value =
        http.post(format!("{api}/v1/model-versions/match")).json(&files(&unrelated)?).send().await?.json().await?;
    assert_eq!(none["best"], Value::Null);
    assert_eq!(none["candidates"], json!([]));
    Ok(())
}

/// The auditor's CLI: through the API (checked on-chain), and from a manifest file alone; the exact copy of the
/// compromised-key version and the revoked base are not verified.
fn the_cli_verifies_through_the_api_and_from_a_manifest_file_alone(
    stack: &Stack,
    lab: &Lab,
    versions: &Versions,
) -> anyhow::Result<()> {
    let (dir, api, v2) = (stack.dir.path(), &lab.api, versions.v2);
    let (base, tuned, exact_copy, one_change) =
        (dir.join("base"), dir.join("tuned"), dir.join("copy"), dir.join("one-change"));
    let out = stack.prova(&["verify", "model", s(&one_change), "--api", api], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("closest registered version {v2}")), "{text}");
    assert!(text.contains("changed  config.json"), "{text}");
    let manifest_file = dir.join("v2.json");
    let out = stack.prova(&["model", "hash", s(&tuned), "--out", s(&manifest_file), "--quiet"], &[]);
    assert!(out.status.success());
    let out = stack.prova(&["verify", "model", s(&one_change), "--manifest", s(&manifest_file), "--json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let verdict: Value = serde_json::from_str(&stdout(&out))?;
    assert_eq!(verdict["closest"]["verdict"]["version_hash"], v2.to_string());
    assert_eq!(verdict["closest"]["diff"]["changed"], json!(["config.json"]));
    assert_eq!(verdict["closest"]["diff"]["unchanged"], 3);
    // A model_signing statement of the exact folder works as a manifest too.
    let statement = dir.join("statement.json");
    let out =
        stack.prova(&["model", "hash", s(&tuned), "--format", "model-signing", "--out", s(&statement), "--quiet"], &[]);
    assert!(out.status.success());
    // The exact copy of v2 is registered but was signed by a compromised key: not verified, with that reason.
    let out = stack.prova(&["verify", "model", s(&exact_copy), "--manifest", s(&statement)], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("after the key was compromised"), "{}", stdout(&out));
    // The revoked base is not verified either.
    let out = stack.prova(&["verify", "model", s(&base)], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("revoked"), "{}", stdout(&out));
    Ok(())
}

/// One file's membership proof: checked by the contract and by @openzeppelin/merkle-tree.
async fn a_file_proof_is_checked_by_the_contract_and_by_openzeppelin(
    stack: &Stack,
    lab: &Lab,
    versions: &Versions,
) -> anyhow::Result<()> {
    let publisher = lab.publisher;
    let (base, v1) = (stack.dir.path().join("base"), versions.v1);
    let out = stack.prova(&["model", "prove-file", "config.json", "--dir", s(&base), "--quiet"], &[]);
    assert!(out.status.success(), "prove-file: {}", stderr(&out));
    let proof: Value = serde_json::from_str(&stdout(&out))?;
    assert_eq!(proof["version_hash"], v1.to_string());
    let registry = IProvenanceRegistry::new(stack.registry, &stack.admin);
    let siblings: Vec<B256> = serde_json::from_value(proof["proof"].clone())?;
    let on_chain = registry
        .verifyFile(
            publisher,
            v1,
            "config.json".into(),
            proof["size"].as_u64().unwrap(),
            proof["sha256"].as_str().unwrap().parse()?,
            siblings.clone(),
        )
        .call()
        .await?;
    assert!(on_chain, "verifyFile accepts the proof");
    let forged = registry
        .verifyFile(publisher, v1, "config.json".into(), 999, proof["sha256"].as_str().unwrap().parse()?, siblings)
        .call()
        .await?;
    assert!(!forged, "verifyFile refuses a wrong size");
    assert!(js_verifies(&stdout(&out))?, "@openzeppelin/merkle-tree accepts the proof");
    let mut tampered = proof.clone();
    tampered["sha256"] = json!(B256::repeat_byte(1));
    assert!(!js_verifies(&tampered.to_string())?, "@openzeppelin/merkle-tree refuses a wrong digest");
    Ok(())
}

/// Waits until the indexer has caught up with the chain head.
async fn wait_indexed(stack: &Stack) -> anyhow::Result<()> {
    let head = stack.admin.get_block_number().await? as i64;
    for _ in 0..100 {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT next_block FROM indexer_cursors").fetch_optional(&stack.pool).await?;
        if next.is_some_and(|n| n > head) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("indexer did not reach block {head}")
}

/// Runs scripts/verify-file-proof.mjs on a proof document.
fn js_verifies(proof: &str) -> anyhow::Result<bool> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut child = Command::new("node")
        .arg("scripts/verify-file-proof.mjs")
        .current_dir(workspace)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child.stdin.take().unwrap().write_all(proof.as_bytes())?;
    let out = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "true")
}
