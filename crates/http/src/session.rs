//! `/v1/session/*`: create (defaults to this node, `serfHealth`, 15s lock delay), destroy, renew,
//! and the blocking reads info, node and list.

use crate::blocking::{answer_json, rendered};
use crate::body::read_json;
use crate::context::Context;
use crate::error::ApiError;
use crate::forward::agent_node;
use crate::query::{check_datacenter, parse_duration, Params, QueryOptions};
use crate::reply;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use senate_state::{Command, Topic};
use senate_types::catalog::SERF_HEALTH_CHECK;
use senate_types::session::{Behavior, Session, SessionCreateRequest};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);
const MIN_TTL: Duration = Duration::from_secs(10);
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
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let request: SessionCreateRequest = read_json(body).await?;
    let session = build_session(request, agent_node(&headers, &context))?;
    let (id, ttl) = (session.id.clone(), session.ttl.clone());
    reply::outcome(
        context
            .cluster
            .write(Command::SessionCreate(session))
            .await?,
        false,
    )?;
    if let Some(ttl) = nonzero_ttl(&ttl)? {
        context.session_timers.reset(&id, ttl);
    }
    Ok(reply::json(
        &serde_json::json!({ "ID": id }),
        params.has("pretty"),
    ))
}

/// Validates a create request and fills in Consul's defaults.
fn build_session(request: SessionCreateRequest, local_node: &str) -> Result<Session, ApiError> {
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
        if !(MIN_TTL..=MAX_TTL).contains(&duration) {
            return Err(ApiError::bad_request(format!(
                "Invalid Session TTL '{ttl}', must be between [10s=24h0m0s]"
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
    let options = QueryOptions::parse(&params, &context)?;
    let tables = context.store().snapshot();
    let (index, session) = tables.session_get(&id);
    let Some(session) = session else {
        return Err(ApiError::not_found(format!("Session id '{id}' not found")));
    };
    if let Some(ttl) = nonzero_ttl(&session.ttl)? {
        context.session_timers.reset(&id, ttl);
    }
    Ok(reply::read(&context, &options, index, &[session]))
}

async fn info(
    State(context): State<Arc<Context>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = QueryOptions::parse(&params, &context)?;
    answer_json(&context, &options, &[Topic::Sessions], |t, pretty| {
        let (index, session) = t.session_get(&id);
        rendered((index, session.into_iter().collect::<Vec<_>>()), pretty)
    })
    .await
}

async fn by_node(
    State(context): State<Arc<Context>>,
    Path(node): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = QueryOptions::parse(&params, &context)?;
    answer_json(&context, &options, &[Topic::Sessions], |t, pretty| {
        rendered(t.session_list_by_node(&node), pretty)
    })
    .await
}

async fn list(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = QueryOptions::parse(&params, &context)?;
    answer_json(&context, &options, &[Topic::Sessions], |t, pretty| {
        rendered(t.session_list(), pretty)
    })
    .await
}
