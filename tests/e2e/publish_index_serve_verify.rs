//! Publishing, indexing, serving and verifying end to end on a real anvil and a real Postgres: a model folder is published with the CLI
//! (keystore attestor, separate relayer), indexed, served over HTTP, and verified against the chain.

use std::path::PathBuf;

use alloy::primitives::{Address, B256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::{Block, Log, TransactionReceipt};
use alloy::sol_types::SolEvent;
use prova_core::bindings::IProvenanceRegistry;
use prova_e2e::{Stack, copy_dir, stderr, stdout, write_model};
use prova_indexer::{Indexer, IndexerConfig};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread")]
async fn publish_index_serve_verify() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let lab = the_lab_registers_with_an_encrypted_attestor_keystore(&stack)?;
    let published = the_attestor_key_signs_and_a_separate_relayer_sends(&stack, &lab)?;
    model_hash_prints_the_same_version_hash(&stack, &published);
    let on_chain = the_receipt_shows_the_relayer_sent_what_the_attestor_signed(&stack, &lab, &published).await?;
    indexing_twice_is_a_no_op_and_the_cli_indexer_agrees(&stack).await?;

    let api = stack.serve_api().await?;
    let http = reqwest::Client::new();
    every_field_over_http_matches_the_receipt(&stack, &api, &http, &lab, &published, &on_chain).await?;
    the_publisher_is_served_with_its_key(&stack, &api, &http, &lab).await?;
    bad_input_gets_json_errors_and_the_status_is_at_the_head(&stack, &api, &http).await?;
    the_folder_verifies_against_the_chain_and_a_one_byte_change_does_not(&stack, &published)?;
    a_wrong_chain_a_dead_rpc_or_no_contract_is_an_error_not_a_verdict(&stack, &published);
    publishing_again_or_with_a_wrong_password_is_refused(&stack, &lab, &published);
    Ok(())
}

/// The lab's keys: the relayer's, and the attestor's keystore.
struct Lab {
    relayer_hex: String,
    attestor: Address,
    keystore: PathBuf,
}

/// The published model folder and what `prova model publish --json` said about it.
struct Published {
    model: PathBuf,
    version_hash: B256,
    tx_hash: B256,
}

/// The transaction, its `ModelVersionRegistered` log and its block.
struct OnChain {
    receipt: TransactionReceipt,
    log: Log,
    block: Block,
}

/// The lab registers itself and creates an encrypted attestor keystore, and adds the key.
fn the_lab_registers_with_an_encrypted_attestor_keystore(stack: &Stack) -> anyhow::Result<Lab> {
    let admin_hex = stack.admin_key.to_bytes().to_string();
    let relayer_hex = stack.anvil_key(1).to_bytes().to_string();
    let dir = stack.dir.path();

    let out = stack.prova(
        &["publisher", "register", "--name", "Acme AI", "--metadata-uri", "https://acme.example/lab.json"],
        &[("PROVA_PRIVATE_KEY", &admin_hex)],
    );
    assert!(out.status.success(), "register: {}", stderr(&out));
    let keys_dir = dir.join("keys");
    let out = stack.prova(
        &["key", "new", "--dir", keys_dir.to_str().unwrap(), "--name", "attestor.json"],
        &[("PROVA_KEYSTORE_PASSWORD", PASSWORD)],
    );
    assert!(out.status.success(), "key new: {}", stderr(&out));
    let attestor: Address = field(&stdout(&out), "address").parse()?;
    let keystore = keys_dir.join("attestor.json");
    assert_eq!(field(&stdout(&out), "keystore"), keystore.display().to_string());
    assert!(!std::fs::read_to_string(&keystore)?.contains(&admin_hex[2..]), "keystore is encrypted");

    // The key proves possession: its holder signs its consent, the admin sends it.
    let publisher = stack.admin_key.address().to_string();
    let authorization = dir.join("authorization.json");
    let out = stack.prova(
        &[
            "key",
            "authorize",
            "--publisher",
            &publisher,
            "--keystore",
            keystore.to_str().unwrap(),
            "--out",
            authorization.to_str().unwrap(),
        ],
        &[("PROVA_KEYSTORE_PASSWORD", PASSWORD)],
    );
    assert!(out.status.success(), "key authorize: {}", stderr(&out));
    let out = stack.prova(
        &["publisher", "add-attestor", "--authorization", authorization.to_str().unwrap()],
        &[("PROVA_PRIVATE_KEY", &admin_hex)],
    );
    assert!(out.status.success(), "add-attestor: {}", stderr(&out));
    assert!(stdout(&out).contains(&format!("attestor      {attestor} (added)")), "{}", stdout(&out));
    Ok(Lab { relayer_hex, attestor, keystore })
}

/// The attestor key signs; a separate relayer account sends and pays; no secret is printed.
fn the_attestor_key_signs_and_a_separate_relayer_sends(stack: &Stack, lab: &Lab) -> anyhow::Result<Published> {
    let (relayer_hex, keystore) = (&lab.relayer_hex, &lab.keystore);
    let model = stack.dir.path().join("model");
    write_model(&model, 1);
    let out = stack.prova(
        &[
            "model",
            "publish",
            model.to_str().unwrap(),
            "--model",
            "acme/llm-7b",
            "--metadata-uri",
            "ipfs://bafy-model-card",
            "--keystore",
            keystore.to_str().unwrap(),
            "--json",
        ],
        &[("PROVA_KEYSTORE_PASSWORD", PASSWORD), ("PROVA_RELAYER_PRIVATE_KEY", relayer_hex)],
    );
    assert!(out.status.success(), "publish: {}", stderr(&out));
    let all_output = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all_output.contains(&relayer_hex[2..]) && !all_output.contains(PASSWORD), "no secret in output");
    let published: Value = serde_json::from_str(&stdout(&out))?;
    let version_hash: B256 = published["version_hash"].as_str().unwrap().parse()?;
    let tx_hash: B256 = published["tx_hash"].as_str().unwrap().parse()?;
    Ok(Published { model, version_hash, tx_hash })
}

/// `prova model hash` prints the same version hash.
fn model_hash_prints_the_same_version_hash(stack: &Stack, published: &Published) {
    let out = stack.prova(&["model", "hash", published.model.to_str().unwrap()], &[]);
    assert_eq!(field(&stdout(&out), "version hash"), published.version_hash.to_string());
}

/// The transaction receipt is the ground truth for every field the API returns: sent by the relayer, its event
/// names the version and the attestor.
async fn the_receipt_shows_the_relayer_sent_what_the_attestor_signed(
    stack: &Stack,
    lab: &Lab,
    published: &Published,
) -> anyhow::Result<OnChain> {
    let receipt = stack.admin.get_transaction_receipt(published.tx_hash).await?.expect("receipt");
    assert!(receipt.status());
    let relayer = stack.anvil_key(1).address();
    assert_eq!(receipt.from, relayer, "relayed by the relayer, not the attestor");
    let log = receipt
        .inner
        .logs()
        .iter()
        .find(|l| l.topic0() == Some(&IProvenanceRegistry::ModelVersionRegistered::SIGNATURE_HASH))
        .expect("ModelVersionRegistered log")
        .clone();
    let event = IProvenanceRegistry::ModelVersionRegistered::decode_log(&log.inner)?.data;
    assert_eq!(event.versionHash, published.version_hash);
    assert_eq!(event.attestor, lab.attestor);
    let block = stack.admin.get_block_by_number(receipt.block_number.unwrap().into()).await?.unwrap();
    Ok(OnChain { receipt, log, block })
}

/// Index twice: the second pass is a no-op; the CLI indexer on the same database agrees.
async fn indexing_twice_is_a_no_op_and_the_cli_indexer_agrees(stack: &Stack) -> anyhow::Result<()> {
    let config = IndexerConfig { start_block: stack.deploy_block, ..IndexerConfig::new(stack.registry) };
    let indexer =
        Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
    let first = indexer.sync_to_head().await?;
    assert!(first.events >= 3, "publisher, key and version events: {first:?}");
    let rows_before = count_rows(stack).await?;
    let second = indexer.sync_to_head().await?;
    assert_eq!(second.events, 0);
    assert_eq!(count_rows(stack).await?, rows_before);
    // The CLI indexer on the same database agrees that there is nothing left to do.
    let out = stack.prova(&["index", "--once", "--database-url", &stack.database_url], &[]);
    assert!(out.status.success(), "index --once: {}", stderr(&out));
    assert_eq!(count_rows(stack).await?, rows_before);
    Ok(())
}

/// Every field over HTTP matches the receipt.
async fn every_field_over_http_matches_the_receipt(
    stack: &Stack,
    api: &str,
    http: &reqwest::Client,
    lab: &Lab,
    published: &Published,
    on_chain: &OnChain,
) -> anyhow::Result<()> {
    let (version_hash, tx_hash, attestor) = (published.version_hash, published.tx_hash, lab.attestor);
    let OnChain { receipt, log, block } = on_chain;
    let claims: Value = http.get(format!("{api}/v1/model-versions/{version_hash}")).send().await?.json().await?;
    assert_eq!(claims["claims"].as_array().map(Vec::len), Some(1), "one publisher claims it: {claims}");
    let got = &claims["claims"][0];
    assert_eq!(got["version_hash"], version_hash.to_string());
    assert_eq!(got["model_id"], keccak256("acme/llm-7b").to_string());
    assert_eq!(got["model_name"], "acme/llm-7b", "the name the lab gave, from the event");
    assert_eq!(got["parent"], Value::Null);
    assert_eq!(got["publisher"], format!("{:#x}", stack.admin_key.address()));
    assert_eq!(got["publisher_name"], "Acme AI");
    assert_eq!(got["attestor"], format!("{attestor:#x}"));
    assert_eq!(got["metadata_uri"], "ipfs://bafy-model-card");
    assert_eq!(got["metadata_hash"], Value::Null);
    assert_eq!(got["revocation"], Value::Null);
    assert_eq!(got["signed_by_compromised_key"], false);
    let chain = &got["chain"];
    assert_eq!(chain["chain_id"], stack.chain_id);
    assert_eq!(chain["contract"], format!("{:#x}", stack.registry));
    assert_eq!(chain["block_number"], receipt.block_number.unwrap());
    assert_eq!(chain["block_hash"], receipt.block_hash.unwrap().to_string());
    assert_eq!(chain["tx_hash"], tx_hash.to_string());
    assert_eq!(chain["log_index"], log.log_index.unwrap());
    assert!(chain["confirmations"].as_u64().unwrap() >= 1);
    let registered_at = chrono_seconds(got["registered_at"].as_str().unwrap());
    assert_eq!(registered_at, block.header.timestamp as i64);
    Ok(())
}

/// The publisher, with its key.
async fn the_publisher_is_served_with_its_key(
    stack: &Stack,
    api: &str,
    http: &reqwest::Client,
    lab: &Lab,
) -> anyhow::Result<()> {
    let attestor = lab.attestor;
    let publisher: Value =
        http.get(format!("{api}/v1/publishers/{}", stack.admin_key.address())).send().await?.json().await?;
    assert_eq!(publisher["name"], "Acme AI");
    assert_eq!(publisher["admin"], format!("{:#x}", stack.admin_key.address()));
    assert_eq!(publisher["model_versions"], 1);
    assert_eq!(publisher["attestor_keys"][0]["key"], format!("{attestor:#x}"));
    assert_eq!(publisher["attestor_keys"][0]["status"], "active");
    Ok(())
}

/// Bad input gets JSON errors with the right status; health is ok and the status is indexed to the head.
async fn bad_input_gets_json_errors_and_the_status_is_at_the_head(
    stack: &Stack,
    api: &str,
    http: &reqwest::Client,
) -> anyhow::Result<()> {
    let bad = http.get(format!("{api}/v1/model-versions/0x1234")).send().await?;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await?["error"]["code"], "invalid_hash");
    let unknown = http.get(format!("{api}/v1/model-versions/{}", B256::repeat_byte(7))).send().await?;
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await?["error"]["code"], "not_found");
    let bad_addr = http.get(format!("{api}/v1/publishers/0xnothex")).send().await?;
    assert_eq!(bad_addr.status(), 400);
    let health: Value = http.get(format!("{api}/healthz")).send().await?.json().await?;
    assert_eq!(health["status"], "ok");
    let status: Value = http.get(format!("{api}/v1/status")).send().await?.json().await?;
    let head = stack.admin.get_block_number().await?;
    assert_eq!(status["chains"][0]["indexed_block"], head);
    assert_eq!(status["chains"][0]["head_block"], head);
    assert_eq!(status["chains"][0]["lag_blocks"], 0);
    Ok(())
}

/// The auditor: the folder verifies against the chain alone; a one-byte change does not.
fn the_folder_verifies_against_the_chain_and_a_one_byte_change_does_not(
    stack: &Stack,
    published: &Published,
) -> anyhow::Result<()> {
    let model = &published.model;
    let out = stack.prova(&["verify", "model", model.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "verify: {}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("VERIFIED"));
    assert!(
        stdout(&out).contains(&format!("model       acme/llm-7b (id {}", keccak256("acme/llm-7b"))),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("Acme AI"));
    let tampered = stack.dir.path().join("tampered");
    copy_dir(model, &tampered);
    let weights = tampered.join("weights/model-00001.safetensors");
    let mut bytes = std::fs::read(&weights)?;
    bytes[123_456] ^= 1;
    std::fs::write(&weights, bytes)?;
    let out = stack.prova(&["verify", "model", tampered.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1), "tampered copy must fail: {}", stdout(&out));
    assert!(stdout(&out).contains("NOT VERIFIED"));
    assert!(stdout(&out).contains("is not registered"));
    Ok(())
}

/// Wrong chain and dead RPC (and a registry address with no contract) are errors (exit 2), not verdicts.
fn a_wrong_chain_a_dead_rpc_or_no_contract_is_an_error_not_a_verdict(stack: &Stack, published: &Published) {
    let model = &published.model;
    let out = stack.prova(&["verify", "model", model.to_str().unwrap(), "--chain-id", "1"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("wrong chain"), "{}", stderr(&out));
    let out = stack.prova(&["verify", "model", model.to_str().unwrap(), "--rpc", "http://127.0.0.1:1"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot reach the RPC endpoint"), "{}", stderr(&out));
    let out = stack.prova(
        &["verify", "model", model.to_str().unwrap(), "--registry", &format!("{:#x}", Address::repeat_byte(9))],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no contract at"), "{}", stderr(&out));
}

/// Publishing the same folder again is refused before anything is sent; a wrong keystore password is a clear error.
fn publishing_again_or_with_a_wrong_password_is_refused(stack: &Stack, lab: &Lab, published: &Published) {
    let (model, keystore, relayer_hex) = (&published.model, &lab.keystore, &lab.relayer_hex);
    let out = stack.prova(
        &[
            "model",
            "publish",
            model.to_str().unwrap(),
            "--model",
            "acme/llm-7b",
            "--keystore",
            keystore.to_str().unwrap(),
        ],
        &[("PROVA_KEYSTORE_PASSWORD", PASSWORD), ("PROVA_RELAYER_PRIVATE_KEY", relayer_hex)],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already claims version"), "{}", stderr(&out));
    // A wrong keystore password is a clear error.
    let out = stack.prova(
        &["model", "publish", model.to_str().unwrap(), "--model", "x", "--keystore", keystore.to_str().unwrap()],
        &[("PROVA_KEYSTORE_PASSWORD", "wrong")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("wrong password"), "{}", stderr(&out));
}

/// The value after `label` on a `label  value` line of the CLI's output.
fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(label).map(|rest| rest.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{text}"))
}

async fn count_rows(stack: &Stack) -> anyhow::Result<i64> {
    let mut total = 0;
    for table in prova_indexer::events::all_tables() {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&stack.pool).await?;
        total += n;
    }
    Ok(total)
}

fn chrono_seconds(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339).expect("RFC 3339 time").timestamp()
}
