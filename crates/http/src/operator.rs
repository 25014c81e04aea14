//! `/v1/operator/raft/configuration` and `/v1/operator/raft/peer`: inspect the Raft servers and
//! remove one by `?address=` or `?id=`.

use crate::blocking::ensure_readable;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{Params, QueryOptions};
use crate::reply;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Router;
use serde::Serialize;
use std::sync::Arc;

/// The operator routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/operator/raft/configuration", get(configuration))
        .route("/v1/operator/raft/peer", delete(remove_peer))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServerView {
    #[serde(rename = "ID")]
    id: String,
    node: String,
    address: String,
    leader: bool,
    voter: bool,
    protocol_version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigurationView {
    servers: Vec<ServerView>,
    index: u64,
}

/// This server's ID as Consul reports it: the node ID, or the address when there is none.
fn server_id(context: &Context) -> String {
    context
        .config
        .node_id
        .clone()
        .unwrap_or_else(|| context.raft.leader_address().unwrap_or_default())
}

async fn configuration(
    State(context): State<Arc<Context>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = QueryOptions::parse(&params, &context)?;
    ensure_readable(&context, &options).await?;
    let (index, servers) = context.raft.servers();
    let servers = servers
        .into_iter()
        .map(|server| ServerView {
            id: server_id(&context),
            node: context.config.node_name.clone(),
            address: server.address,
            leader: server.leader,
            voter: server.voter,
            protocol_version: "3",
        })
        .collect();
    let index = index.max(1);
    let view = ConfigurationView { servers, index };
    Ok(reply::read(&context, &options, index, &view))
}

async fn remove_peer(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    QueryOptions::parse(&params, &context)?;
    let (address, id) = (params.get("address"), params.get("id"));
    if address.is_none() && id.is_none() {
        return Err(ApiError::bad_request(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
        ));
    }
    let (_, servers) = context.raft.servers();
    let own_id = server_id(&context);
    let target = servers
        .iter()
        .find(|s| address == Some(s.address.as_str()) || id == Some(own_id.as_str()));
    match target {
        None => Err(ApiError::bad_request(format!(
            "{} was not found in the Raft configuration",
            address
                .map(|a| format!("address {a:?}"))
                .unwrap_or_else(|| format!("id {:?}", id.unwrap_or("")))
        ))),
        Some(_) => Err(ApiError::bad_request(
            "Cannot remove this server: it is the only voter in the Raft configuration",
        )),
    }
}
