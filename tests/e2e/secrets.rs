//! The RPC provider's key stays secret: with an endpoint URL holding a key in its path, its query and its user info
//! (`http://user:pass@host/v3/KEY?apikey=KEY2`, as hosted providers hand them out), nothing prova prints, logs,
//! stores or serves repeats those parts: not `prova index` or `prova verify` (output and debug logs), not the
//! indexer's `last_error` row once the endpoint dies, not `GET /v1/status`, not the metrics, not the log lines about a
//! dead WebSocket endpoint (`--ws`).
//!
//! anvil answers 404 to any path but `/`, so the working endpoint is a path-tolerant proxy in front of it
//! ([`ChaosProxy`] with no faults); the dead one is a closed port.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use prova_devnet::ChildGuard;
use prova_devnet::local::free_port;
use prova_e2e::chaos_proxy::{ChaosProxy, Faults};
use prova_e2e::{Stack, cursor_row, prova_bin, stderr, stdout, wait_cursor, write_model};

/// The secret parts of the endpoint URLs, and the basic-authentication header value made of the user info; none may
/// appear anywhere.
const SECRETS: [&str; 5] = ["produser", "S3CRETPASS", "S3CRETKEY", "S3CRETQUERY", "cHJvZHVzZXI6UzNDUkVUUEFTUw"];

/// `http://produser:S3CRETPASS@{host_port}/v3/S3CRETKEY?apikey=S3CRETQUERY`.
fn secret_url(host_port: &str) -> String {
    format!("http://produser:S3CRETPASS@{host_port}/v3/S3CRETKEY?apikey=S3CRETQUERY")
}

/// Fails naming the secret and the place if `text` holds any part of [`SECRETS`].
fn assert_no_secret(place: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked in {place}:\n{text}");
    }
}

/// stdout and stderr of a finished `prova`, checked for secrets; returns them joined.
fn checked(place: &str, output: &Output) -> String {
    let text = format!("{}\n{}", stdout(output), stderr(output));
    assert_no_secret(place, &text);
    text
}

/// An unregistered model folder for `prova verify model`.
fn model(dir: &Path) -> String {
    write_model(dir, 7);
    dir.to_str().expect("a UTF-8 temp path").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_url_secrets_stay_out_of_output_logs_the_database_the_api_and_metrics() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let proxy = ChaosProxy::start(stack.rpc_url.parse()?, Faults::default()).await?;
    let live = secret_url(&format!("127.0.0.1:{}", proxy.url().port().expect("the proxy's port")));
    let dead = secret_url(&format!("127.0.0.1:{}", free_port()?));
    let registry = stack.registry.to_string();
    // Debug logs of every crate, as an operator chasing a fault would run it; the URLs come from the environment.
    let env = |url: &str| [("PROVA_RPC_URL", url.to_owned()), ("RUST_LOG", "debug".to_owned())];
    let run = |args: &[&str], url: &str| {
        let env = env(url);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        stack.prova(args, &[&env[..], &[("DATABASE_URL", stack.database_url.as_str())]].concat())
    };

    // A working endpoint: indexing and verifying succeed, and say nothing of the key.
    let out = run(&["index", "--once", "--registry", &registry], &live);
    let text = checked("prova index --once", &out);
    assert!(out.status.success(), "{text}");
    let folder = model(&stack.dir.path().join("model"));
    let out = run(&["verify", "model", &folder], &live);
    let text = checked("prova verify model", &out);
    assert_eq!(out.status.code(), Some(1), "an unregistered folder is not verified: {text}");

    // A dead endpoint: the errors name the fault, not the URL.
    let out = run(&["verify", "model", &folder], &dead);
    let text = checked("prova verify model (dead endpoint)", &out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("error sending request") || text.contains("onnection refused"), "{text}");

    // A following indexer whose endpoint dies: its last_error row, /v1/status and its metrics stay clean.
    let logs = stack.dir.path().join("indexer.log");
    let metrics = format!("127.0.0.1:{}", free_port()?);
    let mut cmd = Command::new(prova_bin());
    cmd.args(["index", "--registry", &registry, "--poll-ms", "100", "--rpc-timeout-ms", "1000"])
        .args(["--start-block", &stack.deploy_block.to_string(), "--metrics-listen", &metrics])
        .env("DATABASE_URL", &stack.database_url)
        .env("PROVA_WS_URL", dead.replace("http://", "ws://"))
        .envs(env(&live))
        .stdout(std::fs::File::create(&logs)?)
        .stderr(std::fs::File::options().append(true).open(&logs)?)
        .stdin(Stdio::null());
    let indexer = ChildGuard::new(cmd.spawn()?).with_grace(Duration::from_secs(5));
    // Past its start (it holds the write lock) and caught up, through the proxy; then the endpoint dies.
    let instance = format!("pid-{}", indexer.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    while cursor_row(&stack.pool, stack.chain_id, stack.registry).await?.and_then(|r| r.writer).as_ref()
        != Some(&instance)
    {
        anyhow::ensure!(Instant::now() < deadline, "the indexer did not take the write lock within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let head = prova_e2e::Node::new(&stack).head().await?;
    wait_cursor(&stack.pool, stack.chain_id, stack.registry, head + 1, Duration::from_secs(60)).await?;
    proxy.shutdown().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let last_error = loop {
        let row = cursor_row(&stack.pool, stack.chain_id, stack.registry).await?;
        if let Some(error) = row.and_then(|r| r.last_error) {
            break error;
        }
        anyhow::ensure!(Instant::now() < deadline, "no last_error within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_no_secret("indexer_cursors.last_error", &last_error);
    let api = stack.serve_api().await?;
    let status = reqwest::get(format!("{api}/v1/status")).await?.text().await?;
    assert_no_secret("GET /v1/status", &status);
    assert!(status.contains(&last_error), "the status serves the fault: {status}");
    let scraped = reqwest::get(format!("http://{metrics}/metrics")).await?.text().await?;
    assert_no_secret("the indexer's metrics", &scraped);
    assert!(scraped.contains("prova_indexer_rpc_faults"), "{scraped}");
    // The debug log of the whole run, retries and faults included.
    drop(indexer);
    let log = std::fs::read_to_string(&logs)?;
    assert!(log.contains("rpc fault; retrying"), "the faults are in the log: {log}");
    assert!(log.contains("WebSocket head subscription failed"), "so is the dead WebSocket endpoint: {log}");
    assert_no_secret("the indexer's log", &log);
    Ok(())
}

/// `prova index` refusing a dead endpoint at start and `prova verify api` (its report header and its errors): the
/// URL they print comes from `cli/src/commands/index.rs` and `prova-verify`, which must print
/// `prova_chain::redact_url(..)` instead.
#[tokio::test(flavor = "multi_thread")]
async fn prova_index_at_start_and_prova_verify_api_print_the_endpoint_redacted() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let proxy = ChaosProxy::start(stack.rpc_url.parse()?, Faults::default()).await?;
    let port = proxy.url().port().expect("the proxy's port");
    let live = secret_url(&format!("127.0.0.1:{port}"));
    let dead = secret_url(&format!("127.0.0.1:{}", free_port()?));
    let registry = stack.registry.to_string();
    let db = ("DATABASE_URL", stack.database_url.as_str());

    let out = stack.prova(&["index", "--once", "--registry", &registry], &[("PROVA_RPC_URL", dead.as_str()), db]);
    let text = checked("prova index --once (dead endpoint)", &out);
    assert!(!out.status.success(), "{text}");

    let api = stack.index_and_serve().await?;
    let out = stack.prova(&["verify", "api", "--api", &api], &[("PROVA_RPC_URL", live.as_str())]);
    let text = checked("prova verify api", &out);
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/<redacted>")),
        "the header shows the endpoint redacted: {text}"
    );
    let out = stack.prova(&["verify", "api", "--api", &api], &[("PROVA_RPC_URL", dead.as_str())]);
    let text = checked("prova verify api (dead endpoint)", &out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    Ok(())
}
