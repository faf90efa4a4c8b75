//! Extractors that turn axum's plain-text rejections into our JSON errors, and parsers for hashes and addresses.

use alloy::primitives::{Address, B256};
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `axum::extract::Path` with JSON errors.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| ApiError::bad_request("invalid_path", rejection.body_text()))
    }
}

/// `axum::extract::Query` with JSON errors.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}

/// `axum::Json` with JSON errors: 400 `invalid_body` for a body that is not valid JSON of the expected shape,
/// 413 `payload_too_large` past the route's body limit, 415 `unsupported_media_type` without a JSON content type.
///
/// The body limit is the route's `DefaultBodyLimit` (see [`crate::MAX_BODY_BYTES`]).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(request, state).await.map(|Json(value)| Self(value)).map_err(
            |rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge("request body is larger than this route accepts".into())
                }
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
                    "request body must be sent as `Content-Type: application/json`".into(),
                ),
                _ => ApiError::bad_request("invalid_body", rejection.body_text()),
            },
        )
    }
}

/// Parses a 32-byte hash given as `0x` followed by 64 hex digits (any case).
pub fn parse_hash(what: &str, text: &str) -> Result<B256, ApiError> {
    let valid = text.len() == 66 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(ApiError::bad_request(
            "invalid_hash",
            format!("{what} must be 0x followed by 64 hex digits, got {:?}", truncate(text)),
        ));
    }
    text.parse().map_err(|_| ApiError::bad_request("invalid_hash", format!("{what} is not a valid hash")))
}

/// Parses a 20-byte address given as `0x` followed by 40 hex digits, checksummed or not.
pub fn parse_address(what: &str, text: &str) -> Result<Address, ApiError> {
    let valid = text.len() == 42 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(ApiError::bad_request(
            "invalid_address",
            format!("{what} must be 0x followed by 40 hex digits, got {:?}", truncate(text)),
        ));
    }
    text.parse().map_err(|_| ApiError::bad_request("invalid_address", format!("{what} is not a valid address")))
}

/// Parses an optional address query parameter; absent or empty means none.
pub fn optional_address(what: &str, text: Option<&str>) -> Result<Option<Address>, ApiError> {
    text.filter(|t| !t.is_empty()).map(|t| parse_address(what, t)).transpose()
}

/// Keeps echoed input short.
fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

/// Deserializes an optional count that Postgres compares as a `BIGINT`: a value past `i64::MAX` is refused (a 400
/// naming the parameter), never clamped. Use with `#[serde(default, deserialize_with = "...")]`.
pub fn at_most_i64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = <Option<u64> as serde::Deserialize>::deserialize(deserializer)?;
    match value {
        Some(n) if n > i64::MAX as u64 => {
            Err(serde::de::Error::custom(format!("{n} is out of range (at most {})", i64::MAX)))
        }
        other => Ok(other),
    }
}
