//! Query parameters a route does not take are refused (400 `unknown_parameter`), never ignored: a typo such as
//! `verifed_only=true` would otherwise answer the unfiltered list as if it were the filtered one.
//!
//! What each route takes is read from the OpenAPI document the routes are built with, so the check and the
//! documentation cannot disagree.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::{OpenApi, RefOr};

use crate::error::ApiError;

/// The query parameters of each documented route, by path template and method (upper case).
#[derive(Debug, Default)]
pub struct QueryParameters(HashMap<(String, String), BTreeSet<String>>);

impl QueryParameters {
    /// Reads them from `api`.
    pub fn of(api: &OpenApi) -> Self {
        let mut routes = HashMap::new();
        for (path, item) in &api.paths.paths {
            let operations = [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let names = operation
                    .parameters
                    .iter()
                    .flatten()
                    .chain(item.parameters.iter().flatten())
                    .filter_map(|p| match p {
                        RefOr::T(parameter) => Some(parameter),
                        RefOr::Ref(_) => None,
                    })
                    .filter(|p| matches!(p.parameter_in, ParameterIn::Query))
                    .map(|p| p.name.clone())
                    .collect();
                routes.insert((path.clone(), method.to_owned()), names);
            }
        }
        Self(routes)
    }
}

/// Refuses a request to a documented route that names a query parameter the route does not take, or names one
/// twice. Routes outside the document (`/openapi.json`, the explorer) pass through.
pub async fn refuse_unknown(parameters: Arc<QueryParameters>, request: Request, next: Next) -> Response {
    let Some(query) = request.uri().query().filter(|q| !q.is_empty()) else {
        return next.run(request).await;
    };
    let Some(route) = request.extensions().get::<MatchedPath>() else {
        return next.run(request).await;
    };
    let Some(known) = parameters.0.get(&(route.as_str().to_owned(), request.method().as_str().to_owned())) else {
        return next.run(request).await;
    };
    let mut seen = BTreeSet::new();
    for (name, _) in form_urlencoded_pairs(query) {
        if !known.contains(&name) {
            let takes = if known.is_empty() {
                "none".to_owned()
            } else {
                known.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
            };
            return ApiError::bad_request(
                "unknown_parameter",
                format!("unknown query parameter {name:?} (this route takes: {takes})"),
            )
            .into_response();
        }
        if !seen.insert(name.clone()) {
            return ApiError::bad_request("duplicate_parameter", format!("query parameter {name:?} is given twice"))
                .into_response();
        }
    }
    next.run(request).await
}

/// The names and values of `query`, percent-decoded.
fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_else(|_| {
        // Not decodable as pairs: let the route's own extractor answer its precise 400.
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use crate::testing::{CHAIN, call, h};
    use axum::http::StatusCode;
    use sqlx::PgPool;

    /// Typos, unknown and repeated parameters, and values out of range are 400s that name the parameter; none is
    /// ignored or clamped.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn parameters_are_never_ignored_or_clamped(pool: PgPool) {
        let version = format!("/v1/model-versions/{}", h(1));
        let cases = [
            (
                "/v1/agents?verified_only=AAA".to_owned(),
                "invalid_query",
                "verified_only applies only with sort=reputation",
            ),
            ("/v1/agents?verifed_only=true".to_owned(), "unknown_parameter", "\"verifed_only\""),
            (
                "/v1/agents?sort=reputation&verified_only=ture".to_owned(),
                "invalid_query",
                "verified_only must be true or false",
            ),
            ("/v1/agents?sort=reputation&now=-1".to_owned(), "invalid_query", "now must be unix seconds from 0"),
            (format!("{version}?min_confirmations=9223372036854775808"), "invalid_query", "out of range"),
            (
                "/v1/model-versions?min_confirmations=18446744073709551616".to_owned(),
                "invalid_query",
                "min_confirmations",
            ),
            (
                format!("{version}?publisher=0x{}&publisher=0x{}", "11".repeat(20), "22".repeat(20)),
                "duplicate_parameter",
                "\"publisher\"",
            ),
            ("/healthz?x=1".to_owned(), "unknown_parameter", "this route takes: none"),
            (format!("/v1/agents/{CHAIN}/1?min_confirmation=3"), "unknown_parameter", "min_confirmations"),
        ];
        for (uri, code, says) in cases {
            let (status, body) = call(pool.clone(), "GET", &uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["error"]["code"], code, "{uri}: {body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{uri}: {message}");
        }
        // Every documented parameter still passes.
        for uri in [
            format!("{version}?min_confirmations=9223372036854775807&chain_id=1"),
            "/v1/agents?sort=registered&limit=5".to_owned(),
            "/v1/agents?sort=reputation&verified_only=true&now=0".to_owned(),
        ] {
            let (status, body) = call(pool.clone(), "GET", &uri).await;
            assert!(matches!(status, StatusCode::OK | StatusCode::NOT_FOUND), "{uri}: {status} {body}");
        }
    }
}
