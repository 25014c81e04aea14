//! `/v1/session/*`: create (defaults to this node, `serfHealth`, 15s lock delay), destroy, renew,
//! and the blocking reads info, node and list.

use crate::body::read_json;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{answer, check_datacenter, parse_duration, read_options, Params};
use crate::reply;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use senate_query::Query;
use senate_state::Command;
use senate_types::catalog::SERF_HEALTH_CHECK;
use senate_types::duration;
use senate_types::session::{Behavior, Session, SessionCreateRequest};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);
const MAX_TTL: Duration = Duration::from_secs(86_400);
/// Numeric lock delays below this are seconds; larger ones are nanoseconds (Consul's rule).
const LOCK_DELAY_SECONDS_THRESHOLD: f64 = 1000.0;

/// The session routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/session/create", put(create))
        .route("/v1/session/destroy/{id}", put(destroy))
        .route("/v1/session/renew/{id}", put(renew))
        .route("/v1/session/info/{id}", get(info))
        .route("/v1/session/node/{node}", get(by_node))
        .route("/v1/session/list", get(list))
}

async fn create(
    State(context): State<Arc<Context>>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let request: SessionCreateRequest = read_json(body).await?;
    let config = &context.config;
    let session = build_session(request, &config.node_name, config.session_ttl_min)?;
    let id = session.id.clone();
    reply::outcome(
        context
            .cluster
            .write(Command::SessionCreate(session))
            .await?,
        false,
    )?;
    Ok(reply::json(
        &serde_json::json!({ "ID": id }),
        params.has("pretty"),
    ))
}

/// Validates a create request and fills in Consul's defaults; a TTL must lie between
/// `session_ttl_min` and 24 hours.
fn build_session(
    request: SessionCreateRequest,
    local_node: &str,
    min_ttl: Duration,
) -> Result<Session, ApiError> {
    let behavior = match request.behavior.as_deref().unwrap_or("") {
        "" | "release" => Behavior::Release,
        "delete" => Behavior::Delete,
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid Behavior setting '{other}'"
            )))
        }
    };
    let ttl = request.ttl.unwrap_or_default();
    if let Some(duration) = nonzero_ttl(&ttl)? {
        if !(min_ttl..=MAX_TTL).contains(&duration) {
            // A 500, as Consul answers it: clients such as Patroni read this status and text to
            // retry with a longer TTL.
            return Err(ApiError::internal(format!(
                "Invalid Session TTL '{ttl}', must be between [{}={}]",
                duration::format(min_ttl),
                duration::format(MAX_TTL)
            )));
        }
    }
    let lock_delay = match request.lock_delay {
        None => DEFAULT_LOCK_DELAY,
        Some(value) => lock_delay(&value)?,
    };
    let no_checks_given = request.checks.is_none()
        && request.node_checks.is_none()
        && request.service_checks.is_none();
    let mut node_checks = request.node_checks.unwrap_or_default();
    for check in request.checks.unwrap_or_default() {
        if !node_checks.contains(&check) {
            node_checks.push(check);
        }
    }
    if no_checks_given {
        node_checks.push(SERF_HEALTH_CHECK.to_string());
    }
    let service_checks = request.service_checks.unwrap_or_default();
    let checks = node_checks
        .iter()
        .cloned()
        .chain(service_checks.iter().map(|c| c.id.clone()))
        .collect();
    Ok(Session {
        id: uuid::Uuid::new_v4().to_string(),
        name: request.name.unwrap_or_default(),
        node: request
            .node
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| local_node.to_string()),
        checks,
        node_checks,
        service_checks,
        lock_delay: u64::try_from(lock_delay.as_nanos()).unwrap_or(u64::MAX),
        behavior,
        ttl,
        create_index: 0,
        modify_index: 0,
    })
}

/// A session TTL string as a duration, `None` when unset or zero.
fn nonzero_ttl(ttl: &str) -> Result<Option<Duration>, ApiError> {
    if ttl.is_empty() {
        return Ok(None);
    }
    let duration = parse_duration(ttl, "Session TTL")?;
    Ok((!duration.is_zero()).then_some(duration))
}

/// Reads `LockDelay`: a duration string, or a number (seconds when small, else nanoseconds).
fn lock_delay(value: &Value) -> Result<Duration, ApiError> {
    match value {
        Value::String(text) => parse_duration(text, "LockDelay"),
        Value::Number(number) => {
            let amount = number
                .as_f64()
                .filter(|n| *n >= 0.0 && n.is_finite())
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Invalid LockDelay: {number} is not a non-negative duration"
                    ))
                })?;
            Ok(if amount < LOCK_DELAY_SECONDS_THRESHOLD {
                Duration::from_secs_f64(amount)
            } else {
                Duration::from_nanos(amount as u64)
            })
        }
        Value::Null => Ok(DEFAULT_LOCK_DELAY),
        other => Err(ApiError::bad_request(format!("Invalid LockDelay: {other}"))),
    }
}

async fn destroy(
    State(context): State<Arc<Context>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let outcome = context
        .cluster
        .write(Command::SessionDestroy { id })
        .await?;
    reply::outcome(outcome, params.has("pretty"))
}

async fn renew(
    State(context): State<Arc<Context>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = read_options(&params, &context)?;
    let renewed = context.cluster.renew_session(&id).await?;
    let Some(session) = renewed.session else {
        return Err(ApiError::not_found(format!("Session id '{id}' not found")));
    };
    Ok(reply::read(&context, &options, renewed.index, &[session]))
}

async fn info(
    State(context): State<Arc<Context>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    answer(&context, &params, Query::SessionInfo { id }).await
}

async fn by_node(
    State(context): State<Arc<Context>>,
    Path(node): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    answer(&context, &params, Query::SessionsOfNode { node }).await
}

async fn list(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    answer(&context, &params, Query::Sessions).await
}
