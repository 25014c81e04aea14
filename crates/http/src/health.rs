//! `/v1/health/*`: the checks of a node, of a service, in a state, and each service instance
//! with its node and every check bearing on it (`?passing`, `?tag=`, `?node-meta=`).

use crate::blocking::{answer_json, query_store, rendered};
use crate::catalog::parse_status;
use crate::context::Context;
use crate::error::ApiError;
use crate::filters::{has_all_tags, node_meta_filter};
use crate::query::{Params, QueryOptions};
use crate::reply;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use senate_state::catalog::ServiceHealth;
use senate_state::Topic;
use senate_types::catalog::CheckStatus;
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
    Path(name): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = QueryOptions::parse(&params, &context)?;
    answer_json(
        &context,
        &options,
        &[Topic::Node(name.clone())],
        |t, pretty| rendered(t.node_checks(&name), pretty),
    )
    .await
}

async fn service_checks(
    State(context): State<Arc<Context>>,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = QueryOptions::parse(&params, &context)?;
    let meta = node_meta_filter(&params)?;
    answer_json(
        &context,
        &options,
        &[Topic::Service(name.clone())],
        |t, pretty| {
            let (index, checks) = t.service_checks(&name);
            rendered((index, meta.keep_checks(t, checks)), pretty)
        },
    )
    .await
}

async fn service(
    State(context): State<Arc<Context>>,
    Path(name): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = QueryOptions::parse(&params, &context)?;
    let meta = node_meta_filter(&params)?;
    let tags: Vec<String> = params.all("tag").into_iter().map(str::to_string).collect();
    let passing_only = params
        .get("passing")
        .is_some_and(|v| v != "false" && v != "0");
    let topics = [Topic::Service(name.clone())];
    let body_key = params.body_key(uri.path());
    let (index, body) = query_store(&context, &options, &topics, |t| {
        let index = t.service_read_index(&name);
        let body = context.responses.get_or_render(&body_key, index, || {
            let (_, entries) = t.service_health(&name);
            let kept = entries
                .into_iter()
                .filter(|e| meta.matches(e.node) && has_all_tags(&e.service.tags, &tags))
                .filter(|e| !passing_only || all_passing(e))
                .collect::<Vec<_>>();
            reply::json_bytes(&kept, options.pretty)
        });
        (index, body)
    })
    .await?;
    Ok(reply::read_serialized(&context, &options, index, body))
}

fn all_passing(entry: &ServiceHealth) -> bool {
    entry
        .checks
        .iter()
        .all(|c| c.status == CheckStatus::Passing)
}

async fn state(
    State(context): State<Arc<Context>>,
    Path(state): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = QueryOptions::parse(&params, &context)?;
    let meta = node_meta_filter(&params)?;
    let wanted = match state.as_str() {
        "any" => None,
        other => Some(
            parse_status(other)
                .map_err(|_| ApiError::bad_request(format!("Invalid check state: {other:?}")))?,
        ),
    };
    answer_json(&context, &options, &[Topic::Checks], |t, pretty| {
        let (index, checks) = t.checks_in_state(wanted);
        rendered((index, meta.keep_checks(t, checks)), pretty)
    })
    .await
}
