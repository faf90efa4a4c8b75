//! Operations routes: `GET /readyz` (readiness) and `GET /metrics` (Prometheus).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prova_db::DbAddress;
use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Result};

/// The operations routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(readyz)).routes(routes!(metrics))
}

/// A ready instance's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// Indexed contracts checked.
    pub contracts: usize,
    /// The largest lag among them, in blocks.
    pub max_lag_blocks: u64,
    /// The read replica's lag behind the primary; null when the API reads from the primary itself.
    pub replica: Option<crate::routes::status::ReplicaLag>,
}

#[derive(FromRow)]
struct Cursor {
    chain_id: i64,
    contract: DbAddress,
    lag: Option<i64>,
    head_age_secs: Option<f64>,
}

/// Readiness: ready when the database answers within 2 s, every indexed contract is within the lag threshold
/// (`prova serve --ready-max-lag-blocks`) and its indexer has seen the head recently
/// (`--ready-max-head-age-secs`); with a read replica, also when the replica and the primary answer, the replica is
/// in recovery and not too far behind (`--ready-max-replica-lag-secs`; see `docs/replicas.md`). Otherwise 503
/// `not_ready`, saying why.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready for traffic.", body = Ready,
            example = json!({ "status": "ready", "contracts": 4, "max_lag_blocks": 0,
                "replica": { "in_recovery": true, "replay_lag_bytes": 0, "replay_lag_secs": 4.2 } })),
        (status = 503, description = "Not ready: a database is unreachable, an indexer lags, or the read replica \
            lags or no longer follows the primary.",
            body = crate::error::Body<'static>,
            example = json!({ "error": { "code": "not_ready",
                "message": "not ready: chain 1 contract 0x5fbd…0aa3 lags its head by 120 blocks (max 64)" } })),
    ),
)]
async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>> {
    let query = sqlx::query_as::<_, Cursor>(
        "SELECT chain_id, contract, head_block - (next_block - 1) AS lag,
                EXTRACT(EPOCH FROM now() - head_seen_at)::float8 AS head_age_secs
         FROM indexer_cursors ORDER BY chain_id, contract",
    )
    .fetch_all(&state.pool);
    let cursors = match tokio::time::timeout(std::time::Duration::from_secs(2), query).await {
        Ok(Ok(cursors)) => cursors,
        Ok(Err(error)) => {
            // The driver's text names hosts, databases and queries: it goes to the log only.
            tracing::warn!(%error, "readiness: the database query failed");
            return Err(ApiError::NotReady(if state.has_read_replica() {
                "the read replica cannot be queried".into()
            } else {
                "the database cannot be queried".into()
            }));
        }
        Err(_) => {
            return Err(ApiError::NotReady("database did not answer within 2 s".into()));
        }
    };
    // Before the indexer's cursors: a replica behind shows them stale.
    let replica = crate::routes::status::replica_readiness(&state).await?;
    let limits = state.config.readiness;
    let mut max_lag = 0;
    for cursor in &cursors {
        let name = format!("chain {} contract 0x{}", cursor.chain_id, alloy::hex::encode(cursor.contract.0));
        let lag = cursor.lag.unwrap_or(0).max(0) as u64;
        if lag > limits.max_lag_blocks {
            return Err(ApiError::NotReady(format!(
                "{name} lags its head by {lag} blocks (max {})",
                limits.max_lag_blocks
            )));
        }
        if let (Some(max_age), Some(age)) = (limits.max_head_age, cursor.head_age_secs)
            && age > max_age.as_secs_f64()
        {
            return Err(ApiError::NotReady(format!(
                "{name}: the indexer last saw the head {age:.0} s ago (max {} s)",
                max_age.as_secs()
            )));
        }
        max_lag = max_lag.max(lag);
    }
    Ok(Json(Ready { status: "ready", contracts: cursors.len(), max_lag_blocks: max_lag, replica }))
}

/// Prometheus metrics: requests by route, method and status, latency histograms, requests in flight, and
/// rate-limited requests.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Metrics in the OpenMetrics text format.", body = String,
        content_type = "application/openmetrics-text")),
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.encode())
}
