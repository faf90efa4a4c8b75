//! The API's routes, one module per resource, merged here.

use axum::Router;

use crate::AppState;

pub mod agents;
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

/// Every route of the API.
pub fn router() -> Router<AppState> {
    Router::new()
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
