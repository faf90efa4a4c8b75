//! Output attestation end to end on anvil and Postgres: ingest 10,000 samples, anchor them in batches while the
//! publisher is killed with SIGKILL and restarted, index, upload leaves, look outputs up by hash, verify a receipt
//! with the CLI and with the contract view, and scan a dataset with 100 planted matches among 100,000 records.

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{B256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use prova_attestor::admin;
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_core::bindings::IProvenanceRegistry;
use prova_core::outputs::Receipt;
use prova_devnet::ChildGuard;
use prova_devnet::child::{SIGKILL, SIGTERM};
use prova_e2e::{Stack, prova_bin, stderr, stdout};
use serde_json::{Value, json};

const SAMPLES: usize = 10_000;

fn request(i: usize) -> String {
    format!("Question {i}: what is the capital of country number {i}?")
}

fn response(i: usize) -> String {
    format!("The capital of country number {i} is City-{}.\nIt has {} inhabitants.", i * 7919 % 100_003, i * 31)
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_anchor_crash_receipt_and_scan() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let lab = a_lab_with_a_published_version_indexed_and_served(&stack).await?;

    ingest_stores_every_sample(&stack, &lab).await?;
    publishing_survives_a_sigkill_and_a_restart(&stack, &lab).await?;
    nothing_is_lost_or_doubled_and_each_root_is_anchored_once(&stack).await?;
    let api_receipt = an_output_is_found_through_the_api_with_a_receipt_that_checks(&lab).await?;
    let receipt = the_labs_receipt_agrees_with_the_apis(&stack, &lab, &api_receipt)?;
    the_cli_verifies_the_receipt_and_refuses_a_wrong_response(&stack);
    the_contract_view_and_the_api_verify_the_receipt(&stack, &lab, &receipt).await?;
    a_scan_finds_exactly_the_planted_outputs(&stack, &lab).await?;
    Ok(())
}

/// The lab's side of the test: its published version, its attestor key, its private store, and the API.
struct Lab {
    version: B256,
    /// The attestor key, as hex.
    attestor_hex: String,
    /// The attestor's private store.
    db: String,
    /// The API's base URL.
    api: String,
}

/// A publisher with an attestor key publishes a version; the indexer follows the chain and the API serves it.
async fn a_lab_with_a_published_version_indexed_and_served(stack: &Stack) -> anyhow::Result<Lab> {
    let publisher = stack.admin_key.address();
    let attestor = stack.anvil_key(3);
    let attestor_hex = attestor.to_bytes().to_string();
    let db = stack.attestor_database_url.clone();

    admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
    admin::add_own_attestor(&stack.admin, stack.registry, publisher, &attestor).await?;
    let version = B256::repeat_byte(0x42);
    let req = PublishRequest { commit: false, ..PublishRequest::new(version, "acme/llm") };
    publish_model_version(&stack.admin, stack.registry, &attestor, &req).await?;

    let api = stack.index_and_serve().await?;
    Ok(Lab { version, attestor_hex, db, api })
}

/// Ingest 10,000 samples from JSONL: all stored.
async fn ingest_stores_every_sample(stack: &Stack, lab: &Lab) -> anyhow::Result<()> {
    let (dir, version, db) = (stack.dir.path(), lab.version, &lab.db);
    let input = dir.join("samples.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input)?);
    for i in 0..SAMPLES {
        let record = json!({ "model_version": version, "request": request(i), "response": response(i), "timestamp": 1_700_000_000 + i as u64 });
        writeln!(file, "{record}")?;
    }
    file.flush()?;
    drop(file);
    let out = stack.prova(&["outputs", "ingest", input.to_str().unwrap(), "--database-url", db, "--json"], &[]);
    assert!(out.status.success(), "ingest: {}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!((summary["read"].as_u64(), summary["stored"].as_u64()), (Some(SAMPLES as u64), Some(SAMPLES as u64)));
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM attestor_samples").fetch_one(&stack.attestor_pool).await?;
    assert_eq!(stored, SAMPLES as i64);
    Ok(())
}

/// Publish in batches of 1,000; kill -9 the publisher once batches start landing, then restart it.
async fn publishing_survives_a_sigkill_and_a_restart(stack: &Stack, lab: &Lab) -> anyhow::Result<()> {
    let (api, db, attestor_hex) = (&lab.api, &lab.db, &lab.attestor_hex);
    let publish_args = ["outputs", "publish", "--max-leaves", "1000", "--flush", "--api", api, "--database-url", db];
    let mut child = ChildGuard::new(
        Command::new(prova_bin())
            .args(publish_args)
            .env("PROVA_RPC_URL", &stack.rpc_url)
            .env("PROVA_REGISTRY", stack.registry.to_string())
            .env("PROVA_PRIVATE_KEY", attestor_hex)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?,
    );
    let started = Instant::now();
    loop {
        let progressed: i64 = sqlx::query_scalar("SELECT count(*) FROM attestor_batches WHERE state <> 'sealed'")
            .fetch_one(&stack.attestor_pool)
            .await?;
        if progressed >= 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "publisher made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.signal(SIGKILL);
    child.child().wait()?;
    let confirmed_at_kill: i64 = sqlx::query_scalar("SELECT count(*) FROM attestor_batches WHERE state = 'confirmed'")
        .fetch_one(&stack.attestor_pool)
        .await?;
    assert!(confirmed_at_kill < (SAMPLES / 1000) as i64, "the kill must land before the last batch is confirmed");
    let out = Command::new(prova_bin())
        .args(publish_args)
        .arg("--once")
        .env("PROVA_RPC_URL", &stack.rpc_url)
        .env("PROVA_REGISTRY", stack.registry.to_string())
        .env("PROVA_PRIVATE_KEY", attestor_hex)
        .env("RUST_LOG", "warn")
        .output()?;
    assert!(out.status.success(), "restarted publisher: {}", stderr(&out));
    Ok(())
}

/// Nothing lost, nothing doubled: the batches tile the 10,000 samples, each root is anchored exactly once.
async fn nothing_is_lost_or_doubled_and_each_root_is_anchored_once(stack: &Stack) -> anyhow::Result<()> {
    let batches: Vec<(i64, i64, i32, Vec<u8>, String, bool)> = sqlx::query_as(
        "SELECT first_sample, last_sample, leaf_count, root, state, leaves_uploaded FROM attestor_batches ORDER BY first_sample",
    )
    .fetch_all(&stack.attestor_pool)
    .await?;
    assert_eq!(batches.len(), SAMPLES / 1000);
    assert_eq!(batches.iter().map(|b| b.2 as usize).sum::<usize>(), SAMPLES);
    for pair in batches.windows(2) {
        assert_eq!(pair[0].1 + 1, pair[1].0, "contiguous, disjoint ranges");
    }
    assert!(batches.iter().all(|b| b.4 == "confirmed" && b.5), "all confirmed and uploaded: {batches:?}");
    let logs = stack
        .admin
        .get_logs(
            &Filter::new()
                .address(stack.registry)
                .event_signature(IProvenanceRegistry::OutputsAttested::SIGNATURE_HASH)
                .from_block(0),
        )
        .await?;
    assert_eq!(logs.len(), batches.len(), "each root anchored once");
    let roots: HashSet<B256> = logs.iter().map(|l| l.topics()[1]).collect();
    assert_eq!(roots.len(), batches.len());
    Ok(())
}

/// The output the receipt steps use.
const PROBE: usize = 4321;

/// Look an output up through the API; its receipt verifies offline. Returns that receipt.
async fn an_output_is_found_through_the_api_with_a_receipt_that_checks(lab: &Lab) -> anyhow::Result<Receipt> {
    let (api, version) = (&lab.api, lab.version);
    let probe = PROBE;
    let response_hash = keccak256(response(probe));
    let found: Value = reqwest::get(format!("{api}/v1/outputs/{response_hash}")).await?.json().await?;
    let item = &found["items"][0];
    assert_eq!(item["leaf"]["request_hash"], keccak256(request(probe)).to_string());
    assert_eq!(item["model_version"]["version_hash"], version.to_string());
    let api_receipt: Receipt = serde_json::from_value(item["receipt"].clone())?;
    api_receipt.check_offline(Some(request(probe).as_bytes()), Some(response(probe).as_bytes()))?;
    Ok(api_receipt)
}

/// The lab writes the receipt (to `receipt.json`, with the request, response and a wrong response beside it); it
/// is the API's. Returns it.
fn the_labs_receipt_agrees_with_the_apis(stack: &Stack, lab: &Lab, api_receipt: &Receipt) -> anyhow::Result<Receipt> {
    let (dir, db, probe) = (stack.dir.path(), &lab.db, PROBE);
    std::fs::write(dir.join("req.txt"), request(probe))?;
    std::fs::write(dir.join("resp.txt"), response(probe))?;
    std::fs::write(dir.join("wrong.txt"), response(probe + 1))?;
    let receipt_path = dir.join("receipt.json");
    let out = stack.prova(
        &[
            "outputs",
            "receipt",
            dir.join("req.txt").to_str().unwrap(),
            dir.join("resp.txt").to_str().unwrap(),
            "--out",
            receipt_path.to_str().unwrap(),
            "--database-url",
            db,
        ],
        &[],
    );
    assert!(out.status.success(), "receipt: {}", stderr(&out));
    let receipt: Receipt = serde_json::from_str(&std::fs::read_to_string(&receipt_path)?)?;
    assert_eq!(&receipt, api_receipt, "the lab's receipt and the API's agree");
    Ok(receipt)
}

/// The CLI verifies the receipt from the chain alone, and refuses it for a response it does not cover.
fn the_cli_verifies_the_receipt_and_refuses_a_wrong_response(stack: &Stack) {
    let dir = stack.dir.path();
    let receipt_path = dir.join("receipt.json");
    let verify = |response_file: &str| {
        stack.prova(
            &[
                "verify",
                "output",
                receipt_path.to_str().unwrap(),
                "--request",
                dir.join("req.txt").to_str().unwrap(),
                "--response",
                dir.join(response_file).to_str().unwrap(),
            ],
            &[],
        )
    };
    let out = verify("resp.txt");
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("VERIFIED: model version") && text.contains("no later than"), "{text}");
    let out = verify("wrong.txt");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("the response does not match the receipt"), "{}", stdout(&out));
}

/// The contract's `verifyOutput` accepts the receipt and refuses a forged response hash; the API's
/// `/v1/outputs/verify` accepts it.
async fn the_contract_view_and_the_api_verify_the_receipt(
    stack: &Stack,
    lab: &Lab,
    receipt: &Receipt,
) -> anyhow::Result<()> {
    let (api, probe) = (&lab.api, PROBE);
    let registry = IProvenanceRegistry::new(stack.registry, &stack.admin);
    let l = &receipt.leaf;
    assert!(
        registry
            .verifyOutput(
                receipt.root,
                l.version_hash,
                l.request_hash,
                l.response_hash,
                l.timestamp,
                l.salt,
                receipt.proof.clone()
            )
            .call()
            .await?
    );
    assert!(
        !registry
            .verifyOutput(
                receipt.root,
                l.version_hash,
                l.request_hash,
                keccak256("forged"),
                l.timestamp,
                l.salt,
                receipt.proof.clone()
            )
            .call()
            .await?
    );
    let api_check: Value = reqwest::Client::new()
        .post(format!("{api}/v1/outputs/verify"))
        .json(&json!({ "receipt": receipt, "request": request(probe), "response": response(probe) }))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(api_check["valid"], true, "{api_check}");
    Ok(())
}

/// Distillation scan: 100 planted outputs (50 exact, 50 with whitespace changed) among 100,000 unrelated records are
/// found, exactly, with the right kind, and their receipts verify on-chain.
async fn a_scan_finds_exactly_the_planted_outputs(stack: &Stack, lab: &Lab) -> anyhow::Result<()> {
    let (dir, db) = (stack.dir.path(), &lab.db);
    let dataset = dir.join("suspect.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&dataset)?);
    let mut planted = std::collections::BTreeMap::new();
    for line in 1..=100_000u64 {
        let record = if line % 1000 == 0 {
            let i = (line as usize * 13) % SAMPLES;
            let exact = planted.len() % 2 == 0;
            planted.insert(line, if exact { "exact" } else { "normalized" });
            let text = if exact { response(i) } else { format!("  {}  ", response(i).replace('\n', "\n\n  ")) };
            json!({ "request": request(i), "response": text })
        } else {
            json!({ "request": format!("unrelated {line}"), "response": format!("some other text number {line}") })
        };
        writeln!(file, "{record}")?;
    }
    file.flush()?;
    drop(file);
    let out = stack.prova(&["outputs", "scan", dataset.to_str().unwrap(), "--json", "--database-url", db], &[]);
    assert!(out.status.success(), "scan: {}", stderr(&out));
    let lines: Vec<Value> = stdout(&out).lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let (summary, matches) = lines.split_last().unwrap();
    assert_eq!(summary["summary"]["records"], 100_000);
    assert_eq!(summary["summary"]["matched"], 100);
    assert_eq!(summary["summary"]["exact"], 50);
    assert_eq!(summary["summary"]["normalized"], 50);
    let got: std::collections::BTreeMap<u64, &str> =
        matches.iter().map(|m| (m["record"].as_u64().unwrap(), m["kind"].as_str().unwrap())).collect();
    assert_eq!(got, planted, "exactly the planted records, with the right kind");
    let sample_receipt: Receipt = serde_json::from_value(matches[7]["receipt"].clone())?;
    let verdict = prova_verify::outputs::verify_receipt(&stack.admin, &sample_receipt, None, None).await?;
    assert!(verdict.is_ok(), "scan receipts verify on-chain (the contract's verifyOutput included)");
    Ok(())
}

/// The sidecar's bearer token in the tests.
const SIDECAR_TOKEN: &str = "e2e-sidecar-token-5f1c0a9e7b3d4f21";

/// Starts `prova outputs serve --listen LISTEN` with the lab's attestor key and `args`; the token comes from `env`
/// (PROVA_SIDECAR_TOKEN is otherwise cleared, so a token in the test's environment cannot leak in).
fn spawn_sidecar(
    stack: &Stack,
    attestor: &alloy::signers::local::PrivateKeySigner,
    listen: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<ChildGuard> {
    let mut cmd = Command::new(prova_bin());
    cmd.args(["outputs", "serve", "--listen", listen, "--database-url", &stack.attestor_database_url])
        .args(args)
        .env("PROVA_RPC_URL", &stack.rpc_url)
        .env("PROVA_REGISTRY", stack.registry.to_string())
        .env("PROVA_PRIVATE_KEY", attestor.to_bytes().to_string())
        .env_remove("PROVA_SIDECAR_TOKEN")
        .env_remove("PROVA_SIDECAR_TOKEN_FILE")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(ChildGuard::new(cmd.spawn()?).with_signal(SIGTERM))
}

/// Waits until the TCP sidecar on `port` answers `/healthz`.
async fn wait_for_sidecar(http: &reqwest::Client, port: u16) {
    let started = Instant::now();
    while http.get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "sidecar did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stored_samples(stack: &Stack) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM attestor_samples").fetch_one(&stack.attestor_pool).await?)
}

/// The HTTP sidecar a lab's gateway calls: samples are stored before the answer, sampled per version, and the
/// batch is anchored once it is old enough. The gateway authenticates with the token from `--token-file`.
#[tokio::test(flavor = "multi_thread")]
async fn sidecar_stores_samples_before_answering_and_anchors_them() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let attestor = stack.anvil_key(3);
    admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
    admin::add_own_attestor(&stack.admin, stack.registry, stack.admin_key.address(), &attestor).await?;
    let (version, other) = (B256::repeat_byte(0x42), B256::repeat_byte(0x43));
    for v in [version, other] {
        let req = PublishRequest { commit: false, ..PublishRequest::new(v, "acme/llm") };
        publish_model_version(&stack.admin, stack.registry, &attestor, &req).await?;
    }
    let token_file = stack.dir.path().join("sidecar.token");
    std::fs::write(&token_file, format!("{SIDECAR_TOKEN}\n"))?;
    let port = prova_devnet::local::free_port()?;
    let mut child = spawn_sidecar(
        &stack,
        &attestor,
        &format!("127.0.0.1:{port}"),
        &["--max-age", "1", "--sample", &format!("{other}=every:2"), "--token-file", token_file.to_str().unwrap()],
        &[],
    )?;
    let url = format!("http://127.0.0.1:{port}/v1/samples");
    let http = reqwest::Client::new();
    let started = Instant::now();
    wait_for_sidecar(&http, port).await;
    let batch: Vec<Value> = (0..40).map(|i| json!({ "model_version": if i < 20 { version } else { other }, "request": request(i), "response": response(i) })).collect();
    let answer: Value =
        http.post(&url).bearer_auth(SIDECAR_TOKEN).json(&json!({ "samples": batch })).send().await?.json().await?;
    assert_eq!(answer["received"], 40);
    assert_eq!(answer["stored"], 30, "all 20 of one version, every 2nd of the other");
    assert_eq!(stored_samples(&stack).await?, 30, "durable before the answer");
    let single = http
        .post(&url)
        .bearer_auth(SIDECAR_TOKEN)
        .json(&json!({ "model_version": version, "request": "q", "response": "a" }))
        .send()
        .await?;
    assert_eq!(single.status(), 202);
    let bad = http
        .post(&url)
        .bearer_auth(SIDECAR_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    assert_eq!(bad.status(), 400);

    // Old enough after a second: one batch per version, anchored on-chain.
    loop {
        let confirmed: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(leaf_count), 0)::BIGINT FROM attestor_batches WHERE state = 'confirmed'",
        )
        .fetch_one(&stack.attestor_pool)
        .await?;
        if confirmed == 31 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "batches not anchored ({confirmed} of 31 leaves)");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.signal(SIGTERM);
    assert!(child.child().wait()?.success());
    Ok(())
}

/// Forged outputs, sent as attackers would: a client without the token or with a wrong one (401), a web page's
/// simple CORS request (POST text/plain with Origin, 403), a page reached through DNS rebinding (Host: its own
/// name, 403, even with the token), a form post (415) and a GET (405). Nothing is stored; the gateway's request
/// still is.
#[tokio::test(flavor = "multi_thread")]
async fn sidecar_refuses_forged_outputs_without_the_token_from_browsers_and_rebound_names() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let attestor = stack.anvil_key(3);
    let port = prova_devnet::local::free_port()?;
    let mut child =
        spawn_sidecar(&stack, &attestor, &format!("127.0.0.1:{port}"), &[], &[("PROVA_SIDECAR_TOKEN", SIDECAR_TOKEN)])?;
    let url = format!("http://127.0.0.1:{port}/v1/samples");
    let http = reqwest::Client::new();
    wait_for_sidecar(&http, port).await;
    let forged = json!({ "model_version": B256::repeat_byte(0x42), "request": "q", "response": "forged" });
    let refused = |response: reqwest::Response, status: u16, code: &'static str| async move {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    };

    // No token, a wrong token, a token under another scheme.
    let no_token = http.post(&url).json(&forged).send().await?;
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    refused(no_token, 401, "unauthorized").await;
    refused(http.post(&url).bearer_auth("not-the-token-0123456789").json(&forged).send().await?, 401, "unauthorized")
        .await;
    refused(http.post(&url).header("authorization", SIDECAR_TOKEN).json(&forged).send().await?, 401, "unauthorized")
        .await;

    // A web page's simple CORS request, exactly as a browser sends it (no preflight: text/plain, no custom header).
    let simple = http
        .post(&url)
        .header("content-type", "text/plain;charset=UTF-8")
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "no-cors")
        .body(forged.to_string())
        .send()
        .await?;
    refused(simple, 403, "browser_request").await;
    // Each check stands alone: a browser's Origin is refused even with the token and JSON ...
    let with_origin = http
        .post(&url)
        .bearer_auth(SIDECAR_TOKEN)
        .header("origin", format!("http://127.0.0.1:{port}"))
        .json(&forged)
        .send()
        .await?;
    refused(with_origin, 403, "browser_request").await;
    // ... and a text/plain or form body is refused even with the token.
    for mime in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = http
            .post(&url)
            .bearer_auth(SIDECAR_TOKEN)
            .header("content-type", mime)
            .body(forged.to_string())
            .send()
            .await?;
        refused(response, 415, "unsupported_media_type").await;
    }

    // DNS rebinding: the page's own name now resolves to 127.0.0.1, so the browser sends Host: evil.example. Refused
    // even with the token, and for /healthz too.
    for path in ["/v1/samples", "/healthz"] {
        let rebound = http
            .post(format!("http://127.0.0.1:{port}{path}"))
            .header("host", format!("evil.example:{port}"))
            .bearer_auth(SIDECAR_TOKEN)
            .json(&forged)
            .send()
            .await?;
        refused(rebound, 403, "host_not_allowed").await;
    }

    // Only POST.
    let get = http.get(&url).bearer_auth(SIDECAR_TOKEN).send().await?;
    assert_eq!(get.headers()["allow"], "POST");
    refused(get, 405, "method_not_allowed").await;

    assert_eq!(stored_samples(&stack).await?, 0, "no attack stored anything");
    let gateway = http
        .post(&url)
        .header("host", format!("localhost:{port}"))
        .bearer_auth(SIDECAR_TOKEN)
        .json(&json!({ "model_version": B256::repeat_byte(0x42), "request": "q", "response": "a" }))
        .send()
        .await?;
    assert_eq!(gateway.status(), 202);
    assert_eq!(stored_samples(&stack).await?, 1, "the gateway's sample is stored");
    child.signal(SIGTERM);
    assert!(child.child().wait()?.success());
    Ok(())
}

/// Without a token a TCP sidecar does not start, and says where a token comes from.
#[test]
fn sidecar_refuses_to_start_without_a_token() {
    let out = Command::new(prova_bin())
        .args(["outputs", "serve", "--listen", "127.0.0.1:0", "--database-url", "postgres://unused@127.0.0.1:1/x"])
        .args(["--rpc", "http://127.0.0.1:1", "--registry", &format!("{}", alloy::primitives::Address::ZERO)])
        .env_remove("PROVA_SIDECAR_TOKEN")
        .env_remove("PROVA_SIDECAR_TOKEN_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(text.contains("--token-file") && text.contains("PROVA_SIDECAR_TOKEN"), "{text}");
    let out = Command::new(prova_bin())
        .args(["outputs", "serve", "--listen", "127.0.0.1:0", "--database-url", "postgres://unused@127.0.0.1:1/x"])
        .args(["--rpc", "http://127.0.0.1:1", "--registry", &format!("{}", alloy::primitives::Address::ZERO)])
        .env("PROVA_SIDECAR_TOKEN", "short")
        .env_remove("PROVA_SIDECAR_TOKEN_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(text.contains("shorter than 16") && !text.contains("short\n"), "{text}");
}

/// On a unix socket the sidecar is owner-only (0600) and needs no token; it still refuses browsers.
#[tokio::test(flavor = "multi_thread")]
async fn sidecar_on_a_unix_socket_is_owner_only() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let stack = Stack::start().await?;
    let attestor = stack.anvil_key(3);
    let socket = stack.dir.path().join("sidecar.sock");
    let mut child = spawn_sidecar(&stack, &attestor, &format!("unix:{}", socket.display()), &[], &[])?;
    let started = Instant::now();
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "sidecar did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::metadata(&socket)?.permissions().mode() & 0o777, 0o600);

    let body = json!({ "model_version": B256::repeat_byte(0x42), "request": "q", "response": "a" }).to_string();
    let (status, answer) = unix_post(&socket, &body, &[]).await?;
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = unix_post(&socket, &body, &[("origin", "http://evil.example")]).await?;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(stored_samples(&stack).await?, 1);
    child.signal(SIGTERM);
    assert!(child.child().wait()?.success());
    assert!(!socket.exists(), "the socket is removed on exit");
    Ok(())
}

/// POSTs a JSON body to `/v1/samples` over a unix socket (HTTP/1.1 by hand); returns the status and the body.
async fn unix_post(socket: &std::path::Path, body: &str, headers: &[(&str, &str)]) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::UnixStream::connect(socket).await?;
    let mut request = format!(
        "POST /v1/samples HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response.split(' ').nth(1).unwrap_or_default().parse()?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Ok((status, body))
}
