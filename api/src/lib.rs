//! The prova HTTP API (`prova serve`): provenance and status queries answered from the indexed Postgres.
//!
//! Every fact carries its chain pointers, so a client can check it against the chain. Errors are JSON:
//! `{ "error": { "code", "message" } }`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub mod cache;
pub mod error;
pub mod explorer;
pub mod extract;
pub mod heavy;
pub mod layers;
pub mod routes;
#[cfg(test)]
mod testing;
pub mod views;

pub use error::ApiError;
pub use layers::{ApiConfig, RateLimit, Readiness};

/// Largest request body accepted, unless a route sets its own limit.
///
/// The limit is enforced by the body extractors ([`extract::ApiJson`]), so an oversized body gets our JSON 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Largest manifest upload accepted (manifests of big models list many files).
pub const MAX_MANIFEST_BODY_BYTES: usize = 32 << 20;

/// Largest output-batch leaf upload accepted (a 4096-leaf batch is about 1.3 MB of JSON; this allows ~200k leaves).
pub const MAX_OUTPUT_BATCH_BODY_BYTES: usize = 64 << 20;

/// The largest body the route with this template takes.
pub fn max_body_bytes(route: Option<&str>) -> usize {
    match route {
        Some("/v1/model-versions/{version_hash}/manifest") => MAX_MANIFEST_BODY_BYTES,
        Some("/v1/output-batches/{root}/leaves") => MAX_OUTPUT_BATCH_BODY_BYTES,
        _ => MAX_BODY_BYTES,
    }
}

/// Shared state of every handler. Build it with [`AppState::new`]; its fields are those of [`Shared`].
///
/// One `Arc`, so the per-request clones of the handlers and middleware cost one reference count, not one per field.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] holds.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The API's Postgres pool for reads: the read replica's when one is set ([`AppState::with_read_replica`]),
    /// else the same pool as [`Shared::primary`]. Every connection runs with `statement_timeout` at the request
    /// timeout (see [`AppState::new`]).
    pub pool: PgPool,
    /// The pool of the primary database, for writes (manifest and leaf uploads) and for the reads that must see
    /// them (the checks before an upload), with the same `statement_timeout`. Without a read replica, reads use
    /// it too.
    pub primary: PgPool,
    /// What the primary's pool was built from, to rebuild it when the request timeout changes.
    database: PoolBase,
    /// What the read replica's pool was built from, when reads go to a replica.
    read_database: Option<PoolBase>,
    /// Addresses the `trust` reputation algorithm starts from when a query names no `seeds`.
    pub trust_seeds: Arc<Vec<Address>>,
    /// Feedback sets and scores of the reputation routes, kept between requests, and the limits of scoring (see
    /// [`routes::agents::cache`]).
    pub reputation: Arc<routes::agents::cache::ReputationCache>,
    /// Limits, CORS, caching and readiness settings.
    pub config: Arc<ApiConfig>,
    /// Request metrics, served at `/metrics`.
    pub metrics: Arc<layers::ApiMetrics>,
    /// The per-IP rate limiter, when [`ApiConfig::rate_limit`] is set.
    pub limiter: Option<Arc<layers::Limiter>>,
    /// The cache of point lookups, invalidated by the database's commits ([`cache`]), when turned on with
    /// [`AppState::with_response_cache`].
    pub response_cache: Option<Arc<cache::ResponseCache>>,
    /// Permits for CPU-heavy request bodies ([`heavy`]).
    pub heavy: heavy::HeavyWork,
}

impl Shared {
    /// Rebuilds the pools for the configured request timeout: the primary's, and the read pool (the replica's, or
    /// the primary's own).
    fn rebuild_pools(&mut self) {
        let timeout = self.config.request_timeout;
        self.primary = self.database.pool(timeout);
        self.pool = match &self.read_database {
            Some(replica) => replica.pool(timeout),
            None => self.primary.clone(),
        };
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The connect options and pool settings the API's pool is built from.
#[derive(Debug, Clone)]
struct PoolBase {
    options: PgPoolOptions,
    connect: Arc<PgConnectOptions>,
}

impl PoolBase {
    /// The settings of `pool`.
    fn of(pool: &PgPool) -> Self {
        Self { options: pool.options().clone(), connect: pool.connect_options() }
    }

    /// A pool with these settings whose every connection runs with `statement_timeout = timeout`, so Postgres
    /// itself cancels a statement still running when its request is stopped (a dropped future does not stop the
    /// server). Connections open on first use.
    fn pool(&self, timeout: Duration) -> PgPool {
        let millis = timeout.as_millis().clamp(1, i32::MAX as u128);
        self.options
            .clone()
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(format!("SET statement_timeout = {millis}").as_str()).await?;
                    Ok(())
                })
            })
            .connect_lazy_with((*self.connect).clone())
    }
}

impl AppState {
    /// State over the database of `pool`, with no default trust seeds and the default [`ApiConfig`] (no rate limit).
    ///
    /// The API does not query through `pool` itself but through a pool of its own with the same connect options
    /// and settings (size, acquire timeout), whose every connection runs with `statement_timeout` equal to the
    /// request timeout ([`ApiConfig::request_timeout`]): Postgres cancels a statement once its request is answered
    /// 503, instead of running it on. `pool`'s own `after_connect` hook, if any, is not used. Drop `pool` unless
    /// something else uses it. Call it inside a Tokio runtime (the new pool starts its maintenance task there).
    pub fn new(pool: PgPool) -> Self {
        let database = PoolBase::of(&pool);
        let primary = database.pool(ApiConfig::default().request_timeout);
        Self(Arc::new(Shared {
            pool: primary.clone(),
            primary,
            database,
            read_database: None,
            trust_seeds: Default::default(),
            reputation: Default::default(),
            config: Default::default(),
            metrics: Default::default(),
            limiter: None,
            response_cache: None,
            heavy: Default::default(),
        }))
    }

    /// Sets the default seeds of the `trust` algorithm.
    pub fn with_trust_seeds(mut self, seeds: Vec<Address>) -> Self {
        Arc::make_mut(&mut self.0).trust_seeds = Arc::new(seeds);
        self
    }

    /// Sets the limits, CORS, caching and readiness settings (and rebuilds the pool for the request timeout).
    pub fn with_config(mut self, config: ApiConfig) -> Self {
        let shared = Arc::make_mut(&mut self.0);
        shared.limiter = config.rate_limit.map(|limit| Arc::new(layers::Limiter::new(limit)));
        shared.config = Arc::new(config);
        shared.rebuild_pools();
        self
    }

    /// Sends reads to the streaming replica of `replica_pool` (`prova serve --read-database-url`); writes, and the
    /// reads that must see them, stay on the primary the state was built with. As in [`AppState::new`], the API
    /// queries through a pool of its own with `replica_pool`'s settings and the request timeout as
    /// `statement_timeout`. `/readyz` and `/v1/status` then report the replica's lag ([`ApiConfig::readiness`]).
    pub fn with_read_replica(mut self, replica_pool: PgPool) -> Self {
        let shared = Arc::make_mut(&mut self.0);
        shared.read_database = Some(PoolBase::of(&replica_pool));
        shared.rebuild_pools();
        self
    }

    /// Whether reads go to a read replica ([`AppState::with_read_replica`]).
    pub fn has_read_replica(&self) -> bool {
        self.read_database.is_some()
    }

    /// Turns on the cache of point lookups ([`cache`]), holding up to `capacity_bytes` of answers: it follows the
    /// primary's commits over a connection of its own (and, with a read replica, waits for the replica to replay
    /// each) and is live once this returns. Set the read replica and the config first. Fails when that connection
    /// cannot listen.
    pub async fn with_response_cache(mut self, capacity_bytes: u64) -> sqlx::Result<Self> {
        let cache = cache::ResponseCache::new(capacity_bytes);
        let replica = self.has_read_replica().then(|| self.pool.clone());
        cache.follow(self.primary.clone(), replica).await?;
        Arc::make_mut(&mut self.0).response_cache = Some(Arc::new(cache));
        Ok(self)
    }

    /// Sets the limits of reputation scoring (work per computation, computations at once); this starts an empty
    /// reputation cache.
    pub fn with_reputation_limits(mut self, limits: routes::agents::cache::ScoringLimits) -> Self {
        Arc::make_mut(&mut self.0).reputation = Arc::new(routes::agents::cache::ReputationCache::new(limits));
        self
    }
}

/// The whole application: routes, JSON fallbacks for 404 and 405, and the [`layers`] (outermost first): request
/// id, access log, panic catcher, metrics, JSON errors, CORS, rate limit, timeout, response cache, cache headers,
/// heavy-body gate, body limit.
pub fn app(state: AppState) -> Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<_>| {
            let id = request.headers().get(layers::REQUEST_ID).and_then(|value| value.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", id, method = %request.method(), uri = %request.uri())
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    routes::router()
        .merge(explorer::router())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(from_fn_with_state(state.clone(), heavy::gate))
        .layer(from_fn_with_state(state.clone(), layers::cache_headers))
        .layer(from_fn_with_state(state.clone(), cache::serve_cached))
        .layer(from_fn_with_state(state.clone(), layers::timeout))
        .layer(from_fn_with_state(state.clone(), layers::rate_limit))
        .layer(layers::cors(&state.config.cors_origins))
        .layer(from_fn(layers::json_errors))
        .layer(from_fn_with_state(state.clone(), layers::record_metrics))
        .layer(CatchPanicLayer::custom(layers::panic_response))
        .layer(PropagateRequestIdLayer::new(layers::REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(layers::REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves, then stops accepting connections and drains the
/// requests in flight before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local: SocketAddr = listener.local_addr()?;
    tracing::info!(%local, "API listening");
    axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: draining requests in flight");
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::call;
    use axum::http::StatusCode;
    use serde_json::Value;

    const VERSION: &str = "0xAbCd000000000000000000000000000000000000000000000000000000000001";

    async fn seed_version(pool: &PgPool) {
        sqlx::query(
            "INSERT INTO model_version_registered (chain_id, tx_hash, log_index, contract, block_number, block_hash,
               block_time, version_hash, model_id, publisher, parent, attestor, metadata_uri, metadata_hash)
             VALUES (31337, $1, 3, $2, 10, $3, to_timestamp(1700000000), $4, $5, $6, $7, $8, 'ipfs://card', $7)",
        )
        .bind(vec![0x11u8; 32])
        .bind(vec![0xAAu8; 20])
        .bind(vec![0x22u8; 32])
        .bind(VERSION.parse::<alloy::primitives::B256>().unwrap().to_vec())
        .bind(vec![0x33u8; 32])
        .bind(vec![0xBBu8; 20])
        .bind(vec![0u8; 32])
        .bind(vec![0xCCu8; 20])
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO indexer_cursors (chain_id, contract, next_block, head_block) VALUES (31337, $1, 15, 14)",
        )
        .bind(vec![0xAAu8; 20])
        .execute(pool)
        .await
        .unwrap();
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn model_version_in_lowercase_hex_with_pointers(pool: PgPool) {
        seed_version(&pool).await;
        let (status, answer) = call(pool, "GET", &format!("/v1/model-versions/{VERSION}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["version_hash"], VERSION.to_lowercase());
        assert_eq!((answer["publisher"].clone(), answer["claim"].clone()), (Value::Null, Value::Null));
        assert_eq!(answer["claims"].as_array().unwrap().len(), 1);
        let body = &answer["claims"][0];
        assert_eq!(body["version_hash"], VERSION.to_lowercase());
        assert_eq!(body["publisher"], format!("0x{}", "bb".repeat(20)));
        assert_eq!(body["parent"], Value::Null);
        assert_eq!(body["metadata_hash"], Value::Null);
        assert_eq!(body["publisher_name"], Value::Null);
        assert_eq!(body["chain"]["contract"], format!("0x{}", "aa".repeat(20)));
        assert_eq!(body["chain"]["log_index"], 3);
        assert_eq!(body["chain"]["confirmations"], 5);
        assert_eq!(body["registered_at"], "2023-11-14T22:13:20Z");
        assert_eq!((body["committed_at"].clone(), body["committed_block"].clone()), (Value::Null, Value::Null));
        assert_eq!(body["priority_block"], 10);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn chain_filter_applies(pool: PgPool) {
        seed_version(&pool).await;
        let (status, _) = call(pool.clone(), "GET", &format!("/v1/model-versions/{VERSION}?chain_id=1")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = call(pool, "GET", &format!("/v1/model-versions/{VERSION}?chain_id=abc")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_query");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn finality_and_min_confirmations(pool: PgPool) {
        seed_version(&pool).await;
        let uri = format!("/v1/model-versions/{VERSION}");
        let (_, body) = call(pool.clone(), "GET", &uri).await;
        assert_eq!(body["claims"][0]["chain"]["finality"], "confirmed");
        // Block 10 with head 14: five confirmations.
        let (status, _) = call(pool.clone(), "GET", &format!("{uri}?min_confirmations=5")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(pool.clone(), "GET", &format!("{uri}?min_confirmations=6")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        sqlx::query("UPDATE indexer_cursors SET finalized_block = 10").execute(&pool).await.unwrap();
        let (_, body) = call(pool.clone(), "GET", &uri).await;
        assert_eq!(body["claims"][0]["chain"]["finality"], "finalized");
        sqlx::query("UPDATE indexer_cursors SET head_block = 9, finalized_block = 8").execute(&pool).await.unwrap();
        let (_, body) = call(pool, "GET", &uri).await;
        assert_eq!(body["claims"][0]["chain"]["finality"], "pending");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn every_failure_is_a_json_error(pool: PgPool) {
        let cases = [
            ("GET", "/v1/model-versions/0x12", StatusCode::BAD_REQUEST, "invalid_hash"),
            ("GET", &format!("/v1/model-versions/0x{}", "g".repeat(64)), StatusCode::BAD_REQUEST, "invalid_hash"),
            ("GET", &format!("/v1/model-versions/0x{}", "0".repeat(64)), StatusCode::NOT_FOUND, "not_found"),
            ("GET", "/v1/publishers/0x1234", StatusCode::BAD_REQUEST, "invalid_address"),
            ("GET", &format!("/v1/publishers/0x{}", "a".repeat(40)), StatusCode::NOT_FOUND, "not_found"),
            ("POST", "/v1/status", StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ("GET", "/v2/nothing", StatusCode::NOT_FOUND, "not_found"),
        ];
        for (method, uri, expected, code) in cases {
            let (status, body) = call(pool.clone(), method, uri).await;
            assert_eq!(status, expected, "{method} {uri}");
            assert_eq!(body["error"]["code"], code, "{method} {uri}");
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn status_reports_lag(pool: PgPool) {
        let (_, empty) = call(pool.clone(), "GET", "/v1/status").await;
        assert_eq!(empty["chains"], serde_json::json!([]));
        seed_version(&pool).await;
        let (_, body) = call(pool, "GET", "/v1/status").await;
        assert_eq!(body["chains"][0]["indexed_block"], 14);
        assert_eq!(body["chains"][0]["lag_blocks"], 0);
        assert_eq!(body["chains"][0]["kind"], "provenance");
        assert_eq!(body["lag_by_chain"][0]["chain_id"], 31337);
        assert_eq!(body["lag_by_chain"][0]["lag_blocks"], 0);
    }
    /// Sends `request` to an app with `config`; returns the status, headers and body bytes.
    async fn raw(
        pool: PgPool,
        config: ApiConfig,
        request: axum::http::Request<axum::body::Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        use tower::ServiceExt;
        let response = app(AppState::new(pool).with_config(config)).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec())
    }

    fn get(uri: &str) -> axum::http::request::Builder {
        axum::http::Request::builder().uri(uri)
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn etag_and_cache_control_follow_finality(pool: PgPool) {
        use axum::http::header;
        seed_version(&pool).await;
        let uri = format!("/v1/model-versions/{VERSION}");
        let request = || get(&uri).body(axum::body::Body::empty()).unwrap();
        // Confirmed: revalidate every time.
        let (status, headers, _) = raw(pool.clone(), ApiConfig::default(), request()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        let etag = headers[header::ETAG].clone();
        assert!(etag.to_str().unwrap().starts_with('"'));
        // The same answer: 304 without a body.
        let conditional =
            get(&uri).header(header::IF_NONE_MATCH, etag.clone()).body(axum::body::Body::empty()).unwrap();
        let (status, headers, body) = raw(pool.clone(), ApiConfig::default(), conditional).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(headers[header::ETAG], etag);
        assert!(body.is_empty());
        // Finalized: cacheable for the settled max age; the answer changed, so the old tag no longer matches.
        sqlx::query("UPDATE indexer_cursors SET finalized_block = 12").execute(&pool).await.unwrap();
        let config = ApiConfig { settled_max_age_secs: 120, ..ApiConfig::default() };
        let conditional =
            get(&uri).header(header::IF_NONE_MATCH, etag.clone()).body(axum::body::Body::empty()).unwrap();
        let (status, headers, _) = raw(pool.clone(), config, conditional).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=120");
        assert_ne!(headers[header::ETAG], etag);
        // Pending: never stored.
        sqlx::query("UPDATE indexer_cursors SET head_block = 9, finalized_block = NULL").execute(&pool).await.unwrap();
        let (_, headers, _) = raw(pool.clone(), ApiConfig::default(), request()).await;
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        // Errors are never stored either.
        let missing = get(&format!("/v1/model-versions/0x{}", "0".repeat(64))).body(axum::body::Body::empty()).unwrap();
        let (status, headers, _) = raw(pool, ApiConfig::default(), missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn request_ids_are_set_or_echoed(pool: PgPool) {
        let (_, headers, _) =
            raw(pool.clone(), ApiConfig::default(), get("/healthz").body(axum::body::Body::empty()).unwrap()).await;
        let id = headers[layers::REQUEST_ID].to_str().unwrap().to_owned();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        let mine = get("/v2/nowhere").header("x-request-id", "trace-me-42").body(axum::body::Body::empty()).unwrap();
        let (status, headers, _) = raw(pool, ApiConfig::default(), mine).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[layers::REQUEST_ID], "trace-me-42");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_burst_gets_429_with_retry_after(pool: PgPool) {
        let limit = RateLimit { per_second: 1.try_into().unwrap(), burst: 3.try_into().unwrap() };
        let state = AppState::new(pool).with_config(ApiConfig { rate_limit: Some(limit), ..ApiConfig::default() });
        let app = app(state);
        let mut statuses = Vec::new();
        for _ in 0..5 {
            use tower::ServiceExt;
            let response =
                app.clone().oneshot(get("/v1/status").body(axum::body::Body::empty()).unwrap()).await.unwrap();
            statuses.push(response.status());
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                assert_eq!(response.headers()[axum::http::header::RETRY_AFTER], "1");
                let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
                let body: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(body["error"]["code"], "rate_limited");
            }
        }
        assert_eq!(statuses[..3], [StatusCode::OK; 3]);
        assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 2]);
        // Probes are never limited.
        use tower::ServiceExt;
        let response = app.oneshot(get("/healthz").body(axum::body::Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(pool: PgPool) {
        use tower::ServiceExt;
        let limit = RateLimit { per_second: 1.try_into().unwrap(), burst: 2.try_into().unwrap() };
        let status_of = |app: Router, forwarded: &'static str| async move {
            let request = get("/v1/status").header("x-forwarded-for", forwarded).body(axum::body::Body::empty());
            app.oneshot(request.unwrap()).await.unwrap().status()
        };
        let config = ApiConfig { rate_limit: Some(limit), trusted_proxy_hops: 1, ..ApiConfig::default() };
        let proxied = app(AppState::new(pool.clone()).with_config(config));
        // The proxy appends the real client after whatever the client wrote: a forged entry changes nothing.
        assert_eq!(status_of(proxied.clone(), "203.0.113.7").await, StatusCode::OK);
        assert_eq!(status_of(proxied.clone(), "198.51.100.1, 203.0.113.7").await, StatusCode::OK);
        assert_eq!(status_of(proxied.clone(), "198.51.100.2, 203.0.113.7").await, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(status_of(proxied.clone(), "203.0.113.8").await, StatusCode::OK);
        // Without trusted hops the header is ignored: every request is the same (peer) client.
        let direct =
            app(AppState::new(pool).with_config(ApiConfig { rate_limit: Some(limit), ..ApiConfig::default() }));
        assert_eq!(status_of(direct.clone(), "203.0.113.1").await, StatusCode::OK);
        assert_eq!(status_of(direct.clone(), "203.0.113.2").await, StatusCode::OK);
        assert_eq!(status_of(direct, "203.0.113.3").await, StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn the_client_is_counted_from_the_right_of_x_forwarded_for() {
        use axum::http::HeaderMap;
        let peer: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        let headers = |values: &[&str]| {
            let mut map = HeaderMap::new();
            for value in values {
                map.append("x-forwarded-for", value.parse().unwrap());
            }
            map
        };
        let client = |values: &[&str], hops| layers::client_ip(peer, &headers(values), hops).to_string();
        assert_eq!(client(&["1.1.1.1, 2.2.2.2"], 0), "10.0.0.1");
        assert_eq!(client(&["1.1.1.1, 2.2.2.2"], 1), "2.2.2.2");
        assert_eq!(client(&["1.1.1.1", "2.2.2.2, 3.3.3.3"], 2), "2.2.2.2");
        assert_eq!(client(&["2001:db8::1"], 1), "2001:db8::1");
        // Fewer entries than hops: the leftmost; none or garbage: the peer.
        assert_eq!(client(&["1.1.1.1"], 3), "1.1.1.1");
        assert_eq!(client(&[], 1), "10.0.0.1");
        assert_eq!(client(&["not-an-ip"], 1), "10.0.0.1");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn readyz_fails_while_the_indexer_lags(pool: PgPool) {
        let (status, _) = call(pool.clone(), "GET", "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        seed_version(&pool).await;
        sqlx::query("UPDATE indexer_cursors SET head_seen_at = now()").execute(&pool).await.unwrap();
        let (status, body) = call(pool.clone(), "GET", "/readyz").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["max_lag_blocks"], 0);
        sqlx::query("UPDATE indexer_cursors SET head_block = 1000").execute(&pool).await.unwrap();
        let (status, body) = call(pool.clone(), "GET", "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], "not_ready");
        assert!(body["error"]["message"].as_str().unwrap().contains("lags its head by 986 blocks"), "{body}");
        sqlx::query("UPDATE indexer_cursors SET head_block = 14, head_seen_at = now() - interval '1 hour'")
            .execute(&pool)
            .await
            .unwrap();
        let (status, body) = call(pool, "GET", "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body["error"]["message"].as_str().unwrap().contains("last saw the head"), "{body}");
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn metrics_count_requests_by_route_and_status(pool: PgPool) {
        use tower::ServiceExt;
        let app = app(AppState::new(pool));
        for uri in ["/v1/status", "/v1/model-versions/0x12", "/nowhere"] {
            app.clone().oneshot(get(uri).body(axum::body::Body::empty()).unwrap()).await.unwrap();
        }
        let response = app.oneshot(get("/metrics").body(axum::body::Body::empty()).unwrap()).await.unwrap();
        let text =
            String::from_utf8(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
        for expected in [
            r#"prova_api_http_requests_total{route="/v1/status",method="GET",status="2xx"} 1"#,
            r#"prova_api_http_requests_total{route="/v1/model-versions/{version_hash}",method="GET",status="4xx"} 1"#,
            r#"prova_api_http_requests_total{route="unmatched",method="GET",status="4xx"} 1"#,
            r#"prova_api_http_request_duration_seconds_bucket{le="0.0002",route="/v1/status",method="GET",status="2xx"}"#,
        ] {
            assert!(text.contains(expected), "{expected} missing from\n{text}");
        }
    }

    /// The attack: invented method tokens and paths, most of them refused with a 429, each used to add a permanent
    /// counter and histogram. The labels now come from fixed sets, so the series stay few.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn invented_methods_and_paths_add_no_metric_series(pool: PgPool) {
        use tower::ServiceExt;
        let limit = RateLimit { per_second: 1.try_into().unwrap(), burst: 5.try_into().unwrap() };
        let app = app(AppState::new(pool).with_config(ApiConfig { rate_limit: Some(limit), ..ApiConfig::default() }));
        let mut statuses = std::collections::BTreeSet::new();
        for i in 0..300 {
            let method = format!("X{i}-ATTACK");
            let path = match i % 3 {
                0 => format!("/v1/status?i={i}"),
                1 => format!("/v1/model-versions/0x{i:064x}"),
                _ => format!("/junk/{i}/{}", "z".repeat(i % 50)),
            };
            let request = get(&path).method(method.as_str()).body(axum::body::Body::empty()).unwrap();
            statuses.insert(app.clone().oneshot(request).await.unwrap().status());
        }
        for method in ["GET", "PATCH", "TRACE", "CONNECT"] {
            let request = get("/v1/status").method(method).body(axum::body::Body::empty()).unwrap();
            statuses.insert(app.clone().oneshot(request).await.unwrap().status());
        }
        assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
        let response = app.oneshot(get("/metrics").body(axum::body::Body::empty()).unwrap()).await.unwrap();
        let text =
            String::from_utf8(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
        assert!(!text.contains("ATTACK") && !text.contains("junk") && !text.contains("0x000"), "{text}");
        let series = |name: &str| text.lines().filter(|line| line.starts_with(&format!("{name}{{"))).count();
        // Routes hit: the status route, the version route and `unmatched`; methods: GET and other; classes: 2xx, 4xx.
        assert!(series("prova_api_http_requests_total") <= 3 * 2 * 2, "{text}");
        assert!(series("prova_api_http_request_duration_seconds_count") <= 3 * 2 * 2, "{text}");
        // In flight: those routes and `/metrics` itself.
        assert!(series("prova_api_http_requests_in_flight") <= 4, "{text}");
        for line in text.lines().filter(|line| line.starts_with("prova_api_http_requests_total{")) {
            assert!(line.contains(r#"method="other""#) || line.contains(r#"method="GET""#), "{line}");
            assert!(["1xx", "2xx", "3xx", "4xx", "5xx"].iter().any(|c| line.contains(&format!("status=\"{c}\""))));
        }
    }

    #[test]
    fn method_and_status_labels_are_fixed_sets() {
        use axum::http::Method;
        for (method, label) in [
            (Method::GET, "GET"),
            (Method::POST, "POST"),
            (Method::PUT, "PUT"),
            (Method::DELETE, "DELETE"),
            (Method::HEAD, "HEAD"),
            (Method::OPTIONS, "OPTIONS"),
            (Method::PATCH, "other"),
            (Method::from_bytes(b"BREW").unwrap(), "other"),
        ] {
            assert_eq!(layers::method_label(&method), label);
        }
        for (status, label) in [(101, "1xx"), (204, "2xx"), (304, "3xx"), (429, "4xx"), (503, "5xx"), (599, "5xx")] {
            assert_eq!(layers::status_label(StatusCode::from_u16(status).unwrap()), label);
        }
    }

    /// Rate-limit keys: IPv4 per address, IPv6 per /64, IPv4-mapped IPv6 as IPv4.
    #[test]
    fn ipv6_clients_are_keyed_per_64() {
        let key = |ip: &str| layers::rate_limit_key(ip.parse().unwrap()).to_string();
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_ne!(key("203.0.113.7"), key("203.0.113.8"));
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::1"), "::");
    }

    /// The attack: a client holding a /64 sends each request from a new address in it. It now has one budget.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn new_addresses_in_one_ipv6_64_share_one_budget(pool: PgPool) {
        use tower::ServiceExt;
        let limit = RateLimit { per_second: 1.try_into().unwrap(), burst: 3.try_into().unwrap() };
        let config = ApiConfig { rate_limit: Some(limit), trusted_proxy_hops: 1, ..ApiConfig::default() };
        let app = app(AppState::new(pool).with_config(config));
        let status_of = |forwarded: String| {
            let app = app.clone();
            async move {
                let request = get("/v1/status").header("x-forwarded-for", forwarded).body(axum::body::Body::empty());
                app.oneshot(request.unwrap()).await.unwrap().status()
            }
        };
        let mut statuses = Vec::new();
        for i in 1..=10u32 {
            statuses.push(status_of(format!("2001:db8:aa:bb:{i:x}::{i:x}")).await);
        }
        assert_eq!(statuses[..3], [StatusCode::OK; 3]);
        assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 7]);
        // Another /64 is another client.
        assert_eq!(status_of("2001:db8:aa:bc::1".into()).await, StatusCode::OK);
    }

    /// The rate limit charges by cost (`layers::request_cost`): with a burst of 20 tokens, a client asking for
    /// scores with parameters of its own gets 4 answers (5 tokens each), one posting 600 KiB manifests to match gets
    /// 2 (10 tokens each), and neither eats into another client's budget; a plain lookup, and a body declared past
    /// the route's limit (refused unread), cost one token.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn expensive_requests_cost_more_of_the_rate_limit(pool: PgPool) {
        use tower::ServiceExt;
        let limit = RateLimit { per_second: 1.try_into().unwrap(), burst: 20.try_into().unwrap() };
        let config = ApiConfig { rate_limit: Some(limit), trusted_proxy_hops: 1, ..ApiConfig::default() };
        let app = app(AppState::new(pool).with_config(config));
        let admitted = |client: &'static str, request: fn() -> axum::http::request::Builder, body: Vec<u8>| {
            let app = app.clone();
            async move {
                let mut admitted = 0;
                for _ in 0..30 {
                    let request =
                        request().header("x-forwarded-for", client).body(axum::body::Body::from(body.clone()));
                    if app.clone().oneshot(request.unwrap()).await.unwrap().status() != StatusCode::TOO_MANY_REQUESTS {
                        admitted += 1;
                    }
                }
                admitted
            }
        };
        let scores = || get("/v1/agents/31337/1/reputation?algorithm=trust&alpha=0.3&tolerance=0");
        assert_eq!(admitted("10.0.0.1", scores, Vec::new()).await, 4);
        let leaderboard = || get("/v1/agents?sort=reputation&algorithm=bayesian&prior_mean=42");
        assert_eq!(admitted("10.0.0.2", leaderboard, Vec::new()).await, 4);
        let matching = || {
            axum::http::Request::builder()
                .method("POST")
                .uri("/v1/model-versions/match")
                .header("content-type", "application/json")
                .header("content-length", 600 * 1024)
        };
        assert_eq!(admitted("10.0.0.3", matching, vec![b' '; 600 * 1024]).await, 2);
        // A body declared past the route's limit is refused unread (413), for one token.
        let oversized = || {
            axum::http::Request::builder()
                .method("POST")
                .uri("/v1/model-versions/match")
                .header("content-type", "application/json")
                .header("content-length", crate::MAX_BODY_BYTES + 1)
        };
        assert_eq!(admitted("10.0.0.6", oversized, Vec::new()).await, 20);
        let default_scores = || get("/v1/agents/31337/1/reputation?algorithm=trust");
        assert_eq!(admitted("10.0.0.4", default_scores, Vec::new()).await, 20);
        assert_eq!(admitted("10.0.0.5", || get("/v1/status"), Vec::new()).await, 20);
    }

    /// Every query parameter of the scored routes is priced on purpose: either it asks for a computation of its own
    /// (`layers::SCORING_PARAMETERS`, which cost more) or it is one of the others below, so a parameter added to the
    /// routes cannot slip past the cost by being left out of the list.
    #[test]
    fn every_query_parameter_of_the_scored_routes_is_priced() {
        // Chooses among a few presets, each computed once and shared (`algorithm`, `verified_only`), or does not
        // change the scores.
        const OTHERS: [&str; 9] = [
            "algorithm",
            "verified_only",
            "registry",
            "reputation_registry",
            "min_confirmations",
            "sort",
            "chain_id",
            "limit",
            "cursor",
        ];
        let spec = serde_json::to_value(routes::openapi()).unwrap();
        for path in ["/v1/agents/{chain_id}/{agent_id}/reputation", "/v1/agents"] {
            let names: Vec<&str> = spec["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            for name in &names {
                let scoring = layers::SCORING_PARAMETERS.contains(name);
                assert!(scoring != OTHERS.contains(name), "{path}: query parameter {name} is not priced exactly once");
            }
            for name in layers::SCORING_PARAMETERS {
                assert!(names.contains(&name), "{path} has no query parameter {name}");
            }
        }
    }

    /// Postgres itself stops an API statement at the request timeout: a query stuck behind a lock is gone from
    /// `pg_stat_activity` soon after its request was answered 503 (a dropped future alone leaves it running).
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_statement_past_the_timeout_is_cancelled_in_postgres(pool: PgPool) {
        let mut lock = pool.begin().await.unwrap();
        sqlx::query("LOCK TABLE indexer_cursors IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await.unwrap();
        let config = ApiConfig { request_timeout: std::time::Duration::from_secs(1), ..ApiConfig::default() };
        let state = AppState::new(pool.clone()).with_config(config);
        let request = get("/v1/status").body(axum::body::Body::empty()).unwrap();
        let answer = tokio::spawn({
            use tower::ServiceExt;
            app(state.clone()).oneshot(request)
        });
        let stuck = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
                   AND query LIKE '%FROM indexer_cursors ORDER BY chain_id, contract%'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        };
        // The statement reaches Postgres and waits on the lock.
        let started = std::time::Instant::now();
        while stuck().await == 0 {
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "the status query never started");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let response = answer.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        // The lock is still held, yet the statement is gone: Postgres cancelled it.
        let answered = std::time::Instant::now();
        while stuck().await > 0 {
            assert!(answered.elapsed() < std::time::Duration::from_secs(3), "the statement still runs in Postgres");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let timeout: String = sqlx::query_scalar("SHOW statement_timeout").fetch_one(&state.pool).await.unwrap();
        assert_eq!(timeout, "1s");
        lock.rollback().await.unwrap();
    }
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_slow_request_is_stopped_with_a_json_503(pool: PgPool) {
        // A lock `/v1/status` waits on, held past the timeout.
        let mut lock = pool.begin().await.unwrap();
        sqlx::query("LOCK TABLE indexer_cursors IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await.unwrap();
        let config = ApiConfig { request_timeout: std::time::Duration::from_secs(1), ..ApiConfig::default() };
        let started = std::time::Instant::now();
        let (status, _, body) =
            raw(pool.clone(), config, get("/v1/status").body(axum::body::Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "{:?}", started.elapsed());
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "timeout", "{body}");
        lock.rollback().await.unwrap();
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn cors_is_open_by_default_and_configurable(pool: PgPool) {
        use axum::http::header;
        let preflight = || {
            axum::http::Request::builder()
                .method("OPTIONS")
                .uri("/v1/status")
                .header(header::ORIGIN, "https://dapp.example")
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let (status, headers, _) = raw(pool.clone(), ApiConfig::default(), preflight()).await;
        assert!(status.is_success(), "{status}");
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let simple = get("/v1/status").header(header::ORIGIN, "https://dapp.example").body(axum::body::Body::empty());
        let (_, headers, _) = raw(pool.clone(), ApiConfig::default(), simple.unwrap()).await;
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(headers[header::ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap().contains("etag"));
        // Restricted: only the listed origin is allowed.
        let only = || ApiConfig {
            cors_origins: vec![axum::http::HeaderValue::from_static("https://app.example")],
            ..ApiConfig::default()
        };
        let (_, headers, _) = raw(pool.clone(), only(), preflight()).await;
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN), "{headers:?}");
        let allowed = get("/v1/status").header(header::ORIGIN, "https://app.example").body(axum::body::Body::empty());
        let (_, headers, _) = raw(pool, only(), allowed.unwrap()).await;
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
    }
}
