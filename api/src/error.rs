//! The API's one error type, rendered everywhere as `{ "error": { "code", "message" } }`.
//!
//! Answers never carry internals: a database or driver error, a panic message or a stored value that failed to
//! decode is logged (with the request's span) and answered with a fixed message under a stable code
//! (`unavailable`, `timeout`, `internal`, `invalid_input`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Result with [`ApiError`] as the default error.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (bad hash, bad address, bad query).
    #[error("{message}")]
    BadRequest {
        /// Machine-readable code, e.g. `invalid_hash`.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// 401: the route needs credentials the request does not carry (e.g. a leaf upload without its signature).
    #[error("{message}")]
    Unauthorized {
        /// Machine-readable code, e.g. `signature_required`.
        code: &'static str,
        /// What was missing.
        message: String,
    },
    /// 403: the request's credentials do not allow it (a signature by the wrong key, a publisher the operator does
    /// not accept, a quota reached).
    #[error("{message}")]
    Forbidden {
        /// Machine-readable code, e.g. `upload_unauthorized`.
        code: &'static str,
        /// Why it is refused.
        message: String,
    },
    /// 404: the thing asked for does not exist (or is not indexed yet).
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the request body is larger than the route accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the request body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the request is well-formed but contradicts what it claims (e.g. a manifest whose root does not match).
    #[error("{message}")]
    Unprocessable {
        /// Machine-readable code, e.g. `root_mismatch`.
        code: &'static str,
        /// What was wrong.
        message: String,
    },
    /// 429: this client sent too many requests; retry after the given number of seconds.
    #[error("too many requests: retry after {retry_after_secs} s")]
    TooManyRequests {
        /// Whole seconds until a request would be accepted (also sent as `Retry-After`).
        retry_after_secs: u64,
    },
    /// 503: the request took longer than the server allows (the limit in seconds, 0 when the database stopped it).
    #[error("{}", timeout_message(*.0))]
    Timeout(u64),
    /// 503: `/readyz` says this instance should not get traffic (database down, indexer behind).
    #[error("not ready: {0}")]
    NotReady(String),
    /// 503: the database is unreachable; retry later.
    #[error("database unavailable")]
    Unavailable,
    /// 503: too many heavy requests (manifests to match or store) are being worked on; retry in a second (sent as
    /// `Retry-After`).
    #[error("busy with other manifests; retry in 1 s")]
    Busy,
    /// 500: anything else; the detail is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

fn timeout_message(limit_secs: u64) -> String {
    match limit_secs {
        0 => "the request took longer than the server allows and was stopped; retry later".into(),
        n => format!("the request took longer than {n} s and was stopped; retry later"),
    }
}

/// The body of every error answer: `{ "error": { "code", "message" } }` (the OpenAPI component `Error`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct Body<'a> {
    /// What failed.
    pub error: Detail<'a>,
}

/// What failed: a machine-readable code and a message for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub struct Detail<'a> {
    /// Machine-readable, e.g. `invalid_hash`, `not_found`, `rate_limited`.
    #[schema(example = "not_found")]
    pub code: &'a str,
    /// What was wrong, in words.
    #[schema(example = "model version 0x5c1f…3921 is not registered")]
    pub message: String,
}

impl ApiError {
    /// A 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    /// A 401 with a code and message.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized { code, message: message.into() }
    }

    /// A 403 with a code and message.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden { code, message: message.into() }
    }

    /// A 422 with a code and message.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable { code, message: message.into() }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            Self::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            Self::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    /// Classifies a database error; its text is logged here and never answered.
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            tracing::warn!(%error, "database unavailable");
            return Self::Unavailable;
        }
        if let sqlx::Error::Database(db) = &error
            && let Some(code) = db.code()
        {
            // 57014: cancelled, here by the connection's `statement_timeout` (see `crate::AppState::new`).
            if code == "57014" {
                tracing::warn!(%error, "database statement cancelled");
                return Self::Timeout(0);
            }
            // Class 22, data exceptions: a value from the request Postgres cannot take (a NUL character in text, a
            // number out of range). The request is at fault, not the server.
            if code.starts_with("22") {
                tracing::info!(%error, "database refused a value of the request");
                return Self::bad_request(
                    "invalid_input",
                    "a value in the request is not acceptable (for example a NUL character in text, or a number out \
                     of range)",
                );
            }
        }
        Self::Internal(error.to_string())
    }
}

/// Whether `error` means the database cannot be reached or used right now (down, restarting, shutting down, out of
/// connections or resources, or not there at all), as opposed to a bad query.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exceptions; 28: bad credentials; 3D000: no such database; 53: out of connections,
        // memory or disk; 57P01-57P03: the server is shutting down or starting up.
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            ["08", "28", "53"].iter().any(|class| code.starts_with(class))
                || matches!(&*code, "3D000" | "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let mut response = (status, Json(Body { error: Detail { code, message: self.to_string() } })).into_response();
        if let Self::TooManyRequests { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if let Self::Busy = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        response
    }
}
