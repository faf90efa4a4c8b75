//! The prova HTTP API (`prova serve`): provenance and status queries answered from the indexed Postgres.
//!
//! Every fact carries its chain pointers, so a client can check it against the chain. Errors are JSON:
//! `{ "error": { "code", "message" } }`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use sqlx::PgPool;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub mod error;
pub mod extract;
pub mod routes;
#[cfg(test)]
mod testing;
pub mod views;

pub use error::ApiError;

/// Largest request body accepted, unless a route sets its own limit.
///
/// The limit is enforced by the body extractors ([`extract::ApiJson`]), so an oversized body gets our JSON 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Largest manifest upload accepted (manifests of big models list many files).
pub const MAX_MANIFEST_BODY_BYTES: usize = 32 << 20;

/// Largest output-batch leaf upload accepted (a 4096-leaf batch is about 1.3 MB of JSON; this allows ~200k leaves).
pub const MAX_OUTPUT_BATCH_BODY_BYTES: usize = 64 << 20;

/// Shared state of every handler. Build it with [`AppState::new`].
#[derive(Debug, Clone)]
pub struct AppState {
    /// The Postgres pool.
    pub pool: PgPool,
    /// Addresses the `trust` reputation algorithm starts from when a query names no `seeds`.
    pub trust_seeds: std::sync::Arc<Vec<alloy::primitives::Address>>,
    /// Feedback sets and scores of the reputation routes, kept between requests (see [`routes::agents::cache`]).
    pub reputation: std::sync::Arc<routes::agents::cache::ReputationCache>,
}

impl AppState {
    /// State over `pool`, with no default trust seeds.
    pub fn new(pool: PgPool) -> Self {
        Self { pool, trust_seeds: Default::default(), reputation: Default::default() }
    }

    /// Sets the default seeds of the `trust` algorithm.
    pub fn with_trust_seeds(mut self, seeds: Vec<alloy::primitives::Address>) -> Self {
        self.trust_seeds = std::sync::Arc::new(seeds);
        self
    }
}

/// The whole application: routes, JSON fallbacks for 404 and 405, body limit, timeout and tracing.
pub fn app(state: AppState) -> Router {
    routes::router()
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(10)))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves, draining in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local: SocketAddr = listener.local_addr()?;
    tracing::info!(%local, "API listening");
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
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
        sqlx::query("INSERT INTO indexer_cursors (chain_id, contract, next_block, head_block) VALUES (31337, $1, 15, 14)")
            .bind(vec![0xAAu8; 20])
            .execute(pool)
            .await
            .unwrap();
    }

    #[sqlx::test(migrator = "prova_indexer::MIGRATOR")]
    async fn model_version_in_lowercase_hex_with_pointers(pool: PgPool) {
        seed_version(&pool).await;
        let (status, body) = call(pool, "GET", &format!("/v1/model-versions/{VERSION}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["version_hash"], VERSION.to_lowercase());
        assert_eq!(body["publisher"], format!("0x{}", "bb".repeat(20)));
        assert_eq!(body["parent"], Value::Null);
        assert_eq!(body["metadata_hash"], Value::Null);
        assert_eq!(body["publisher_name"], Value::Null);
        assert_eq!(body["chain"]["contract"], format!("0x{}", "aa".repeat(20)));
        assert_eq!(body["chain"]["log_index"], 3);
        assert_eq!(body["chain"]["confirmations"], 5);
        assert_eq!(body["registered_at"], "2023-11-14T22:13:20Z");
    }

    #[sqlx::test(migrator = "prova_indexer::MIGRATOR")]
    async fn chain_filter_applies(pool: PgPool) {
        seed_version(&pool).await;
        let (status, _) = call(pool.clone(), "GET", &format!("/v1/model-versions/{VERSION}?chain_id=1")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = call(pool, "GET", &format!("/v1/model-versions/{VERSION}?chain_id=abc")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_query");
    }

    #[sqlx::test(migrator = "prova_indexer::MIGRATOR")]
    async fn finality_and_min_confirmations(pool: PgPool) {
        seed_version(&pool).await;
        let uri = format!("/v1/model-versions/{VERSION}");
        let (_, body) = call(pool.clone(), "GET", &uri).await;
        assert_eq!(body["chain"]["finality"], "confirmed");
        // Block 10 with head 14: five confirmations.
        let (status, _) = call(pool.clone(), "GET", &format!("{uri}?min_confirmations=5")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(pool.clone(), "GET", &format!("{uri}?min_confirmations=6")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        sqlx::query("UPDATE indexer_cursors SET finalized_block = 10").execute(&pool).await.unwrap();
        let (_, body) = call(pool.clone(), "GET", &uri).await;
        assert_eq!(body["chain"]["finality"], "finalized");
        sqlx::query("UPDATE indexer_cursors SET head_block = 9, finalized_block = 8").execute(&pool).await.unwrap();
        let (_, body) = call(pool, "GET", &uri).await;
        assert_eq!(body["chain"]["finality"], "pending");
    }

    #[sqlx::test(migrator = "prova_indexer::MIGRATOR")]
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

    #[sqlx::test(migrator = "prova_indexer::MIGRATOR")]
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
}
