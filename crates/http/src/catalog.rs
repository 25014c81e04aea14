//! `/v1/catalog/*`: register and deregister nodes, services and checks; list datacenters, nodes,
//! services, one service's instances and one node's services. Reads block and filter as Consul's do.

use crate::body::read_json;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{answer, check_datacenter, near, node_meta_filter, tags, Params};
use crate::reply;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use senate_query::Query;
use senate_state::Command;
use senate_types::catalog::{
    CheckInput, CheckStatus, DeregisterInput, Deregistration, HealthCheck, Node, RegisterInput,
    Registration, ServiceInput, ServiceInstance,
};
use std::sync::Arc;

/// The catalog routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/catalog/register", put(register))
        .route("/v1/catalog/deregister", put(deregister))
        .route("/v1/catalog/datacenters", get(datacenters))
        .route("/v1/catalog/nodes", get(nodes))
        .route("/v1/catalog/services", get(services))
        .route("/v1/catalog/service/{name}", get(service))
        .route("/v1/catalog/node/{node}", get(node))
}

async fn register(
    State(context): State<Arc<Context>>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let input: RegisterInput = read_json(body).await?;
    let registration = registration_from(input, &context.config.datacenter)?;
    let outcome = context
        .cluster
        .write(Command::Register(registration))
        .await?;
    reply::outcome(outcome, params.has("pretty"))
}

/// Validates a catalog registration and fills in Consul's defaults.
pub fn registration_from(input: RegisterInput, datacenter: &str) -> Result<Registration, ApiError> {
    let node_name = input
        .node
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("Must provide node"))?;
    let address = input.address.unwrap_or_default();
    if address.is_empty() && !input.skip_node_update {
        return Err(ApiError::bad_request(
            "Must provide address if SkipNodeUpdate is not set",
        ));
    }
    let node = Node {
        id: input.id.unwrap_or_default(),
        node: node_name.clone(),
        address,
        datacenter: datacenter.to_string(),
        tagged_addresses: input.tagged_addresses.unwrap_or_default(),
        meta: input.node_meta.unwrap_or_default(),
        create_index: 0,
        modify_index: 0,
    };
    let service = input.service.map(service_from).transpose()?;
    let checks = input
        .check
        .into_iter()
        .chain(input.checks.unwrap_or_default())
        .map(|check| check_from(check, &node_name))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Registration {
        node,
        skip_node_update: input.skip_node_update,
        service,
        checks,
    })
}

/// Validates a `Service` block; its ID defaults to its name.
pub fn service_from(input: ServiceInput) -> Result<ServiceInstance, ApiError> {
    let name = input
        .service
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("Must provide service name"))?;
    Ok(ServiceInstance {
        id: input
            .id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| name.clone()),
        service: name,
        tags: input.tags.unwrap_or_default(),
        address: input.address.unwrap_or_default(),
        meta: input.meta.unwrap_or_default(),
        port: input.port.unwrap_or(0),
        weights: input.weights.unwrap_or_default(),
        enable_tag_override: input.enable_tag_override.unwrap_or(false),
        create_index: 0,
        modify_index: 0,
    })
}

fn check_from(input: CheckInput, node: &str) -> Result<HealthCheck, ApiError> {
    let check_id = input
        .check_id
        .filter(|id| !id.is_empty())
        .or_else(|| input.name.clone().filter(|n| !n.is_empty()))
        .ok_or_else(|| ApiError::bad_request("Must provide a CheckID or Name for each check"))?;
    let status = match input.status.as_deref().unwrap_or("") {
        "" => CheckStatus::Critical,
        text => parse_status(text)?,
    };
    Ok(HealthCheck {
        node: node.to_string(),
        name: input
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| check_id.clone()),
        check_id,
        status,
        notes: input.notes.unwrap_or_default(),
        output: input.output.unwrap_or_default(),
        service_id: input.service_id.unwrap_or_default(),
        service_name: String::new(),
        service_tags: Vec::new(),
        check_type: input.check_type.unwrap_or_default(),
        create_index: 0,
        modify_index: 0,
    })
}

/// Reads a check status a client may set.
pub fn parse_status(text: &str) -> Result<CheckStatus, ApiError> {
    match CheckStatus::parse(text) {
        Some(status) if status != CheckStatus::Maintenance => Ok(status),
        _ => Err(ApiError::bad_request(format!(
            "Invalid check status: {text:?}; must be one of unknown, passing, warning, critical"
        ))),
    }
}

async fn deregister(
    State(context): State<Arc<Context>>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let input: DeregisterInput = read_json(body).await?;
    let node = input
        .node
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("Must provide node"))?;
    let deregistration = match (
        input.service_id.filter(|s| !s.is_empty()),
        input.check_id.filter(|c| !c.is_empty()),
    ) {
        (Some(service_id), _) => Deregistration::Service { node, service_id },
        (None, Some(check_id)) => Deregistration::Check { node, check_id },
        (None, None) => Deregistration::Node(node),
    };
    let outcome = context
        .cluster
        .write(Command::Deregister(deregistration))
        .await?;
    reply::outcome(outcome, params.has("pretty"))
}

async fn datacenters(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    Ok(reply::json(
        &[&context.config.datacenter],
        params.has("pretty"),
    ))
}

async fn nodes(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let query = Query::CatalogNodes {
        node_meta: node_meta_filter(&params)?,
        near: near(&params, &context),
    };
    answer(&context, &params, query).await
}

async fn services(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let node_meta = node_meta_filter(&params)?;
    answer(&context, &params, Query::CatalogServices { node_meta }).await
}

async fn service(
    State(context): State<Arc<Context>>,
    Path(service): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let query = Query::CatalogService {
        service,
        tags: tags(&params),
        node_meta: node_meta_filter(&params)?,
        near: near(&params, &context),
    };
    answer(&context, &params, query).await
}

async fn node(
    State(context): State<Arc<Context>>,
    Path(node): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    answer(&context, &params, Query::CatalogNode { node }).await
}
