//! `/v1/event/fire/<name>` and `/v1/event/list`: fire a user event (gossip carries it to every
//! agent of the datacenter), and list (blocking) the events this agent has received.

use crate::body::read_limited;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{check_datacenter, read_options, Params};
use crate::reply;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use senate_agent::events::{EventBuffer, EventRequest, UserEvent, MAX_EVENT_BYTES};
use senate_gossip::DeliveredEvent;
use senate_query::block_until_changed;
use std::sync::Arc;

/// The event routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/event/fire/{name}", put(fire))
        .route("/v1/event/list", get(list))
}

async fn fire(
    State(context): State<Arc<Context>>,
    Path(name): Path<String>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let payload = read_limited(body, MAX_EVENT_BYTES).await?;
    let filter = |name: &str| params.get(name).unwrap_or("").to_string();
    let request = EventRequest {
        name,
        payload: payload.to_vec(),
        node_filter: filter("node"),
        service_filter: filter("service"),
        tag_filter: filter("tag"),
    };
    let message =
        EventBuffer::prepare(request).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let ltime = context
        .cluster
        .gossip()
        .fire_event(message.clone())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let delivered = DeliveredEvent {
        ltime,
        event: message,
    };
    // Listed here at once, as before gossip delivers it back to this agent.
    let services = context.agent.service_names_and_tags();
    context
        .events
        .accept(&delivered, &context.config.node_name, &services);
    Ok(reply::json(
        &UserEvent::delivered(&delivered),
        params.has("pretty"),
    ))
}

async fn list(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = read_options(&params, &context)?;
    let name = params.get("name").filter(|n| !n.is_empty());
    let signals = [context.events.changed()];
    let (index, events) =
        block_until_changed(&options, &signals, || context.events.list(name)).await;
    Ok(reply::read(&context, &options, index, &events))
}
