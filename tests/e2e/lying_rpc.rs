//! A lying or lagging RPC node, attacked end to end on anvil and Postgres (issue 16, item 9): a [`LyingProxy`] in
//! front of anvil rewrites some answers. A head below the indexer's cursor is a fault waited out, never a reorg;
//! logs of another contract are refused and never stored; a contract whose code is not the pinned code is refused by
//! `prova index` and `prova verify model`; two endpoints that disagree make `prova verify model` and `prova verify
//! api` "could not check".

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, keccak256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prova_attestor::admin;
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_chain::rpc::RetryPolicy;
use prova_core::bindings::IProvenanceRegistry;
use prova_core::manifest::{HashOptions, hash_dir};
use prova_e2e::{Following, Stack, cursor_row, stderr, stdout, write_model};
use prova_indexer::metrics::{ContractLabels, FaultLabels};
use prova_indexer::{Indexer, IndexerConfig, Metrics};
use serde_json::{Value, json};

/// Rewrites the `result` of one JSON-RPC call: `(method, params, result) -> result`.
type Rewrite = dyn Fn(&str, &Value, Value) -> Value + Send + Sync;

/// A JSON-RPC proxy that forwards to anvil and passes each answer through the current lie, if any.
struct LyingProxy {
    url: String,
    lie: Arc<Mutex<Option<Arc<Rewrite>>>>,
}

struct Upstream {
    url: String,
    client: reqwest::Client,
    lie: Arc<Mutex<Option<Arc<Rewrite>>>>,
}

impl LyingProxy {
    async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let lie: Arc<Mutex<Option<Arc<Rewrite>>>> = Arc::default();
        let state = Arc::new(Upstream { url: upstream.to_owned(), client: reqwest::Client::new(), lie: lie.clone() });
        let app = Router::new().fallback(forward).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, lie })
    }

    /// Lies with `rewrite` from now on.
    fn lie(&self, rewrite: impl Fn(&str, &Value, Value) -> Value + Send + Sync + 'static) {
        *self.lie.lock().unwrap() = Some(Arc::new(rewrite));
    }

    /// Tells the truth from now on.
    fn honest(&self) {
        *self.lie.lock().unwrap() = None;
    }
}

async fn forward(State(upstream): State<Arc<Upstream>>, body: Bytes) -> axum::response::Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = upstream.client.post(&upstream.url).header(header::CONTENT_TYPE, "application/json").body(body);
    let Ok(answer) = answer.send().await else { return axum::http::StatusCode::BAD_GATEWAY.into_response() };
    let Ok(mut answer) = answer.json::<Value>().await else {
        return axum::http::StatusCode::BAD_GATEWAY.into_response();
    };
    let lie = upstream.lie.lock().unwrap().clone();
    if let Some(lie) = lie {
        let calls = match &request {
            Value::Array(calls) => calls.clone(),
            call => vec![call.clone()],
        };
        let answers: Vec<&mut Value> = match &mut answer {
            Value::Array(answers) => answers.iter_mut().collect(),
            answer => vec![answer],
        };
        for answer in answers {
            let Some(call) = calls.iter().find(|c| c["id"] == answer["id"]) else { continue };
            if let Some(result) = answer.get_mut("result") {
                *result = lie(call["method"].as_str().unwrap_or_default(), &call["params"], result.take());
            }
        }
    }
    ([(header::CONTENT_TYPE, "application/json")], answer.to_string()).into_response()
}

fn hex_number(value: &Value) -> Option<u64> {
    u64::from_str_radix(value.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// A syncing node at `head`: it reports that head and has no block above it.
fn behind(head: u64) -> impl Fn(&str, &Value, Value) -> Value + Send + Sync + 'static {
    move |method, params, result| match method {
        "eth_blockNumber" => json!(format!("{head:#x}")),
        "eth_getBlockByNumber" if hex_number(&params[0]).is_some_and(|n| n > head) => Value::Null,
        _ => result,
    }
}

/// A publisher with an attestor, and a helper that registers version hashes.
async fn publisher(stack: &Stack) -> anyhow::Result<alloy::signers::local::PrivateKeySigner> {
    let attestor = stack.anvil_key(2);
    admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
    admin::add_own_attestor(&stack.admin, stack.registry, stack.admin_key.address(), &attestor).await?;
    Ok(attestor)
}

async fn publish(stack: &Stack, attestor: &alloy::signers::local::PrivateKeySigner, hash: B256) -> anyhow::Result<()> {
    let request = PublishRequest { commit: false, ..PublishRequest::new(hash, "acme/llm") };
    publish_model_version(&stack.admin, stack.registry, attestor, &request).await?;
    Ok(())
}

async fn version_rows(stack: &Stack) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM model_version_registered").fetch_one(&stack.pool).await?)
}

fn fault_count(metrics: &Metrics, chain_id: u64, method: &str, kind: &str) -> u64 {
    let labels = FaultLabels { chain_id, method: method.into(), kind: kind.into() };
    metrics.rpc_faults.get(&labels).map_or(0, |c| c.get())
}

/// An indexer of the stack's registry reading through `url`, with quick retries.
async fn indexer(stack: &Stack, url: &str) -> anyhow::Result<Indexer> {
    let config = IndexerConfig {
        start_block: stack.deploy_block,
        poll_interval: Duration::from_millis(50),
        retry: RetryPolicy {
            attempts: 3,
            timeout: Duration::from_secs(5),
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
        },
        ..IndexerConfig::new(stack.registry)
    };
    Ok(Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(url)?, config).await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_below_the_cursor_is_a_fault_waited_out_never_a_reorg() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let proxy = LyingProxy::start(&stack.rpc_url).await?;
    let attestor = publisher(&stack).await?;
    for byte in [0xA1, 0xA2] {
        publish(&stack, &attestor, B256::repeat_byte(byte)).await?;
    }
    let indexer = indexer(&stack, &proxy.url).await?;
    let report = indexer.sync_to_head().await?;
    assert_eq!(version_rows(&stack).await?, 2);
    let cursor = cursor_row(&stack.pool, stack.chain_id, stack.registry).await?.unwrap();
    let labels = ContractLabels { chain_id: stack.chain_id, contract: format!("{:#x}", stack.registry) };
    let metrics = indexer.metrics().clone();

    // The node falls behind (a syncing node, or one behind a load balancer): its head is below the blocks indexed,
    // holding both versions.
    proxy.lie(behind(report.head - 3));
    let error = indexer.sync_to_head().await.expect_err("a head below the cursor is a fault");
    assert!(matches!(error, prova_indexer::Error::HeadBehind { .. }), "{error}");
    assert!(error.to_string().contains("not a reorg"), "{error}");
    assert_eq!(fault_count(&metrics, stack.chain_id, "eth_blockNumber", "head_behind"), 3, "counted per attempt");
    assert_eq!(version_rows(&stack).await?, 2, "nothing undone");
    assert_eq!(cursor_row(&stack.pool, stack.chain_id, stack.registry).await?.unwrap(), cursor);
    assert_eq!(metrics.reorgs.get(&labels).map_or(0, |c| c.get()), 0);

    // Following the head, the indexer retries while the node lags, then resumes once it is honest again.
    let following = Following::spawn(indexer);
    let deadline = Instant::now() + Duration::from_secs(20);
    while fault_count(&metrics, stack.chain_id, "eth_blockNumber", "head_behind") < 9 {
        anyhow::ensure!(Instant::now() < deadline, "the follow loop did not retry the lagging node");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(version_rows(&stack).await?, 2, "nothing undone while following");
    assert!(!following.is_finished(), "run() gave up on a lagging node");
    proxy.honest();
    publish(&stack, &attestor, B256::repeat_byte(0xA3)).await?;
    let head = stack.admin.get_block_number().await?;
    prova_e2e::wait_cursor(&stack.pool, stack.chain_id, stack.registry, head + 1, Duration::from_secs(30)).await?;
    assert_eq!(version_rows(&stack).await?, 3, "indexing resumed");
    assert_eq!(metrics.reorgs.get(&labels).map_or(0, |c| c.get()), 0, "no reorg was ever undone");
    following.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_of_another_contract_are_refused_and_never_stored() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let proxy = LyingProxy::start(&stack.rpc_url).await?;
    let attestor = publisher(&stack).await?;
    publish(&stack, &attestor, B256::repeat_byte(0xB1)).await?;
    // Each answer of eth_getLogs carries, besides the registry's logs, a forged copy of each from another contract.
    let forger = Address::repeat_byte(0xEE);
    proxy.lie(move |method, _, result| match (method, result) {
        ("eth_getLogs", Value::Array(logs)) => {
            let forged = logs.iter().cloned().map(|mut log| {
                log["address"] = json!(forger);
                log
            });
            Value::Array(logs.iter().cloned().chain(forged).collect())
        }
        (_, result) => result,
    });
    let indexer = indexer(&stack, &proxy.url).await?;
    let error = indexer.sync_to_head().await.expect_err("a log of another contract is refused");
    assert!(error.to_string().contains("foreign_log"), "{error}");
    let metrics = indexer.metrics();
    assert_eq!(fault_count(metrics, stack.chain_id, "eth_getLogs", "foreign_log"), 3, "counted and re-read");
    assert_eq!(version_rows(&stack).await?, 0, "nothing stored from the lying answer");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM model_version_registered WHERE contract = $1")
        .bind(forger.as_slice())
        .fetch_one(&stack.pool)
        .await?;
    assert_eq!(stored, 0);

    proxy.honest();
    indexer.sync_to_head().await?;
    let contracts: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT contract FROM model_version_registered").fetch_all(&stack.pool).await?;
    assert_eq!(contracts, [stack.registry.to_vec()], "the registry's own log, once");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contract_whose_code_is_not_the_pinned_code_is_refused() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let attestor = publisher(&stack).await?;
    let dir = stack.dir.path().join("model");
    write_model(&dir, 3);
    let version = hash_dir(&dir, &HashOptions::default())?.version_hash;
    publish(&stack, &attestor, version).await?;
    let code_hash = keccak256(stack.admin.get_code_at(stack.registry).await?);
    let wrong = B256::repeat_byte(0x0B);
    let (registry, db) = (stack.registry.to_string(), stack.database_url.as_str());
    let start = stack.deploy_block.to_string();

    // prova index: a wrong pin is refused before anything is indexed; the right one, or the shipped code, indexes.
    let index = |pin: &[&str]| {
        let mut args = vec!["index", "--once", "--database-url", db, "--start-block", &start];
        args.extend_from_slice(pin);
        stack.prova(&args, &[])
    };
    let out = index(&["--code-hash", &format!("{registry}={wrong}")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("is not code hash {wrong}")), "{}", stderr(&out));
    assert_eq!(cursor_row(&stack.pool, stack.chain_id, stack.registry).await?, None, "nothing indexed");
    let out = index(&["--code-hash", &format!("{}={code_hash}", Address::repeat_byte(1))]);
    assert_eq!(out.status.code(), Some(2), "a pin of a contract not indexed is a mistake: {}", stderr(&out));
    let out = index(&["--code-hash", &format!("{registry}={code_hash}")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = index(&["--pin-code"]);
    assert!(out.status.success(), "the deployed registry is the shipped bytecode: {}", stderr(&out));
    assert_eq!(version_rows(&stack).await?, 1);

    // prova verify model: the same.
    let dir = dir.to_str().unwrap();
    let out = stack.prova(&["verify", "model", dir, "--code-hash", &wrong.to_string()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("refusing to trust it"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("VERIFIED"), "{}", stdout(&out));
    for pin in [vec!["--code-hash", &code_hash.to_string()], vec!["--pin-code"]] {
        let args = [&["verify", "model", dir][..], &pin].concat();
        let out = stack.prova(&args, &[]);
        assert!(out.status.success(), "{pin:?}: {}{}", stdout(&out), stderr(&out));
    }
    // A contract that is not the registry prova ships (here an ERC-8004 identity registry) given as the registry.
    let (agents, _) = prova_chain::deploy_agent_registries(&stack.admin).await?;
    let other = agents.identity.to_string();
    let out = stack.prova(&["verify", "model", dir, "--pin-code", "--registry", &other], &[]);
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("is not the ProvenanceRegistry bytecode this prova ships"), "{}", stderr(&out));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_that_disagree_make_verify_model_and_api_could_not_check() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let proxy = LyingProxy::start(&stack.rpc_url).await?;
    let attestor = publisher(&stack).await?;
    let dir = stack.dir.path().join("model");
    write_model(&dir, 4);
    publish(&stack, &attestor, hash_dir(&dir, &HashOptions::default())?.version_hash).await?;
    let dir = dir.to_str().unwrap();
    let verify = |rpcs: &[&str]| {
        let mut args = vec!["verify", "model", dir];
        for rpc in rpcs {
            args.extend(["--rpc", rpc]);
        }
        stack.prova(&args, &[])
    };
    let (honest, lying) = (stack.rpc_url.as_str(), proxy.url.as_str());
    let out = verify(&[honest, lying]);
    assert!(out.status.success(), "two honest endpoints agree: {}{}", stdout(&out), stderr(&out));

    // The proxy says the version was signed by a compromised key: alone, it is believed (the claim does not stand).
    proxy.lie(signed_by_a_compromised_key);
    let out = verify(&[lying]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    // Beside an honest endpoint, neither is believed.
    for rpcs in [[honest, lying], [lying, honest]] {
        let out = verify(&rpcs);
        assert_eq!(out.status.code(), Some(2), "{}{}", stdout(&out), stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("could not check: endpoints disagree"), "{text}");
        assert!(text.contains("signed_by_compromised_key"), "{text}");
        assert!(text.contains(&prova_chain::redact_url(lying)), "{text}");
        assert!(!stdout(&out).contains("VERIFIED"), "{}", stdout(&out));
    }

    // prova verify api: the same, over a whole API (which reads the same view for each version).
    let api = stack.index_and_serve().await?;
    let head = stack.admin.get_block_number().await?;
    prova_e2e::wait_cursor(&stack.pool, stack.chain_id, stack.registry, head + 1, Duration::from_secs(30)).await?;
    let audit = || stack.prova(&["verify", "api", "--api", &api, "--rpc", honest, "--rpc", lying], &[]);
    proxy.honest();
    let out = audit();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    proxy.lie(signed_by_a_compromised_key);
    let out = audit();
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("could not check: endpoints disagree"), "{}", stderr(&out));
    Ok(())
}

/// A lie about one view: every `isSignedByCompromisedKey` call answers true.
fn signed_by_a_compromised_key(method: &str, params: &Value, result: Value) -> Value {
    let selector = alloy::hex::encode_prefixed(IProvenanceRegistry::isSignedByCompromisedKeyCall::SELECTOR);
    let data = params[0].get("input").or_else(|| params[0].get("data")).and_then(Value::as_str);
    if method == "eth_call" && data.is_some_and(|d| d.starts_with(&selector)) {
        return json!(format!("0x{:064x}", 1));
    }
    result
}
