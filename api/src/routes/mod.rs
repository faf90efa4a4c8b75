//! The API's routes, one module per resource, merged here.

use axum::Router;

use crate::AppState;

pub mod health;
pub mod model_versions;
pub mod publishers;
pub mod status;

/// Every route of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(status::router())
        .merge(model_versions::router())
        .merge(publishers::router())
}
