//! The prova HTTP API (`prova serve`): provenance and status queries answered from the indexed Postgres.
//!
//! Every fact carries its chain pointers, so a client can check it against the chain. Errors are JSON:
//! `{ "error": { "code", "message" } }`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use sqlx::PgPool;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub mod error;
pub mod extract;
pub mod routes;
pub mod views;

pub use error::ApiError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Shared state of every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The Postgres pool.
    pub pool: PgPool,
}

/// The whole application: routes, JSON fallbacks for 404 and 405, body limit, timeout and tracing.
pub fn app(state: AppState) -> Router {
    routes::router()
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
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
