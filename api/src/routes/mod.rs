//! The API's routes, one module per resource, merged here, and the OpenAPI document generated from them.
//!
//! Every module builds its routes with `utoipa_axum`'s `routes!()`, so a handler cannot be routed without its
//! `#[utoipa::path]` being in the document served at `GET /openapi.json`.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub mod agents;
pub mod docs;
pub mod health;
pub mod lineage;
pub mod manifests;
pub mod matching;
pub mod model_versions;
pub mod ops;
pub mod output_batches;
pub mod outputs;
pub mod page;
pub mod publishers;
pub mod status;
pub mod strict;

/// The document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "prova API",
        description = "Provenance of AI models and outputs, and ERC-8004 agent reputation, answered from the indexed \
            chain data. Every fact carries its chain pointers, so a client can check it against the chain. Hashes and \
            addresses are answered as lowercase 0x hex; inputs accept any case. Errors are \
            `{ \"error\": { \"code\", \"message\" } }`. Lists are cursor-paginated: pass `next_cursor` back as `cursor`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "provenance", description = "Model versions, manifests, lineage, matching and publishers."),
        (name = "outputs", description = "Attested model outputs and their batches."),
        (name = "agents", description = "ERC-8004 agents: identity, feedback, validations and reputation."),
        (name = "operations", description = "Liveness, readiness, indexing status and metrics."),
    ),
)]
struct ApiDoc;

/// Every documented route, with the document.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(ops::router())
        .merge(status::router())
        .merge(model_versions::router())
        .merge(manifests::router())
        .merge(lineage::router())
        .merge(matching::router())
        .merge(publishers::router())
        .merge(output_batches::router())
        .merge(outputs::router())
        .merge(agents::router())
}

/// The OpenAPI 3.1 document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut api) = routes().split_for_parts();
    docs::finish(&mut api);
    api
}

/// Every route of the API, and `GET /openapi.json` serving [`openapi`].
pub fn router() -> Router<AppState> {
    let (router, mut api) = routes().split_for_parts();
    docs::finish(&mut api);
    let parameters = Arc::new(strict::QueryParameters::of(&api));
    let router = router.route_layer(axum::middleware::from_fn(move |request, next| {
        strict::refuse_unknown(parameters.clone(), request, next)
    }));
    let document = Arc::new(serde_json::to_value(&api).expect("the OpenAPI document serializes"));
    router.route("/openapi.json", get(move || async move { axum::Json(document.as_ref().clone()) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{call, send};
    use axum::http::StatusCode;
    use serde_json::Value;
    use sqlx::PgPool;

    fn operations(spec: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    out.push((path.clone(), method.clone(), operation.clone()));
                }
            }
        }
        out
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn openapi_json_is_served_as_3_1(pool: PgPool) {
        let (status, spec) = call(pool, "GET", "/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert!(spec["openapi"].as_str().unwrap().starts_with("3.1."), "{}", spec["openapi"]);
        assert_eq!(spec, serde_json::to_value(openapi()).unwrap());
        let error = &spec["components"]["schemas"]["Error"];
        assert_eq!(error["required"], serde_json::json!(["error"]), "{error}");
        for name in ["Hash", "Address", "ModelVersion", "OutputBatch", "ChainPointer", "Page_ModelVersion"] {
            assert!(spec["components"]["schemas"][name].is_object(), "missing component {name}");
        }
        assert_eq!(spec["components"]["schemas"]["Hash"]["pattern"], "^0x[0-9a-f]{64}$");
    }

    /// Every documented operation is routed: a request to it (path parameters from their examples) does not fall
    /// through to the 404 "no such route" or 405 fallbacks.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn every_documented_operation_is_routed(pool: PgPool) {
        let spec = serde_json::to_value(openapi()).unwrap();
        let operations = operations(&spec);
        assert!(operations.len() >= 16, "only {} operations", operations.len());
        for (path, method, operation) in operations {
            let mut uri = path.clone();
            for param in operation["parameters"].as_array().into_iter().flatten() {
                if param["in"] == "path" {
                    let name = param["name"].as_str().unwrap();
                    let example = match &param["example"] {
                        Value::String(text) => text.clone(),
                        Value::Null => panic!("{method} {path}: path parameter {name} has no example"),
                        other => other.to_string(),
                    };
                    uri = uri.replace(&format!("{{{name}}}"), &example);
                }
            }
            let body = if operation["requestBody"].is_object() { b"{}".to_vec() } else { Vec::new() };
            let content_type = (!body.is_empty()).then_some("application/json");
            let (status, answer) = send(pool.clone(), &method.to_uppercase(), &uri, content_type, body).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}: {answer}");
            assert!(
                !(status == StatusCode::NOT_FOUND && answer["error"]["message"] == "no such route"),
                "{method} {uri} is documented but not routed"
            );
            assert!(!status.is_server_error(), "{method} {uri}: {status} {answer}");
        }
    }

    /// The attack: break the database and read the error answers. Every operation and probe answers with our own
    /// words only: no driver text, no query, no database name, no address.
    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn a_broken_database_leaks_nothing(pool: PgPool) {
        use crate::{AppState, app};
        use axum::body::Body;
        use axum::http::{Request, header};
        use sqlx::postgres::PgPoolOptions;
        use tower::ServiceExt;

        let missing = format!("prova_dropped_{}", std::process::id());
        let options = (*pool.connect_options()).clone().database(&missing);
        let dropped = AppState::new(PgPoolOptions::new().max_connections(2).connect_lazy_with(options));
        let closed = AppState::new(pool.clone());
        closed.pool.close().await;
        let spec = serde_json::to_value(openapi()).unwrap();
        let mut requests: Vec<(String, String, Vec<u8>)> = vec![
            ("GET".into(), "/readyz".into(), Vec::new()),
            ("GET".into(), "/v1/status".into(), Vec::new()),
            ("GET".into(), "/v1/agents?sort=reputation&algorithm=trust".into(), Vec::new()),
        ];
        for (path, method, operation) in operations(&spec) {
            let mut uri = path.clone();
            for param in operation["parameters"].as_array().into_iter().flatten() {
                if param["in"] == "path" {
                    let example = match &param["example"] {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    uri = uri.replace(&format!("{{{}}}", param["name"].as_str().unwrap()), &example);
                }
            }
            let body = if operation["requestBody"].is_object() {
                br#"{"files":[{"path":"a","size":1,"sha256":"0x0101010101010101010101010101010101010101010101010101010101010101"}]}"#.to_vec()
            } else {
                Vec::new()
            };
            requests.push((method.to_uppercase(), uri, body));
        }
        let forbidden = [
            missing.as_str(),
            "sqlx",
            "error returned from database",
            "does not exist",
            "SELECT",
            "relation",
            "pool",
            "postgres",
            "127.0.0.1",
            "closed",
        ];
        let mut failures = 0;
        for (name, state) in [("dropped database", &dropped), ("closed pool", &closed)] {
            for (method, uri, body) in &requests {
                let mut request = Request::builder().method(method.as_str()).uri(uri);
                if !body.is_empty() {
                    request = request.header(header::CONTENT_TYPE, "application/json");
                }
                let response =
                    app(state.clone()).oneshot(request.body(Body::from(body.clone())).unwrap()).await.unwrap();
                let status = response.status();
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
                let text = String::from_utf8_lossy(&bytes).to_string();
                if uri == "/healthz" || uri == "/metrics" || uri == "/openapi.json" {
                    assert!(status.is_success(), "{name}: {method} {uri}: {status} {text}");
                    continue;
                }
                for word in forbidden {
                    assert!(
                        !text.to_lowercase().contains(&word.to_lowercase()),
                        "{name}: {method} {uri} leaks {word:?}: {text}"
                    );
                }
                if status.is_server_error() {
                    failures += 1;
                    let answer: Value = serde_json::from_str(&text).unwrap();
                    let code = answer["error"]["code"].as_str().unwrap();
                    assert!(["unavailable", "not_ready"].contains(&code), "{name}: {method} {uri}: {text}");
                    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{name}: {method} {uri}: {text}");
                }
            }
        }
        // Every route that reads the database failed, and said so in our words.
        assert!(failures >= 2 * 16, "only {failures} failures");
    }

    /// Every `$ref` of the document names a component it holds (nested answer types included).
    #[test]
    fn every_schema_reference_resolves() {
        fn refs(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        out.push(target.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let spec = serde_json::to_value(openapi()).unwrap();
        let mut found = Vec::new();
        refs(&spec, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let name = target.strip_prefix("#/components/schemas/").expect("a schema reference");
            assert!(spec["components"]["schemas"][name].is_object(), "{target} does not resolve");
        }
        for name in ["VersionClaims", "Score", "ScoreStatus", "ScoreParams", "TrustDetail", "Unverified"] {
            assert!(spec["components"]["schemas"][name].is_object(), "missing component {name}");
        }
    }

    /// Every operation documents its failures with the `Error` body: a 4xx (400 where it takes input), 429 and 503.
    #[test]
    fn every_operation_documents_error_answers() {
        let spec = serde_json::to_value(openapi()).unwrap();
        let error_ref = |response: &Value| {
            response["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"
        };
        for (path, method, operation) in operations(&spec) {
            let responses = operation["responses"].as_object().unwrap();
            let client_errors: Vec<&String> = responses.keys().filter(|s| s.starts_with('4')).collect();
            assert!(client_errors.iter().any(|s| error_ref(&responses[*s])), "{method} {path}: no Error 4xx");
            let takes_input = operation["parameters"].as_array().is_some_and(|p| !p.is_empty())
                || operation["requestBody"].is_object();
            if takes_input {
                assert!(responses.get("400").is_some_and(error_ref), "{method} {path}: no Error 400");
            }
            if operation["requestBody"].is_object() {
                for status in ["413", "415"] {
                    assert!(responses.get(status).is_some_and(error_ref), "{method} {path}: no {status}");
                }
            }
            for status in ["429", "503"] {
                assert!(responses.get(status).is_some_and(error_ref), "{method} {path}: no {status}");
            }
            assert!(responses["429"]["headers"]["Retry-After"].is_object(), "{method} {path}");
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(error_ref(response), "{method} {path} {status} is not the Error body");
                }
            }
        }
    }
}
