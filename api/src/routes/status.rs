//! `GET /v1/status`: per chain and contract, the indexed, head and finalized blocks, the lag, the last fault and the
//! writer; the worst lag per chain; and, when the API reads from a streaming replica, how far that replica trails the
//! primary ([`replica_lag`], also checked by `/readyz`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use prova_db::DbAddress;
use sqlx::FromRow;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Result};
use crate::layers::Readiness;
pub use prova_views::{ChainLag, ChainStatus, ReplicaLag, Status};

/// The status route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(status))
}

#[derive(FromRow)]
struct Row {
    chain_id: i64,
    contract: DbAddress,
    kind: String,
    next_block: i64,
    head_block: Option<i64>,
    finalized_block: Option<i64>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    writer: Option<String>,
    head_seen_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

/// Indexing progress per chain and contract, the worst lag per chain, and the read replica's lag behind the primary
/// (`replica`, null when the API reads from the primary). The indexing progress is as the database the API reads
/// from sees it: with a replica, it trails by the replica's lag.
#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "operations",
    responses((status = 200, description = "Indexing progress.", body = Status)),
)]
async fn status(State(state): State<AppState>) -> Result<Json<Status>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT chain_id, contract, kind, next_block, head_block, finalized_block, last_error, last_error_at, writer,
                head_seen_at, updated_at
         FROM indexer_cursors ORDER BY chain_id, contract",
    )
    .fetch_all(&state.pool)
    .await?;
    let replica = match replica_lag(&state).await {
        None => None,
        Some(Ok(lag) | Err(LagFailure::Primary(lag))) => Some(lag),
        Some(Err(LagFailure::Replica)) => return Err(ApiError::Unavailable),
    };
    let chains: Vec<ChainStatus> = rows
        .into_iter()
        .map(|row| {
            let indexed = (row.next_block > 0).then(|| row.next_block as u64 - 1);
            let head = row.head_block.map(|h| h as u64);
            Ok(ChainStatus {
                chain_id: row.chain_id as u64,
                contract: row.contract.0,
                kind: row.kind,
                indexed_block: indexed,
                head_block: head,
                finalized_block: row.finalized_block.map(|f| f as u64),
                lag_blocks: head.map(|h| indexed.map_or(h + 1, |i| h.saturating_sub(i))),
                last_error: row.last_error,
                last_error_at: row.last_error_at,
                writer: row.writer,
                head_seen_at: row.head_seen_at,
                updated_at: row.updated_at,
            })
        })
        .collect::<Result<_>>()?;
    let mut lag_by_chain: Vec<ChainLag> = Vec::new();
    for chain in &chains {
        match lag_by_chain.last_mut() {
            Some(lag) if lag.chain_id == chain.chain_id => {
                lag.head_block = lag.head_block.max(chain.head_block);
                lag.finalized_block = lag.finalized_block.max(chain.finalized_block);
                lag.lag_blocks = lag.lag_blocks.max(chain.lag_blocks);
            }
            _ => lag_by_chain.push(ChainLag {
                chain_id: chain.chain_id,
                head_block: chain.head_block,
                finalized_block: chain.finalized_block,
                lag_blocks: chain.lag_blocks,
            }),
        }
    }
    Ok(Json(Status { chains, lag_by_chain, replica }))
}

/// Longest each of the lag queries may take (the replica's, then the primary's).
const LAG_QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the read replica says of its replay.
#[derive(FromRow)]
struct ReplayRow {
    in_recovery: bool,
    /// The position of the last WAL record replayed, as bytes from the start of the WAL.
    replay_lsn: Option<i64>,
    replay_age_secs: Option<f64>,
}

/// Where asking for the replica's lag failed. The driver's error is logged where it happens; it names hosts and
/// databases, so it is never answered.
#[derive(Debug)]
pub(crate) enum LagFailure {
    /// The read replica did not answer (in time).
    Replica,
    /// The primary did not answer (in time); what the replica said, without `replay_lag_bytes`.
    Primary(ReplicaLag),
}

/// Runs `query` within [`LAG_QUERY_TIMEOUT`], logging a failure under `what`.
async fn within_timeout<T>(
    what: &'static str,
    query: impl std::future::Future<Output = sqlx::Result<T>>,
) -> std::result::Result<T, ()> {
    match tokio::time::timeout(LAG_QUERY_TIMEOUT, query).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            tracing::warn!(%error, database = what, "replica lag: the query failed");
            Err(())
        }
        Err(_) => {
            tracing::warn!(database = what, timeout = ?LAG_QUERY_TIMEOUT, "replica lag: no answer in time");
            Err(())
        }
    }
}

/// How far the read replica trails the primary; `None` when the API reads from the primary itself.
///
/// The replica is asked first (whether it is in recovery, the WAL position it has replayed, and the age of the last
/// transaction it replayed: `now() - pg_last_xact_replay_timestamp()`), then the primary for the WAL position it
/// has flushed (`pg_current_wal_flush_lsn()`: WAL not yet flushed cannot have been streamed). Asked in that order,
/// the difference is never below the true lag at the moment the replica answered; it is clamped at 0.
pub(crate) async fn replica_lag(state: &AppState) -> Option<std::result::Result<ReplicaLag, LagFailure>> {
    if !state.has_read_replica() {
        return None;
    }
    let replay = sqlx::query_as::<_, ReplayRow>(
        "SELECT pg_is_in_recovery() AS in_recovery,
                pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::int8 AS replay_lsn,
                EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age_secs",
    )
    .fetch_one(&state.pool);
    let Ok(replay) = within_timeout("replica", replay).await else {
        return Some(Err(LagFailure::Replica));
    };
    let in_recovery = replay.in_recovery;
    let mut lag = ReplicaLag {
        in_recovery,
        replay_lag_bytes: None,
        // Out of recovery, the last replayed transaction stays frozen and its age means nothing.
        replay_lag_secs: replay.replay_age_secs.filter(|_| in_recovery).map(|secs| secs.max(0.0)),
    };
    if !in_recovery {
        return Some(Ok(lag));
    }
    let flushed = sqlx::query_scalar::<_, i64>("SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::int8")
        .fetch_one(&state.primary);
    let Ok(flushed) = within_timeout("primary", flushed).await else {
        return Some(Err(LagFailure::Primary(lag)));
    };
    lag.replay_lag_bytes = replay.replay_lsn.map(|replayed| flushed.saturating_sub(replayed).max(0) as u64);
    Some(Ok(lag))
}

/// `/readyz`'s check of the read replica: `Ok(None)` without one, `Ok(Some(lag))` when it is fit to answer, else
/// 503 `not_ready` saying why (in our words: the database's error is only logged). Unfit: the replica or the
/// primary cannot be queried, the replica is out of recovery (promoted, or no replica at all), or it has not
/// replayed all the primary's flushed WAL and the last transaction it replayed is older than
/// [`Readiness::max_replica_lag`]. Its age alone says nothing: it grows while the primary commits nothing.
pub(crate) async fn replica_readiness(state: &AppState) -> Result<Option<ReplicaLag>> {
    let lag = match replica_lag(state).await {
        None => return Ok(None),
        Some(Ok(lag)) => lag,
        Some(Err(LagFailure::Replica)) => return Err(ApiError::NotReady("the read replica cannot be queried".into())),
        Some(Err(LagFailure::Primary(_))) => {
            return Err(ApiError::NotReady("the primary database cannot be queried".into()));
        }
    };
    if let Some(problem) = replica_problem(&lag, &state.config.readiness) {
        return Err(ApiError::NotReady(problem));
    }
    Ok(Some(lag))
}

/// Why `lag` makes the instance unready under `limits`, if it does.
fn replica_problem(lag: &ReplicaLag, limits: &Readiness) -> Option<String> {
    if !lag.in_recovery {
        return Some("the read replica is not in recovery: it does not follow the primary".into());
    }
    let (Some(max), Some(bytes), Some(secs)) = (limits.max_replica_lag, lag.replay_lag_bytes, lag.replay_lag_secs)
    else {
        return None;
    };
    (bytes > 0 && secs > max.as_secs_f64()).then(|| {
        format!(
            "the read replica has {bytes} bytes of WAL to replay and its last replayed transaction is {secs:.0} s \
             old (max {} s)",
            max.as_secs()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::Value;
    use sqlx::PgPool;
    use sqlx::postgres::PgPoolOptions;
    use tower::ServiceExt;

    async fn get(state: &AppState, uri: &str) -> (StatusCode, Value) {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).expect("every answer is JSON"))
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn without_a_replica_no_lag_is_reported(pool: PgPool) {
        let state = AppState::new(pool);
        assert!(!state.has_read_replica());
        let (status, body) = get(&state, "/v1/status").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["replica"], Value::Null, "{body}");
        let (status, body) = get(&state, "/readyz").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["replica"], Value::Null, "{body}");
    }

    /// A "replica" that is not in recovery (here the primary itself, as a misconfigured read URL would be) is
    /// reported as such, and `/readyz` refuses traffic: it does not follow the primary.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_read_database_out_of_recovery_is_reported_and_not_ready(pool: PgPool) {
        let state = AppState::new(pool.clone()).with_read_replica(pool);
        assert!(state.has_read_replica());
        let (status, body) = get(&state, "/v1/status").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["replica"],
            serde_json::json!({ "in_recovery": false, "replay_lag_bytes": null, "replay_lag_secs": null })
        );
        let (status, body) = get(&state, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "not_ready");
        assert!(body["error"]["message"].as_str().unwrap().contains("not in recovery"), "{body}");
    }

    /// An unreachable replica fails `/readyz` and `/v1/status` in our words only.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn an_unreachable_replica_is_not_ready_and_leaks_nothing(pool: PgPool) {
        let missing = format!("prova_no_replica_{}", std::process::id());
        let options = (*pool.connect_options()).clone().database(&missing);
        let replica = PgPoolOptions::new().max_connections(1).connect_lazy_with(options);
        let state = AppState::new(pool).with_read_replica(replica);
        for uri in ["/readyz", "/v1/status"] {
            let (status, body) = get(&state, uri).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
            let text = body.to_string().to_lowercase();
            for word in [missing.as_str(), "sqlx", "postgres", "does not exist", "127.0.0.1", "select"] {
                assert!(!text.contains(word), "{uri} leaks {word:?}: {body}");
            }
        }
        let (_, body) = get(&state, "/readyz").await;
        assert_eq!(body["error"]["message"], "not ready: the read replica cannot be queried");
    }

    #[test]
    fn only_unreplayed_wal_past_the_age_limit_is_lag() {
        let limits = Readiness { max_replica_lag: Some(Duration::from_secs(30)), ..Readiness::default() };
        let lag = |bytes, secs| ReplicaLag { in_recovery: true, replay_lag_bytes: bytes, replay_lag_secs: secs };
        // Caught up: an old last transaction only means the primary has been idle.
        assert_eq!(replica_problem(&lag(Some(0), Some(3600.0)), &limits), None);
        // WAL to replay, but the last replayed transaction is recent.
        assert_eq!(replica_problem(&lag(Some(1 << 20), Some(5.0)), &limits), None);
        // WAL to replay and nothing replayed for longer than the limit.
        let problem = replica_problem(&lag(Some(4096), Some(45.4)), &limits).unwrap();
        assert!(
            problem.contains("4096 bytes") && problem.contains("45 s") && problem.contains("max 30 s"),
            "{problem}"
        );
        // Unknown figures, or no limit: not a lag problem.
        assert_eq!(replica_problem(&lag(None, Some(45.0)), &limits), None);
        assert_eq!(replica_problem(&lag(Some(4096), None), &limits), None);
        let unlimited = Readiness { max_replica_lag: None, ..limits };
        assert_eq!(replica_problem(&lag(Some(4096), Some(1e6)), &unlimited), None);
        // Out of recovery: never ready, limit or not.
        let promoted = ReplicaLag { in_recovery: false, replay_lag_bytes: None, replay_lag_secs: None };
        assert!(replica_problem(&promoted, &unlimited).unwrap().contains("not in recovery"));
    }
}
