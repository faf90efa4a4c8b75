//! An in-process cache of point lookups whose answers cannot change without a new row in the database:
//! `GET /v1/model-versions/{version_hash}`, `GET /v1/agents/{chain_id}/{agent_id}` and
//! `GET /v1/output-batches/{root}` (see [`CACHED_ROUTES`]).
//!
//! # Invalidation
//! Every table of the registry database carries a statement trigger (migration `0012_change_notify.sql`) that calls
//! `pg_notify('prova_registry_changed', '')`. Postgres delivers a notification only once its transaction commits,
//! and one per transaction however many statements fired it, so every indexer commit (a new block's events, a
//! reorg's rollback, a cursor move that changes confirmations) and every upload reaches the API as one message.
//! [`ResponseCache::follow`] listens on that channel over its own connection to the primary and moves the cache
//! to a new *generation* for each message; an entry answers only in the generation it was read in.
//!
//! A request reads the generation *before* it queries the database and stores its answer under that generation;
//! when a commit lands while the query runs, the entry is already stale when stored and is never served. When the
//! listening connection drops, notifications may be lost: the cache is bypassed until it listens again, and a new
//! generation starts once it does. With a read replica ([`ResponseCache::follow`]'s `replica`), a generation starts
//! only after the replica has replayed the primary's WAL up to the notification, so an answer read from a lagging
//! replica is never cached as current.
//!
//! What it guarantees: after a commit's notification reaches the API (normally well under a millisecond on the same
//! host), no answer read before that commit is served. What it does not: a client that sees a commit in the
//! database and asks the API in the same instant may still get the answer of the generation before it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use quick_cache::Weighter;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::AppState;
use crate::error::ApiError;
use crate::layers::{CacheResult, matches_etag};

/// The channel the registry database's triggers notify on every commit that changes a table.
pub const CHANGES_CHANNEL: &str = "prova_registry_changed";

/// The routes whose `GET` answers are cached: point lookups of indexed facts, which depend on nothing but the
/// database (no clock, no request header other than `If-None-Match`, which is answered from the cached `ETag`).
pub const CACHED_ROUTES: [&str; 3] =
    ["/v1/model-versions/{version_hash}", "/v1/agents/{chain_id}/{agent_id}", "/v1/output-batches/{root}"];

/// Largest answer kept (a bigger one is served but not cached).
const MAX_ENTRY_BYTES: usize = 256 << 10;

/// Longest request target (path and query) used as a key; longer ones are not cached.
const MAX_KEY_BYTES: usize = 1024;

/// How often a waiting cache asks a replica how far it has replayed, and how long it waits before listening again
/// after the connection to the primary failed.
const POLL: Duration = Duration::from_millis(20);
const RECONNECT: Duration = Duration::from_secs(1);

/// A cached answer: what [`crate::layers::cache_headers`] produced for a `200`.
#[derive(Debug, Clone)]
struct Entry {
    generation: u64,
    headers: HeaderMap,
    body: Bytes,
}

/// Weighs an entry by the bytes it holds.
#[derive(Debug, Clone)]
struct ByBytes;

impl Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        (key.len() + entry.body.len() + 256) as u64
    }
}

/// The cache: answers by request target, each tagged with the generation it was read in.
#[derive(Debug)]
pub struct ResponseCache {
    entries: quick_cache::sync::Cache<String, Entry, ByBytes>,
    state: Arc<Generations>,
    /// The task following the database's commits ([`Self::follow`]), stopped when the cache is dropped.
    follower: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
}

/// Where the cache stands, shared with the task that follows the database.
#[derive(Debug, Default)]
struct Generations {
    /// The current generation: moves on every notification and every time the listener (re)connects.
    generation: AtomicU64,
    /// Whether answers may be served and stored: false until the listener listens, while it reconnects, and while a
    /// replica catches up with a commit.
    live: AtomicBool,
}

impl Generations {
    /// Starts a new generation: no answer stored before serves again.
    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Stops serving and storing answers, and starts a new generation.
    fn suspend(&self) {
        self.live.store(false, Ordering::Release);
        self.invalidate();
    }

    /// Starts a new generation and serves from it.
    fn resume(&self) {
        self.invalidate();
        self.live.store(true, Ordering::Release);
    }
}

impl Drop for ResponseCache {
    fn drop(&mut self) {
        if let Some(follower) = self.follower.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            follower.abort();
        }
    }
}

impl ResponseCache {
    /// An empty cache holding up to `capacity_bytes` of answers, not live until [`Self::follow`] listens.
    pub fn new(capacity_bytes: u64) -> Self {
        let estimated_items = (capacity_bytes / 2048).max(16) as usize;
        Self {
            entries: quick_cache::sync::Cache::with_weighter(estimated_items, capacity_bytes, ByBytes),
            state: Arc::default(),
            follower: std::sync::Mutex::new(None),
        }
    }

    /// The current generation (it only grows).
    pub fn generation(&self) -> u64 {
        self.state.generation.load(Ordering::Acquire)
    }

    /// Whether the cache serves and stores answers now.
    pub fn is_live(&self) -> bool {
        self.state.live.load(Ordering::Acquire)
    }

    /// The answer stored for `key` in the current generation.
    fn get(&self, key: &str) -> Option<Entry> {
        let entry = self.entries.get(key)?;
        (entry.generation == self.generation()).then_some(entry)
    }

    /// Stores an answer read in `generation`; one read in an earlier generation than the current one is dropped.
    fn insert(&self, key: String, generation: u64, headers: HeaderMap, body: Bytes) {
        if generation == self.generation() && body.len() <= MAX_ENTRY_BYTES {
            self.entries.insert(key, Entry { generation, headers, body });
        }
    }

    /// Listens for the database's commits on `primary` and moves the cache to a new generation for each, until the
    /// task is dropped. Returns once the first `LISTEN` is in place (the cache is then live), with the task that
    /// goes on listening; fails when the first connection does.
    ///
    /// With `replica` (the pool answers are read from), each generation starts only once the replica has replayed
    /// the primary's WAL as far as the primary had written when the notification arrived, and the cache is
    /// bypassed meanwhile.
    pub async fn follow(&self, primary: PgPool, replica: Option<PgPool>) -> sqlx::Result<()> {
        let mut listener = listen(&primary).await?;
        if let Some(replica) = &replica {
            wait_for_replay(&mut listener, replica).await?;
        }
        self.state.resume();
        let state = self.state.clone();
        let task = tokio::spawn(async move { follow_commits(&state, listener, primary, replica).await });
        let mut follower = self.follower.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(earlier) = follower.replace(task.abort_handle()) {
            earlier.abort();
        }
        Ok(())
    }
}

/// Moves `state` to a new generation for every notification on `listener` (see [`ResponseCache::follow`]).
async fn follow_commits(state: &Generations, mut listener: PgListener, primary: PgPool, replica: Option<PgPool>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) if replica.is_none() => {
                state.invalidate();
                continue;
            }
            Ok(Some(_)) => {
                state.suspend();
                // What else has arrived already is covered by the same wait.
                while listener.next_buffered().is_some() {}
            }
            Ok(None) | Err(_) => {
                tracing::warn!("response cache: lost the primary's notifications; bypassing the cache");
                state.suspend();
                listener = relisten(&primary).await;
            }
        }
        // Suspended: resume once every answer read from here on is at least as new as the notification.
        if let Some(replica) = &replica {
            while let Err(error) = wait_for_replay(&mut listener, replica).await {
                tracing::warn!(%error, "response cache: checking the replica's replay failed; bypassing the cache");
                listener = relisten(&primary).await;
            }
        }
        state.resume();
    }
}

/// Listens again, retrying every [`RECONNECT`] until it does.
async fn relisten(primary: &PgPool) -> PgListener {
    loop {
        tokio::time::sleep(RECONNECT).await;
        match listen(primary).await {
            Ok(listener) => return listener,
            Err(error) => tracing::warn!(%error, "response cache: listening failed; bypassing the cache"),
        }
    }
}

/// A listener on [`CHANGES_CHANNEL`] over its own connection to `primary`.
async fn listen(primary: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(primary).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(CHANGES_CHANNEL).await?;
    Ok(listener)
}

/// Waits until `replica` has replayed the WAL the primary had written by now (asked over the listening connection,
/// after the notification, so past the notifying commit).
async fn wait_for_replay(listener: &mut PgListener, replica: &PgPool) -> sqlx::Result<()> {
    let target: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(&mut *listener).await?;
    loop {
        let replayed: Option<bool> = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
            .bind(&target)
            .fetch_one(replica)
            .await?;
        // `None`: the "replica" is not in recovery (a primary answers reads): nothing to wait for.
        if replayed.unwrap_or(true) {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Serves [`CACHED_ROUTES`]' `GET`s from [`AppState::response_cache`] when it is set and live; stores their `200`
/// answers (as `cache_headers` finished them, with `ETag` and `Cache-Control`). Anything else passes through.
pub async fn serve_cached(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(cache) = state.response_cache.as_deref() else {
        return next.run(request).await;
    };
    let cached_route = request.method() == Method::GET
        && request.extensions().get::<MatchedPath>().is_some_and(|route| CACHED_ROUTES.contains(&route.as_str()));
    let key = request.uri().path_and_query().map_or("", |target| target.as_str());
    if !cached_route || key.len() > MAX_KEY_BYTES {
        return next.run(request).await;
    }
    if !cache.is_live() {
        state.metrics.count_cache(CacheResult::Bypass);
        return next.run(request).await;
    }
    let key = key.to_owned();
    if let Some(entry) = cache.get(&key) {
        state.metrics.count_cache(CacheResult::Hit);
        return answer(entry, request.headers().get(header::IF_NONE_MATCH));
    }
    state.metrics.count_cache(CacheResult::Miss);
    let generation = cache.generation();
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    // The stored answer must be the full `200`, not a `304` for this client's `ETag`.
    let mut request = request;
    request.headers_mut().remove(header::IF_NONE_MATCH);
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => return ApiError::Internal(format!("reading an answer: {error}")).into_response(),
    };
    let entry = Entry { generation, headers: parts.headers.clone(), body: body.clone() };
    cache.insert(key, generation, parts.headers, body);
    answer(entry, if_none_match.as_ref())
}

/// A stored answer as a response: `304` when `if_none_match` names its `ETag`.
fn answer(entry: Entry, if_none_match: Option<&HeaderValue>) -> Response {
    let fresh =
        entry.headers.get(header::ETAG).is_some_and(|etag| if_none_match.is_some_and(|v| matches_etag(v, etag)));
    let (status, body) =
        if fresh { (StatusCode::NOT_MODIFIED, Body::empty()) } else { (StatusCode::OK, Body::from(entry.body)) };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = entry.headers;
    if fresh {
        response.headers_mut().remove(header::CONTENT_LENGTH);
        response.headers_mut().remove(header::CONTENT_TYPE);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app;
    use crate::testing::{CHAIN, PUBLISHER, REGISTRY, claim, compromise, h, revoke_claim};
    use axum::Router;
    use serde_json::Value;
    use std::time::Instant;
    use tower::ServiceExt;

    /// The API over `pool` with the cache on, and the cache.
    async fn cached_app(pool: &PgPool) -> (Router, Arc<ResponseCache>) {
        let state = AppState::new(pool.clone()).with_response_cache(16 << 20).await.unwrap();
        let cache = state.response_cache.clone().unwrap();
        (app(state), cache)
    }

    /// `GET uri` with optional `If-None-Match`: status, `ETag` and body.
    async fn get(app: &Router, uri: &str, if_none_match: Option<&str>) -> (StatusCode, Option<String>, Value) {
        let mut request = Request::builder().uri(uri);
        if let Some(etag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let etag = response.headers().get(header::ETAG).map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, etag, if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() })
    }

    /// Waits (up to 10 s) until `done` holds.
    async fn until(what: &str, done: impl Fn() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A revocation and a key compromise committed to the database show in the next answer once their commit's
    /// notification arrives; until a commit, the answer is served from the cache (`If-None-Match` included).
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_commit_makes_the_cached_answer_stale(pool: PgPool) {
        claim(&pool, CHAIN, REGISTRY.into(), PUBLISHER.into(), h(1), 10, 0).await;
        let (app, cache) = cached_app(&pool).await;
        let uri = format!("/v1/model-versions/{}", h(1));
        let (status, etag, body) = get(&app, &uri, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["claims"][0]["revocation"], Value::Null);
        let (status, again, cached) = get(&app, &uri, None).await;
        assert_eq!((status, &again, &cached), (StatusCode::OK, &etag, &body));
        let (status, _, empty) = get(&app, &uri, etag.as_deref()).await;
        assert_eq!((status, empty), (StatusCode::NOT_MODIFIED, Value::Null));
        let metrics = cache_counts(&app).await;
        assert_eq!(metrics, (2, 1, 0), "(hits, misses, bypasses)");

        let generation = cache.generation();
        revoke_claim(&pool, CHAIN, REGISTRY.into(), PUBLISHER.into(), h(1), 11).await;
        until("the revocation's notification", || cache.generation() > generation).await;
        let (_, etag_revoked, body) = get(&app, &uri, etag.as_deref()).await;
        assert_eq!(body["claims"][0]["revocation"]["reason"], "leaked", "{body}");
        assert_ne!(etag_revoked, etag);

        let generation = cache.generation();
        compromise(&pool, CHAIN, 0, 12).await;
        until("the compromise's notification", || cache.generation() > generation).await;
        let (_, _, body) = get(&app, &uri, None).await;
        assert_eq!(body["claims"][0]["signed_by_compromised_key"], true, "{body}");
    }

    /// `(hits, misses, bypasses)` from `/metrics`.
    async fn cache_counts(app: &Router) -> (u64, u64, u64) {
        let response = app.clone().oneshot(Request::builder().uri("/metrics").body(Body::empty()).unwrap()).await;
        let bytes = axum::body::to_bytes(response.unwrap().into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let count = |result: &str| {
            text.lines()
                .find_map(|line| {
                    line.strip_prefix(&format!("prova_api_response_cache_lookups_total{{result=\"{result}\"}} "))
                })
                .map_or(0, |n| n.parse().unwrap())
        };
        (count("Hit"), count("Miss"), count("Bypass"))
    }

    /// An answer read in one generation and stored after a commit moved the cache on is never served.
    #[test]
    fn an_answer_read_before_a_commit_is_not_stored_after_it() {
        let cache = ResponseCache::new(1 << 20);
        cache.state.resume();
        let read_in = cache.generation();
        cache.state.invalidate();
        cache.insert("/v1/x".into(), read_in, HeaderMap::new(), Bytes::from_static(b"{}"));
        assert!(cache.get("/v1/x").is_none());
        cache.insert("/v1/x".into(), cache.generation(), HeaderMap::new(), Bytes::from_static(b"{}"));
        assert!(cache.get("/v1/x").is_some());
        cache.state.invalidate();
        assert!(cache.get("/v1/x").is_none(), "an entry of an earlier generation is a miss");
    }

    /// A write whose notification is lost (its trigger off) leaves the cached answer stale, as long as the cache
    /// listens; losing the listening connection drops everything cached, so the stale answer is not served again.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn losing_the_notifications_drops_the_cache(pool: PgPool) {
        claim(&pool, CHAIN, REGISTRY.into(), PUBLISHER.into(), h(1), 10, 0).await;
        let (app, cache) = cached_app(&pool).await;
        let uri = format!("/v1/model-versions/{}", h(1));
        get(&app, &uri, None).await;

        // A write nobody is told about: the cache does not see it (which shows the answer comes from the cache).
        let triggers = |on: &str| {
            ["model_version_revoked", "indexer_cursors"].map(|t| format!("ALTER TABLE {t} {on} TRIGGER USER"))
        };
        for sql in triggers("DISABLE") {
            sqlx::query(&sql).execute(&pool).await.unwrap();
        }
        revoke_claim(&pool, CHAIN, REGISTRY.into(), PUBLISHER.into(), h(1), 11).await;
        for sql in triggers("ENABLE") {
            sqlx::query(&sql).execute(&pool).await.unwrap();
        }
        let (_, _, body) = get(&app, &uri, None).await;
        assert_eq!(body["claims"][0]["revocation"], Value::Null, "served from the cache: {body}");

        // The listening connection dies (a Postgres restart, a network cut): notifications in between are lost.
        let generation = cache.generation();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(killed, [true]);
        until("listening again", || cache.is_live() && cache.generation() >= generation + 2).await;
        let (_, _, body) = get(&app, &uri, None).await;
        assert_eq!(body["claims"][0]["revocation"]["reason"], "leaked", "{body}");
    }

    /// The indexer's heartbeat (its cursor row ensured, the head it saw again on an idle chain, its faults, its
    /// writer) leaves the cache alone: before, every poll dropped it. A new head (which changes every answer's confirmations) still does.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn the_indexers_heartbeat_keeps_the_cache_and_a_new_head_drops_it(pool: PgPool) {
        claim(&pool, CHAIN, REGISTRY.into(), PUBLISHER.into(), h(1), 10, 0).await;
        let (_app, cache) = cached_app(&pool).await;
        until("listening", || cache.is_live()).await;
        let generation = cache.generation();
        for sql in [
            "INSERT INTO indexer_cursors (chain_id, contract, next_block, kind)
             SELECT chain_id, contract, next_block, kind FROM indexer_cursors ON CONFLICT DO NOTHING",
            "UPDATE indexer_cursors SET head_seen_at = now()",
            "UPDATE indexer_cursors SET last_error = 'timeout', last_error_at = now()",
            "UPDATE indexer_cursors SET last_error = NULL, writer = 'indexer-2'",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        // A marker commit after the heartbeats: once its notification is handled, theirs would have been too.
        sqlx::query("UPDATE indexer_cursors SET head_block = COALESCE(head_block, 0) + 1")
            .execute(&pool)
            .await
            .unwrap();
        until("the new head's notification", || cache.generation() > generation).await;
        assert_eq!(cache.generation(), generation + 1, "only the new head dropped the cache");
    }

    /// Every table of the registry database notifies on change, so a table added without the trigger fails here.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn every_table_notifies_its_changes(pool: PgPool) {
        let unwatched: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
               AND NOT c.relispartition AND c.relname <> '_sqlx_migrations'
               AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'prova_notify_change')",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(unwatched.is_empty(), "tables without the change trigger (call prova_watch_table): {unwatched:?}");
    }

    /// Answers that are not point lookups, and errors, are never stored.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn only_point_lookups_that_succeed_are_cached(pool: PgPool) {
        let (app, _cache) = cached_app(&pool).await;
        let missing = format!("/v1/model-versions/{}", h(9));
        assert_eq!(get(&app, &missing, None).await.0, StatusCode::NOT_FOUND);
        claim(&pool, CHAIN, REGISTRY.into(), PUBLISHER.into(), h(9), 10, 0).await;
        get(&app, "/v1/model-versions", None).await;
        get(&app, "/v1/status", None).await;
        assert_eq!(cache_counts(&app).await, (0, 1, 0));
        // The 404 was not stored: the claim shows even before its notification is handled.
        assert_eq!(get(&app, &missing, None).await.0, StatusCode::OK);
    }
}
