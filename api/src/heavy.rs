//! CPU-heavy request bodies (a manifest to match or to store: parsed, then hashed into a Merkle root) take a permit
//! before their body is read, and run their hashing on a blocking thread at the lowest CPU priority, so a flood of
//! them can neither hold the async workers that answer everyone else nor queue without bound.
//!
//! Measured by `cargo bench -p prova-api --bench hostile` (BENCHMARKS.md, "API under attack"): without this, 8
//! attackers sending 0.75 MB match requests under their rate limit kept both async workers hashing, and normal
//! clients' requests waited for seconds and then timed out.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::AppState;
use crate::error::{ApiError, Result};

/// How long a heavy request waits for a permit before it is answered 503 `busy` (with `Retry-After`).
pub const WAIT_FOR_PERMIT: Duration = Duration::from_secs(1);

/// Permits for heavy request bodies: one per two cores, at least one.
#[derive(Debug, Clone)]
pub struct HeavyWork(Arc<Semaphore>);

impl Default for HeavyWork {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self(Arc::new(Semaphore::new((cores / 2).max(1))))
    }
}

/// The routes whose bodies are heavy.
const HEAVY_ROUTES: [&str; 2] = ["/v1/model-versions/match", "/v1/model-versions/{version_hash}/manifest"];

/// Gates the writes and posts of [`HEAVY_ROUTES`]: a declared body larger than the route takes
/// ([`crate::max_body_bytes`]) is refused at once
/// (413), and the request holds a [`HeavyWork`] permit, waited for at most [`WAIT_FOR_PERMIT`], from before its body
/// is read until it is answered. Every other request passes.
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    if !route.is_some_and(|route| HEAVY_ROUTES.contains(&route)) {
        return next.run(request).await;
    }
    let limit = crate::max_body_bytes(route);
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return ApiError::PayloadTooLarge(format!("the body may be at most {limit} bytes")).into_response();
    }
    let permit = match tokio::time::timeout(WAIT_FOR_PERMIT, state.heavy.0.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => return ApiError::Busy.into_response(),
    };
    let response = next.run(request).await;
    drop(permit);
    response
}

/// Runs `work` on a blocking thread whose CPU priority is lowered ([`lower_priority`]), and waits for it.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(move || {
        lower_priority();
        work()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("heavy work panicked: {e}")))?
}

/// The nice level of heavy work: the lowest. Heavy threads also take the `SCHED_IDLE` policy ([`lower_priority`]).
pub const HEAVY_NICE: i32 = 19;

/// Lowers the calling thread's CPU priority: nice [`HEAVY_NICE`] and the `SCHED_IDLE` scheduling policy (on Linux,
/// both apply to the calling thread only). A `SCHED_IDLE` thread runs on what the other threads leave, and a request
/// handler that wakes up takes its core at once rather than at the end of the heavy thread's time slice; under a
/// machine saturated by other work, heavy requests wait (and time out with 503) instead of slowing everyone else.
/// Blocking threads only ever run heavy work, so the priority is never raised again. Failures are ignored: the work
/// then runs at normal priority.
pub fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread; `param` outlives the call that reads it.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::pid_t;
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, HEAVY_NICE);
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(thread, libc::SCHED_IDLE, &param);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app;
    use axum::body::Body;
    use axum::http::StatusCode;
    use sqlx::PgPool;
    use tower::ServiceExt;

    fn match_request(body: &'static str, declared: Option<usize>) -> Request {
        let mut request = Request::builder()
            .method("POST")
            .uri("/v1/model-versions/match")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(length) = declared {
            request = request.header(header::CONTENT_LENGTH, length);
        }
        request.body(Body::from(body)).unwrap()
    }

    /// A heavy thread runs at nice 19 under `SCHED_IDLE`, and the thread that spawned it keeps its priority.
    #[cfg(target_os = "linux")]
    #[test]
    fn heavy_threads_run_at_idle_priority() {
        // SAFETY: plain system calls on the calling thread.
        let policy_and_nice = || unsafe { (libc::sched_getscheduler(0), libc::getpriority(libc::PRIO_PROCESS, 0)) };
        let before = policy_and_nice();
        let heavy = std::thread::spawn(move || {
            lower_priority();
            policy_and_nice()
        });
        assert_eq!(heavy.join().unwrap(), (libc::SCHED_IDLE, HEAVY_NICE));
        assert_eq!(policy_and_nice(), before);
    }

    /// With every permit taken by manifests being worked on, one more waits a second and is answered 503 `busy`
    /// with `Retry-After`; a body declared larger than the route takes is refused before any wait. Other routes
    /// never wait.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_flood_of_heavy_bodies_waits_its_turn_or_is_turned_away(pool: PgPool) {
        let state = AppState::new(pool);
        let all = u32::try_from(state.heavy.0.available_permits()).unwrap();
        let _held = state.heavy.0.clone().acquire_many_owned(all).await.unwrap();
        let app = app(state);

        let started = std::time::Instant::now();
        let response = app.clone().oneshot(match_request("{\"files\": []}", None)).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() >= WAIT_FOR_PERMIT);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"busy\""));

        let response = app.clone().oneshot(match_request("{}", Some(crate::MAX_BODY_BYTES + 1))).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

        let health = Request::builder().uri("/healthz").body(Body::empty()).unwrap();
        assert_eq!(app.oneshot(health).await.unwrap().status(), StatusCode::OK);
    }
}
