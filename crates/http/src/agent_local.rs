//! The local agent's service and check endpoints: `/v1/agent/services`, `/checks`,
//! `/service/register|deregister`, `/check/register|deregister|pass|warn|fail|update`,
//! maintenance mode and `/reload`.

use crate::body::read_json;
use crate::catalog::parse_status;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{check_datacenter, Params};
use crate::reply;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use senate_agent::local_agent::AgentError;
use senate_types::catalog::{CheckStatus, HealthCheck, ServiceInstance, Weights};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The local agent routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/agent/services", get(services))
        .route("/v1/agent/service/{id}", get(service))
        .route("/v1/agent/checks", get(checks))
        .route("/v1/agent/service/register", put(register_service))
        .route("/v1/agent/service/deregister/{id}", put(deregister_service))
        .route("/v1/agent/check/register", put(register_check))
        .route("/v1/agent/check/deregister/{id}", put(deregister_check))
        .route("/v1/agent/check/{verdict}/{id}", put(set_ttl))
        .route("/v1/agent/check/update/{id}", put(update))
        .route("/v1/agent/maintenance", put(node_maintenance))
        .route(
            "/v1/agent/service/maintenance/{id}",
            put(service_maintenance),
        )
        .route("/v1/agent/reload", put(reload))
}

impl From<AgentError> for ApiError {
    fn from(error: AgentError) -> Self {
        match error {
            AgentError::BadRequest(message) => ApiError::bad_request(message),
            AgentError::NotFound(message) => ApiError::not_found(message),
            AgentError::Internal(message) => ApiError::internal(message),
        }
    }
}

/// A service as `/v1/agent/services` shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentService<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    service: &'a str,
    tags: &'a [String],
    meta: &'a BTreeMap<String, String>,
    port: u16,
    address: &'a str,
    weights: Weights,
    enable_tag_override: bool,
    datacenter: &'a str,
}

impl<'a> AgentService<'a> {
    fn new(service: &'a ServiceInstance, datacenter: &'a str) -> Self {
        AgentService {
            id: &service.id,
            service: &service.service,
            tags: &service.tags,
            meta: &service.meta,
            port: service.port,
            address: &service.address,
            weights: service.weights,
            enable_tag_override: service.enable_tag_override,
            datacenter,
        }
    }
}

async fn services(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let services = context.agent.services();
    let view: BTreeMap<&str, AgentService> = services
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                AgentService::new(s, &context.config.datacenter),
            )
        })
        .collect();
    Ok(reply::json(&view, params.has("pretty")))
}

async fn service(
    State(context): State<Arc<Context>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let services = context.agent.services();
    let found = services
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::not_found(format!("unknown service ID: {id}")))?;
    Ok(reply::json(
        &AgentService::new(found, &context.config.datacenter),
        params.has("pretty"),
    ))
}

async fn checks(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let checks: BTreeMap<String, HealthCheck> = context
        .agent
        .checks()
        .into_iter()
        .map(|c| (c.check_id.clone(), c))
        .collect();
    Ok(reply::json(&checks, params.has("pretty")))
}

/// Answers a successful agent write: 200 with an empty body, as Consul does.
fn done() -> Response {
    StatusCode::OK.into_response()
}

async fn register_service(
    State(context): State<Arc<Context>>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    check_datacenter(&Params::parse(uri.query()), &context)?;
    let definition: Value = read_json_object(body).await?;
    context.agent.register_service(definition)?;
    Ok(done())
}

async fn deregister_service(
    State(context): State<Arc<Context>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    context.agent.deregister_service(&id)?;
    Ok(done())
}

async fn register_check(
    State(context): State<Arc<Context>>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    check_datacenter(&Params::parse(uri.query()), &context)?;
    let definition: Value = read_json_object(body).await?;
    context.agent.register_check(definition)?;
    Ok(done())
}

/// Reads a JSON object body; anything else is a 400.
async fn read_json_object(body: Body) -> Result<Value, ApiError> {
    match read_json::<Value>(body).await? {
        object @ Value::Object(_) => Ok(object),
        Value::Null => Err(ApiError::bad_request(
            "Request decode failed: missing request body",
        )),
        _ => Err(ApiError::bad_request(
            "Request decode failed: the body must be a JSON object",
        )),
    }
}

async fn deregister_check(
    State(context): State<Arc<Context>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    context.agent.deregister_check(&id)?;
    Ok(done())
}

/// `PUT /v1/agent/check/pass|warn|fail/<id>?note=`: sets a TTL check's status.
async fn set_ttl(
    State(context): State<Arc<Context>>,
    Path((verdict, id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let status = match verdict.as_str() {
        "pass" => CheckStatus::Passing,
        "warn" => CheckStatus::Warning,
        "fail" => CheckStatus::Critical,
        _ => return Err(crate::error::not_found(Method::PUT, uri).await),
    };
    let params = Params::parse(uri.query());
    let note = params.get("note").unwrap_or("");
    context.agent.update_ttl(&id, status, note)?;
    Ok(done())
}

/// The body of `PUT /v1/agent/check/update/<id>`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CheckUpdate {
    status: String,
    output: String,
}

async fn update(
    State(context): State<Arc<Context>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let update: CheckUpdate = read_json(body).await?;
    let status = parse_status(&update.status)?;
    context.agent.update_ttl(&id, status, &update.output)?;
    Ok(done())
}

/// Reads the required `?enable=true|false` and the optional `?reason=`.
fn maintenance_params(uri: &Uri) -> Result<(bool, String), ApiError> {
    let params = Params::parse(uri.query());
    let enable = match params.get("enable") {
        None => return Err(ApiError::bad_request("Missing value for enable")),
        Some(text) => parse_go_bool(text)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid value for enable: {text:?}")))?,
    };
    Ok((enable, params.get("reason").unwrap_or("").to_string()))
}

async fn node_maintenance(
    State(context): State<Arc<Context>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let (enable, reason) = maintenance_params(&uri)?;
    context.agent.set_node_maintenance(enable, &reason)?;
    Ok(done())
}

async fn service_maintenance(
    State(context): State<Arc<Context>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let (enable, reason) = maintenance_params(&uri)?;
    context
        .agent
        .set_service_maintenance(&id, enable, &reason)?;
    Ok(done())
}

async fn reload(State(context): State<Arc<Context>>) -> Result<Response, ApiError> {
    let config = (context.reload_config)()
        .map_err(|e| ApiError::bad_request(format!("Failed to reload configs: {e}")))?;
    context.agent.reload(&config)?;
    Ok(done())
}

/// Reads a boolean as Go's `strconv.ParseBool` does (`1`, `t`, `T`, `TRUE`, `true`, `True`, and the false forms).
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
