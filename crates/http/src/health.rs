//! `/v1/health/*`: the checks of a node, of a service, in a state, and each service instance
//! with its node and every check bearing on it (`?passing`, `?tag=`, `?node-meta=`).

use crate::catalog::parse_status;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{answer, near, node_meta_filter, tags, Params};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use senate_query::Query;
use std::sync::Arc;

/// The health routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/health/node/{node}", get(node))
        .route("/v1/health/checks/{service}", get(service_checks))
        .route("/v1/health/service/{service}", get(service))
        .route("/v1/health/state/{state}", get(state))
}

async fn node(
    State(context): State<Arc<Context>>,
    Path(node): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    answer(&context, &params, Query::HealthNode { node }).await
}

async fn service_checks(
    State(context): State<Arc<Context>>,
    Path(service): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let query = Query::HealthServiceChecks {
        service,
        node_meta: node_meta_filter(&params)?,
        near: near(&params, &context),
    };
    answer(&context, &params, query).await
}

async fn service(
    State(context): State<Arc<Context>>,
    Path(service): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let query = Query::HealthService {
        service,
        tags: tags(&params),
        node_meta: node_meta_filter(&params)?,
        passing_only: params
            .get("passing")
            .is_some_and(|v| v != "false" && v != "0"),
        near: near(&params, &context),
    };
    answer(&context, &params, query).await
}

async fn state(
    State(context): State<Arc<Context>>,
    Path(state): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let state = match state.as_str() {
        "any" => None,
        other => Some(
            parse_status(other)
                .map_err(|_| ApiError::bad_request(format!("Invalid check state: {other:?}")))?,
        ),
    };
    let query = Query::HealthState {
        state,
        node_meta: node_meta_filter(&params)?,
        near: near(&params, &context),
    };
    answer(&context, &params, query).await
}
