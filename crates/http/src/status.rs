//! `/v1/status/leader` and `/v1/status/peers`: the Raft leader's RPC address and the voters',
//! as this server knows them.

use crate::context::Context;
use crate::error::ApiError;
use crate::query::{check_datacenter, Params};
use crate::reply;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// The status routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/status/leader", get(leader))
        .route("/v1/status/peers", get(peers))
}

async fn leader(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let view = context.server()?.leadership();
    let leader = view.leader_address().unwrap_or_default();
    Ok(reply::json(&leader, params.has("pretty")))
}

async fn peers(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let (_, servers) = context.raft()?.servers();
    let voters: Vec<String> = servers
        .into_iter()
        .filter(|s| s.voter)
        .map(|s| s.node.address)
        .collect();
    Ok(reply::json(&voters, params.has("pretty")))
}
