//! A fault-injecting JSON-RPC proxy for chaos tests of the indexer.
//!
//! A chaos test starts anvil, puts a [`ChaosProxy`] in front of it, and points the indexer at [`ChaosProxy::url`]
//! instead of anvil. The proxy forwards each HTTP request to anvil, but with the probabilities set in [`Faults`] it
//! answers with a JSON-RPC or HTTP error, stalls past the client's timeout, rate-limits, truncates the body, or
//! returns an HTML page. `eth_getLogs` calls whose block span exceeds [`Faults::max_log_blocks`] always get a
//! provider-style size-limit error, as a real provider would. Once the test has seen enough chaos
//! ([`ChaosProxy::stats`] shows every fault was injected), it calls `set_enabled(false)` and checks that the
//! indexer converges to the same state as a run without faults.
//!
//! ```ignore
//! let proxy = ChaosProxy::start(anvil_url.parse()?, Faults { error: 0.1, truncate: 0.05, ..Faults::default() }).await?;
//! run_indexer(proxy.url()).await;
//! assert!(proxy.stats().errors > 0);
//! proxy.set_enabled(false);
//! ```
//!
//! Faults are rolled per HTTP request from one seeded RNG, so a run with the same seed and the same request order
//! injects the same faults. A JSON-RPC batch (an array) is forwarded as-is and a fault hits the whole batch.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Url;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Which faults to inject, each with an independent probability in `0.0..=1.0`.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Seed of the RNG that rolls the faults.
    pub seed: u64,
    /// A JSON-RPC error (`-32603`), or half the time an HTTP 500/502/503 with a text body.
    pub error: f64,
    /// Sleep `delay_for` before forwarding.
    pub delay: f64,
    /// How long a delayed request sleeps; make it longer than the client's timeout.
    pub delay_for: Duration,
    /// HTTP 429 with `Retry-After: 1`.
    pub rate_limit: f64,
    /// Forward, then return only the first half of the body (malformed JSON).
    pub truncate: f64,
    /// HTTP 200 with an HTML error page.
    pub garbage: f64,
    /// Largest `eth_getLogs` block span answered; larger spans always get a size-limit error.
    pub max_log_blocks: Option<u64>,
}

impl Default for Faults {
    /// No faults, seed 0, a delay of 3 s.
    fn default() -> Self {
        Self {
            seed: 0,
            error: 0.0,
            delay: 0.0,
            delay_for: Duration::from_secs(3),
            rate_limit: 0.0,
            truncate: 0.0,
            garbage: 0.0,
            max_log_blocks: None,
        }
    }
}

/// How many requests the proxy saw and what it did with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChaosStats {
    /// HTTP requests received.
    pub requests: u64,
    /// Requests sent to the upstream (including delayed and truncated ones).
    pub forwarded: u64,
    /// Injected JSON-RPC or HTTP 5xx errors.
    pub errors: u64,
    /// Injected delays.
    pub delays: u64,
    /// Injected HTTP 429s.
    pub rate_limits: u64,
    /// Injected truncated bodies.
    pub truncations: u64,
    /// Injected non-JSON bodies.
    pub garbage: u64,
    /// `eth_getLogs` calls refused for their block span.
    pub logs_limits: u64,
    /// Requests refused with HTTP 503 while the proxy was down.
    pub refused: u64,
}

/// Size-limit errors of real providers, used in turn.
const LOGS_LIMIT_ERRORS: [(i64, &str); 5] = [
    (-32005, "query returned more than 10000 results"),
    (
        -32602,
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on \
         the response size, or you can request any block range with a cap of 10K logs in the response.",
    ),
    (-32600, "exceed maximum block range: 1000"),
    (-32000, "block range is too wide"),
    (-32005, "limit exceeded"),
];

/// What a provider says with its HTTP 429.
const RATE_LIMITED: &str = "Your app has exceeded its compute units per second capacity.";

/// A misconfigured gateway's answer.
const GARBAGE: &str = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>\
                       </center><hr><center>cloudflare</center></body></html>";

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub struct ChaosProxy {
    url: Url,
    inner: Arc<Inner>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Debug)]
struct Inner {
    upstream: Url,
    client: reqwest::Client,
    faults: Faults,
    rng: Mutex<StdRng>,
    enabled: AtomicBool,
    down: AtomicBool,
    next_logs_error: AtomicUsize,
    counts: [AtomicU64; 9],
}

/// Indices into `Inner::counts`, in the order of the fields of [`ChaosStats`].
#[derive(Clone, Copy)]
enum Count {
    Requests,
    Forwarded,
    Errors,
    Delays,
    RateLimits,
    Truncations,
    Garbage,
    LogsLimits,
    Refused,
}

impl ChaosProxy {
    /// Binds `127.0.0.1:0` and serves the proxy on a tokio task.
    pub async fn start(upstream: Url, faults: Faults) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
        let inner = Arc::new(Inner {
            upstream,
            client: reqwest::Client::new(),
            rng: Mutex::new(StdRng::seed_from_u64(faults.seed)),
            faults,
            enabled: AtomicBool::new(true),
            down: AtomicBool::new(false),
            next_logs_error: AtomicUsize::new(0),
            counts: Default::default(),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "chaos proxy stopped");
            }
        });
        Ok(Self { url, inner, stop: Some(stop), task: Some(task) })
    }

    /// The URL to give the client under test.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Turns the random faults on or off; the `eth_getLogs` limit stays on.
    pub fn set_enabled(&self, enabled: bool) {
        self.inner.enabled.store(enabled, Relaxed);
    }

    /// While down, every request gets HTTP 503 (a dead RPC).
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Relaxed);
    }

    /// The counters so far.
    pub fn stats(&self) -> ChaosStats {
        let n = |count: Count| self.inner.counts[count as usize].load(Relaxed);
        ChaosStats {
            requests: n(Count::Requests),
            forwarded: n(Count::Forwarded),
            errors: n(Count::Errors),
            delays: n(Count::Delays),
            rate_limits: n(Count::RateLimits),
            truncations: n(Count::Truncations),
            garbage: n(Count::Garbage),
            logs_limits: n(Count::LogsLimits),
            refused: n(Count::Refused),
        }
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn shutdown(mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        // Dropping the sender starts the graceful shutdown; the task ends on its own.
        self.stop.take();
    }
}

/// The faults rolled for one request.
struct Roll {
    rate_limit: bool,
    error: bool,
    garbage: bool,
    delay: bool,
    truncate: bool,
    http_status: Option<StatusCode>,
}

impl Inner {
    fn count(&self, count: Count) {
        self.counts[count as usize].fetch_add(1, Relaxed);
    }

    /// Rolls every fault, always drawing the same number of values so runs are reproducible.
    fn roll(&self) -> Roll {
        let mut rng = self.rng.lock().unwrap();
        let f = &self.faults;
        let mut hit = |p: f64| rng.gen_bool(p.clamp(0.0, 1.0));
        let roll = (hit(f.rate_limit), hit(f.error), hit(f.garbage), hit(f.delay), hit(f.truncate));
        // Half the errors are JSON-RPC errors, the other half HTTP 500, 502 or 503.
        let http_status = match rng.gen_range(0..6) {
            0 => Some(StatusCode::INTERNAL_SERVER_ERROR),
            1 => Some(StatusCode::BAD_GATEWAY),
            2 => Some(StatusCode::SERVICE_UNAVAILABLE),
            _ => None,
        };
        Roll { rate_limit: roll.0, error: roll.1, garbage: roll.2, delay: roll.3, truncate: roll.4, http_status }
    }

    /// Ids of the `eth_getLogs` calls in `body` whose block span exceeds the limit.
    fn over_log_limit(&self, body: &Value) -> Vec<Value> {
        let Some(max) = self.faults.max_log_blocks else { return Vec::new() };
        let calls = match body {
            Value::Array(calls) => calls.as_slice(),
            call => std::slice::from_ref(call),
        };
        calls
            .iter()
            .filter(|call| call["method"] == "eth_getLogs" && log_span(&call["params"][0]) > max)
            .map(|call| call["id"].clone())
            .collect()
    }

    fn logs_limit_error(&self, id: Value) -> Value {
        self.count(Count::LogsLimits);
        let (code, message) = LOGS_LIMIT_ERRORS[self.next_logs_error.fetch_add(1, Relaxed) % LOGS_LIMIT_ERRORS.len()];
        rpc_error(id, code, message)
    }

    async fn forward(&self, body: Bytes) -> Result<(StatusCode, Bytes), Response> {
        self.count(Count::Forwarded);
        let sent = self.client.post(self.upstream.clone()).header(header::CONTENT_TYPE, "application/json").body(body);
        let response = sent.send().await.map_err(bad_gateway)?;
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        Ok((status, response.bytes().await.map_err(bad_gateway)?))
    }
}

/// Blocks covered by an `eth_getLogs` filter. A missing or named bound (`latest`, ...) is the unknown head: both
/// at the head is one block, one at the head is treated as `u64::MAX`.
fn log_span(filter: &Value) -> u64 {
    let bound = |key: &str| filter[key].as_str().and_then(|s| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok());
    if filter.get("blockHash").is_some() {
        return 1;
    }
    let earliest = filter["fromBlock"] == "earliest";
    match (bound("fromBlock").or(earliest.then_some(0)), bound("toBlock")) {
        (Some(from), Some(to)) => to.saturating_sub(from).saturating_add(1),
        (None, None) => 1,
        _ => u64::MAX,
    }
}

fn bad_gateway(error: reqwest::Error) -> Response {
    (StatusCode::BAD_GATEWAY, format!("chaos proxy: upstream failed: {error}")).into_response()
}

fn rpc_error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// `make(id)` for each call of a request, as one object or an array like the request.
fn per_call(request: &Value, make: impl Fn(Value) -> Value) -> Value {
    match request {
        Value::Array(calls) => calls.iter().map(|call| make(call["id"].clone())).collect(),
        call => make(call["id"].clone()),
    }
}

async fn handle(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    inner.count(Count::Requests);
    if inner.down.load(Relaxed) {
        inner.count(Count::Refused);
        return (StatusCode::SERVICE_UNAVAILABLE, "service unavailable").into_response();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let over_limit = inner.over_log_limit(&request);
    if !over_limit.is_empty() && !request.is_array() {
        return json_response(StatusCode::OK, &inner.logs_limit_error(request["id"].clone()));
    }
    let roll = if inner.enabled.load(Relaxed) { Some(inner.roll()) } else { None };
    let mut truncate = false;
    if let Some(roll) = roll {
        let method = request["method"].as_str().unwrap_or("batch");
        if roll.rate_limit {
            inner.count(Count::RateLimits);
            tracing::debug!(method, "injecting rate limit");
            let error = per_call(&request, |id| rpc_error(id, 429, RATE_LIMITED));
            let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &error);
            response.headers_mut().insert(header::RETRY_AFTER, 1.into());
            return response;
        }
        if roll.error {
            inner.count(Count::Errors);
            tracing::debug!(method, status = ?roll.http_status, "injecting error");
            if let Some(status) = roll.http_status {
                return (status, format!("{status}: upstream connect error (injected)")).into_response();
            }
            let error = per_call(&request, |id| rpc_error(id, -32603, "internal error (injected)"));
            return json_response(StatusCode::OK, &error);
        }
        if roll.garbage {
            inner.count(Count::Garbage);
            tracing::debug!(method, "injecting garbage");
            return (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], GARBAGE).into_response();
        }
        if roll.delay {
            inner.count(Count::Delays);
            tracing::debug!(method, delay = ?inner.faults.delay_for, "injecting delay");
            tokio::time::sleep(inner.faults.delay_for).await;
        }
        truncate = roll.truncate;
    }
    let (status, upstream_body) = match inner.forward(body).await {
        Ok(answer) => answer,
        Err(response) => return response,
    };
    if truncate {
        inner.count(Count::Truncations);
        let half = upstream_body.slice(..upstream_body.len() / 2);
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], half).into_response();
    }
    if over_limit.is_empty() {
        return (status, [(header::CONTENT_TYPE, "application/json")], upstream_body).into_response();
    }
    // A batch with over-limit `eth_getLogs` calls: replace their answers.
    let Ok(Value::Array(answers)) = serde_json::from_slice::<Value>(&upstream_body) else {
        return (status, upstream_body).into_response();
    };
    let patch = |answer: Value| {
        if over_limit.contains(&answer["id"]) { inner.logs_limit_error(answer["id"].clone()) } else { answer }
    };
    json_response(status, &answers.into_iter().map(patch).collect())
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;

    /// A fake upstream answering `eth_blockNumber` and `eth_getLogs` with fixed JSON; only for testing the proxy.
    async fn fake_upstream() -> Url {
        fn answer(call: &Value) -> Value {
            let result = match call["method"].as_str() {
                Some("eth_blockNumber") => json!("0x10"),
                Some("eth_getLogs") => json!([{"address": "0x0000000000000000000000000000000000000001", "data": "0x"}]),
                _ => return json!({"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32601, "message": "nope"}}),
            };
            json!({"jsonrpc": "2.0", "id": call["id"], "result": result})
        }
        let app = Router::new().route(
            "/",
            post(|body: Bytes| async move {
                let request: Value = serde_json::from_slice(&body).unwrap();
                let body = match &request {
                    Value::Array(calls) => calls.iter().map(answer).collect(),
                    call => answer(call),
                };
                json_response(StatusCode::OK, &body)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    async fn start_proxy(faults: Faults) -> (ChaosProxy, Url) {
        let upstream = fake_upstream().await;
        (ChaosProxy::start(upstream.clone(), faults).await.unwrap(), upstream)
    }

    /// Posts `body` and returns the status, the `Retry-After` header and the body.
    async fn call(url: &Url, body: &Value) -> (StatusCode, Option<String>, String) {
        let response = reqwest::Client::new().post(url.clone()).json(body).send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        (status, retry_after, response.text().await.unwrap())
    }

    fn block_number(id: u64) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "method": "eth_blockNumber", "params": []})
    }

    fn get_logs(id: u64, from: &str, to: &str) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "method": "eth_getLogs", "params": [{"fromBlock": from, "toBlock": to}]})
    }

    fn all_faults() -> Faults {
        let delay_for = Duration::from_millis(10);
        Faults { error: 1.0, delay: 1.0, delay_for, rate_limit: 1.0, truncate: 1.0, garbage: 1.0, ..Faults::default() }
    }

    #[tokio::test]
    async fn disabled_proxy_forwards_everything_untouched() {
        let (proxy, upstream) = start_proxy(Faults { max_log_blocks: Some(100), ..all_faults() }).await;
        proxy.set_enabled(false);
        let batch = json!([block_number(1), get_logs(2, "0x0", "0x63")]);
        for request in [block_number(7), get_logs(8, "0x1", "0x10"), batch] {
            assert_eq!(call(proxy.url(), &request).await, call(&upstream, &request).await);
        }
        assert_eq!(proxy.stats(), ChaosStats { requests: 3, forwarded: 3, ..ChaosStats::default() });
    }

    #[tokio::test]
    async fn error_fault_answers_json_rpc_and_http_errors() {
        let (proxy, _) = start_proxy(Faults { error: 1.0, seed: 7, ..Faults::default() }).await;
        let (mut rpc_errors, mut http_errors) = (0, 0);
        for id in 0..30 {
            let (status, _, body) = call(proxy.url(), &block_number(id)).await;
            if status == StatusCode::OK {
                let body: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(body["id"], id);
                assert_eq!(body["error"]["code"], -32603);
                rpc_errors += 1;
            } else {
                assert!([500, 502, 503].contains(&status.as_u16()), "{status}");
                assert!(serde_json::from_str::<Value>(&body).is_err());
                http_errors += 1;
            }
        }
        assert!(rpc_errors > 0 && http_errors > 0, "{rpc_errors} {http_errors}");
        assert_eq!(proxy.stats(), ChaosStats { requests: 30, errors: 30, ..ChaosStats::default() });
    }

    #[tokio::test]
    async fn rate_limit_fault_answers_429() {
        let (proxy, _) = start_proxy(Faults { rate_limit: 1.0, ..Faults::default() }).await;
        let (status, retry_after, body) = call(proxy.url(), &block_number(3)).await;
        assert_eq!((status, retry_after.as_deref()), (StatusCode::TOO_MANY_REQUESTS, Some("1")));
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], 429);
        assert_eq!(proxy.stats(), ChaosStats { requests: 1, rate_limits: 1, ..ChaosStats::default() });
    }

    #[tokio::test]
    async fn garbage_fault_answers_html() {
        let (proxy, _) = start_proxy(Faults { garbage: 1.0, ..Faults::default() }).await;
        let (status, _, body) = call(proxy.url(), &block_number(3)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("<html>") && serde_json::from_str::<Value>(&body).is_err());
        assert_eq!(proxy.stats(), ChaosStats { requests: 1, garbage: 1, ..ChaosStats::default() });
    }

    #[tokio::test]
    async fn truncate_fault_answers_half_the_body() {
        let (proxy, upstream) = start_proxy(Faults { truncate: 1.0, ..Faults::default() }).await;
        let (_, _, full) = call(&upstream, &get_logs(4, "0x0", "0x1")).await;
        let (status, _, body) = call(proxy.url(), &get_logs(4, "0x0", "0x1")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, &full[..full.len() / 2]));
        assert!(serde_json::from_str::<Value>(&body).is_err());
        assert_eq!(proxy.stats(), ChaosStats { requests: 1, forwarded: 1, truncations: 1, ..ChaosStats::default() });
    }

    #[tokio::test]
    async fn delay_fault_outlasts_the_client_timeout() {
        let delay_for = Duration::from_millis(300);
        let (proxy, upstream) = start_proxy(Faults { delay: 1.0, delay_for, ..Faults::default() }).await;
        let impatient = reqwest::Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
        let error = impatient.post(proxy.url().clone()).json(&block_number(1)).send().await.unwrap_err();
        assert!(error.is_timeout(), "{error}");
        let started = tokio::time::Instant::now();
        assert_eq!(call(proxy.url(), &block_number(2)).await, call(&upstream, &block_number(2)).await);
        assert!(started.elapsed() >= delay_for);
        assert_eq!(proxy.stats().delays, 2);
    }

    #[tokio::test]
    async fn logs_limit_triggers_only_above_the_span() {
        let (proxy, _) = start_proxy(Faults { max_log_blocks: Some(100), ..Faults::default() }).await;
        proxy.set_enabled(false);
        for (from, to) in [("0x0", "0x63"), ("0x64", "0x64"), ("earliest", "0x63"), ("latest", "latest")] {
            let (_, _, body) = call(proxy.url(), &get_logs(1, from, to)).await;
            assert!(serde_json::from_str::<Value>(&body).unwrap()["result"].is_array(), "{from}..{to}: {body}");
        }
        let mut messages = Vec::new();
        let too_wide = [("0x0", "0x64"), ("0x10", "latest"), ("0x0", "0xffff"), ("0x1", "0x65"), ("0x0", "0x64")];
        for (id, (from, to)) in too_wide.into_iter().enumerate() {
            let (status, _, body) = call(proxy.url(), &get_logs(id as u64, from, to)).await;
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!((status, &body["id"]), (StatusCode::OK, &json!(id)), "{from}..{to}");
            messages.push(body["error"]["message"].as_str().unwrap().to_owned());
        }
        assert_eq!(messages, LOGS_LIMIT_ERRORS.map(|(_, message)| message));
        let stats = proxy.stats();
        assert_eq!((stats.logs_limits, stats.forwarded), (5, 4));
    }

    #[tokio::test]
    async fn batches_are_forwarded_and_faulted_whole() {
        let (proxy, upstream) = start_proxy(Faults { max_log_blocks: Some(10), ..Faults::default() }).await;
        let batch = json!([block_number(1), get_logs(2, "0x0", "0x9")]);
        assert_eq!(call(proxy.url(), &batch).await, call(&upstream, &batch).await);

        let (_, _, body) = call(proxy.url(), &json!([block_number(1), get_logs(2, "0x0", "0xa")])).await;
        let answers: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((&answers[0]["result"], &answers[1]["error"]["code"]), (&json!("0x10"), &json!(-32005)));

        let (proxy, _) = start_proxy(Faults { error: 1.0, seed: 1, ..Faults::default() }).await;
        let mut rpc_errors = 0;
        for _ in 0..10 {
            let (status, _, body) = call(proxy.url(), &batch).await;
            if status == StatusCode::OK {
                let answers: Vec<Value> = serde_json::from_str(&body).unwrap();
                let ids: Vec<&Value> = answers.iter().map(|answer| &answer["id"]).collect();
                assert_eq!(ids, [&json!(1), &json!(2)]);
                assert_eq!(answers[1]["error"]["code"], -32603);
                rpc_errors += 1;
            }
        }
        assert!(rpc_errors > 0);
        assert_eq!(proxy.stats(), ChaosStats { requests: 10, errors: 10, ..ChaosStats::default() });
    }

    #[tokio::test]
    async fn down_proxy_refuses_and_shutdown_stops_it() {
        let (proxy, _) = start_proxy(Faults::default()).await;
        proxy.set_down(true);
        assert_eq!(call(proxy.url(), &block_number(1)).await.0, StatusCode::SERVICE_UNAVAILABLE);
        proxy.set_down(false);
        assert_eq!(call(proxy.url(), &block_number(1)).await.0, StatusCode::OK);
        assert_eq!(proxy.stats(), ChaosStats { requests: 2, forwarded: 1, refused: 1, ..ChaosStats::default() });
        let url = proxy.url().clone();
        proxy.shutdown().await;
        assert!(reqwest::Client::new().post(url).json(&block_number(1)).send().await.is_err());
    }
}
