//! `/v1/coordinate/*`: every node's network coordinate, one node's, this datacenter's servers',
//! and `PUT /v1/coordinate/update`, which stores a node's coordinate through Raft.

use crate::body::read_json;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{answer, check_datacenter, Params};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use senate_coordinate::{Config, Coordinate};
use senate_query::Query;
use senate_state::coordinate::NodeCoordinate;
use senate_state::Command;
use serde::Deserialize;
use std::sync::Arc;

/// The coordinate routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/coordinate/datacenters", get(datacenters))
        .route("/v1/coordinate/nodes", get(nodes))
        .route("/v1/coordinate/node/{node}", get(node))
        .route("/v1/coordinate/update", put(update))
}

async fn datacenters(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let datacenter = context.config.datacenter.clone();
    answer(
        &context,
        &params,
        Query::CoordinateDatacenters { datacenter },
    )
    .await
}

async fn nodes(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let segment = params.get("segment").map(str::to_string);
    answer(&context, &params, Query::CoordinateNodes { segment }).await
}

async fn node(
    State(context): State<Arc<Context>>,
    Path(node): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    answer(&context, &params, Query::CoordinateNode { node }).await
}

/// `PUT /v1/coordinate/update`'s body.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CoordinateUpdate {
    node: String,
    segment: String,
    coord: Option<Coordinate>,
}

async fn update(
    State(context): State<Arc<Context>>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let request: CoordinateUpdate = read_json(body).await?;
    let coordinate = valid_update(request)?;
    context
        .cluster
        .write(Command::CoordinateUpdate(vec![coordinate]))
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// Refuses an update without a node, or whose coordinate is missing, not finite, or of another
/// dimensionality than Senate's.
fn valid_update(request: CoordinateUpdate) -> Result<NodeCoordinate, ApiError> {
    if request.node.is_empty() {
        return Err(ApiError::bad_request("Missing node name"));
    }
    let Some(coord) = request.coord else {
        return Err(ApiError::bad_request("Missing coordinate"));
    };
    let dimensions = Config::default().dimensionality;
    if !coord.is_valid() || coord.vec.len() != dimensions {
        return Err(ApiError::bad_request(format!(
            "Invalid coordinate: it must have {dimensions} finite components and finite error, \
             adjustment and height"
        )));
    }
    Ok(NodeCoordinate {
        node: request.node,
        segment: request.segment,
        coord,
    })
}
