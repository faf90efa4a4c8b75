//! The explorer: the web UI of `explorer/`, embedded in the binary (see `api/build.rs`) and served at
//! `/explorer/`, with its per-chain settings at `/explorer/config.json`.
//!
//! Every path under `/explorer/` that is not a built file answers the UI's `index.html`, so each page has a stable
//! URL (`/explorer/model/0x…`) that can be pasted and reopened. Hashed assets are cached for a year; the page and
//! its settings are revalidated. The UI's checks run in the visitor's browser against an RPC endpoint they choose:
//! the one named here is only the default.

use std::collections::BTreeMap;

use alloy::primitives::Address;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;

use crate::AppState;

/// One built file of the explorer.
#[derive(Debug)]
struct Asset {
    /// Path under `explorer/dist`, `/`-separated.
    path: &'static str,
    /// The bytes.
    body: &'static [u8],
    /// The same bytes gzipped, when the build wrote them.
    gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/explorer_assets.rs"));

/// The explorer's settings for the chains it shows (`prova serve --explorer-rpc`, `--explorer-link`).
#[derive(Debug, Clone, Default)]
pub struct ExplorerConfig {
    /// Settings by chain id.
    pub chains: BTreeMap<u64, ExplorerChain>,
}

/// The explorer's settings for one chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExplorerChain {
    /// The RPC endpoint the in-browser checks use unless the visitor chooses another.
    pub rpc_url: Option<String>,
    /// A block explorer's base URL: transactions link to `{url}/tx/{hash}`, addresses to `{url}/address/{address}`.
    pub block_explorer: Option<String>,
}

/// What `/explorer/config.json` answers.
#[derive(Debug, Serialize)]
struct ConfigAnswer {
    /// One entry per configured chain, by chain id.
    chains: Vec<ChainAnswer>,
}

/// One chain of [`ConfigAnswer`].
#[derive(Debug, Serialize)]
struct ChainAnswer {
    chain_id: u64,
    rpc_url: Option<String>,
    block_explorer: Option<String>,
    /// The chain's canonical ProvenanceRegistry, when the API has one (`--canonical-registry`).
    registry: Option<Address>,
}

/// The explorer's routes: `/` and `/explorer` redirect to `/explorer/`, which serves the UI.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/explorer/") }))
        .route("/explorer", get(|| async { Redirect::temporary("/explorer/") }))
        .route("/explorer/", get(|headers: HeaderMap| async move { page(&headers) }))
        .route("/explorer/config.json", get(config))
        .route("/explorer/{*path}", get(file))
}

/// The settings: the configured chains, and every chain with a canonical registry.
async fn config(State(state): State<AppState>) -> Response {
    let explorer = &state.config.explorer;
    let canonical = &state.config.canonical_registries;
    let mut ids: Vec<u64> = explorer.chains.keys().chain(canonical.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let chains = ids
        .into_iter()
        .map(|chain_id| {
            let chain = explorer.chains.get(&chain_id).cloned().unwrap_or_default();
            ChainAnswer {
                chain_id,
                rpc_url: chain.rpc_url,
                block_explorer: chain.block_explorer,
                registry: canonical.get(&chain_id).copied(),
            }
        })
        .collect();
    let mut response = axum::Json(ConfigAnswer { chains }).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A built file, or the UI's page for any other path (a page of the UI); 404 for a missing asset.
async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    if let Some(asset) = ASSETS.iter().find(|a| a.path == path) {
        return serve(asset, &headers);
    }
    // The UI's own paths hold no dot; a path with one names a file that was not built.
    if path.starts_with("assets/") || path.contains('.') {
        return crate::ApiError::NotFound(format!("no explorer file {path}")).into_response();
    }
    page(&headers)
}

/// The UI's `index.html`, or a page saying how to build it.
fn page(headers: &HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.path == "index.html") {
        Some(index) => serve(index, headers),
        None => {
            let mut response = (
                StatusCode::OK,
                "<!doctype html><title>prova explorer</title><p>The explorer was not built into this binary. Run \
                 <code>scripts/setup.sh</code> (or <code>npm ci --ignore-scripts &amp;&amp; npm run build</code> in \
                 <code>explorer/</code>), then build prova again. The API is at <a href=\"/v1/status\">/v1/status</a>.",
            )
                .into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
    }
}

/// The asset's bytes (gzipped when the client accepts it) with its type and caching headers; pages get a strict
/// content security policy that still lets the UI call any RPC endpoint the visitor chooses.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().split(';').next() == Some("gzip")));
    let (body, gzipped) = match asset.gzip {
        Some(gzip) if accepts_gzip => (gzip, true),
        _ => (asset.body, false),
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(asset.path)));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if gzipped {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let immutable = asset.path.starts_with("assets/");
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable { "public, max-age=31536000, immutable" } else { "no-cache" }),
    );
    if asset.path.ends_with(".html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; worker-src 'self'; \
                 connect-src 'self' http: https: ws: wss:; object-src 'none'; base-uri 'none'; form-action 'self'; \
                 frame-ancestors 'none'",
            ),
        );
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
    response
}

/// The media type of a built file, by extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the explorer's copy of the OpenAPI document lives: its TypeScript types are generated from it, so a
    /// change to the API that the explorer does not follow fails the explorer's build.
    const EXPLORER_OPENAPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../explorer/src/api/openapi.json");

    /// The explorer's copy of the OpenAPI document is the API's. `PROVA_WRITE_OPENAPI=1 cargo test -p prova-api
    /// explorer` rewrites it; then `npm run build` in `explorer/` shows what the change broke.
    #[test]
    fn the_explorer_openapi_document_is_up_to_date() {
        let current = serde_json::to_string_pretty(&crate::routes::openapi()).unwrap() + "\n";
        if std::env::var_os("PROVA_WRITE_OPENAPI").is_some() {
            std::fs::write(EXPLORER_OPENAPI, &current).unwrap();
        }
        let stored = std::fs::read_to_string(EXPLORER_OPENAPI).unwrap_or_default();
        assert!(
            stored == current,
            "explorer/src/api/openapi.json differs from the API's document: run \
             `PROVA_WRITE_OPENAPI=1 cargo test -p prova-api explorer`, then `npm run build` in explorer/"
        );
    }

    /// Sends a `GET` with `headers` to an app with `config`; the status, headers and body.
    async fn get(
        pool: sqlx::PgPool,
        config: crate::ApiConfig,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        use tower::ServiceExt;
        let mut request = axum::http::Request::builder().uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let app = crate::app(AppState::new(pool).with_config(config));
        let response = app.oneshot(request.body(axum::body::Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec())
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn pages_settings_and_missing_files(pool: sqlx::PgPool) {
        let chain = ExplorerChain {
            rpc_url: Some("https://rpc.example".into()),
            block_explorer: Some("https://scan.example".into()),
        };
        let registry = Address::repeat_byte(0xAA);
        let config = crate::ApiConfig {
            explorer: ExplorerConfig { chains: [(1, chain)].into_iter().collect() },
            canonical_registries: [(1, registry), (5, registry)].into_iter().collect(),
            ..crate::ApiConfig::default()
        };
        let (status, headers, _) = get(pool.clone(), config.clone(), "/", &[]).await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(headers[header::LOCATION], "/explorer/");

        // Every page of the UI answers its HTML (built or not), never cached without revalidation.
        for uri in ["/explorer/", "/explorer/model/0x01", "/explorer/agent/31337/5", "/explorer/verify"] {
            let (status, headers, body) = get(pool.clone(), config.clone(), uri, &[]).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8", "{uri}");
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{uri}");
            assert!(String::from_utf8_lossy(&body).contains("explorer"), "{uri}");
        }

        let (status, _, body) = get(pool.clone(), config.clone(), "/explorer/config.json", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({ "chains": [
                { "chain_id": 1, "rpc_url": "https://rpc.example", "block_explorer": "https://scan.example",
                  "registry": format!("{registry:#x}") },
                { "chain_id": 5, "rpc_url": null, "block_explorer": null, "registry": format!("{registry:#x}") },
            ]})
        );

        // A file that was not built is a JSON 404, not the page.
        for uri in ["/explorer/assets/missing-1234.js", "/explorer/favicon.ico"] {
            let (status, _, body) = get(pool.clone(), config.clone(), uri, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(answer["error"]["code"], "not_found", "{uri}");
        }
    }

    /// Built assets are served with their type, gzipped to clients that accept it, and cached for good (their
    /// names change with their content).
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn built_assets_are_gzipped_and_immutable(pool: sqlx::PgPool) {
        let Some(asset) = ASSETS.iter().find(|a| a.path.starts_with("assets/") && a.gzip.is_some()) else {
            return; // The explorer was not built into this binary.
        };
        let uri = format!("/explorer/{}", asset.path);
        let config = crate::ApiConfig::default();
        let (status, headers, body) = get(pool.clone(), config.clone(), &uri, &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(body, asset.gzip.unwrap());
        let (_, headers, body) = get(pool, config, &uri, &[]).await;
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body, asset.body);
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/index-1a2b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("assets/hash.worker-9f.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("weird"), "application/octet-stream");
    }
}
