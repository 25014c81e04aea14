//! `/v1/operator/keyring`: the gossip encryption keys of every member of the LAN pool — list
//! (`GET`), install (`POST`), make primary (`PUT`) and remove (`DELETE`), each asked of every
//! live member (`?local-only` lists this agent's keys only); `?relay-factor=` is accepted and
//! checked as Consul checks it (answers travel straight back, so it changes nothing).

use crate::body::read_json;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{check_datacenter, Params};
use crate::reply;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use senate_gossip::{GossipError, KeyringOp, KeyringReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Consul's largest `?relay-factor=`.
const MAX_RELAY_FACTOR: u8 = 5;

/// The keyring route.
pub fn routes() -> Router<Arc<Context>> {
    Router::new().route(
        "/v1/operator/keyring",
        get(keyring).post(keyring).put(keyring).delete(keyring),
    )
}

/// A change request's body.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct KeyRequest {
    key: String,
}

/// One pool's answer, in Consul's shape.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PoolKeys {
    #[serde(rename = "WAN")]
    wan: bool,
    datacenter: String,
    segment: String,
    partition: String,
    keys: BTreeMap<String, usize>,
    primary_keys: BTreeMap<String, usize>,
    num_nodes: usize,
    messages: BTreeMap<String, String>,
}

async fn keyring(
    State(context): State<Arc<Context>>,
    method: Method,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    check_relay_factor(&params)?;
    let local_only = params.has("local-only") && params.get("local-only") != Some("false");
    let operation = operation(&method, body).await?;
    if local_only && operation != KeyringOp::List {
        return Err(ApiError::bad_request(
            "Local-only can only be used for list operations",
        ));
    }
    let listing = operation == KeyringOp::List;
    let report = context
        .cluster
        .gossip()
        .keyring(operation, local_only)
        .await
        .map_err(keyring_error)?;
    if let Some(failure) = failures(&report) {
        return Err(ApiError::internal(failure));
    }
    match listing {
        true => Ok(reply::json(&[pool(&context, report)], params.has("pretty"))),
        false => Ok(StatusCode::OK.into_response()),
    }
}

fn check_relay_factor(params: &Params) -> Result<(), ApiError> {
    match params.get("relay-factor") {
        None => Ok(()),
        Some(text) => match text.parse::<u8>() {
            Ok(factor) if factor <= MAX_RELAY_FACTOR => Ok(()),
            Ok(_) => Err(ApiError::bad_request(format!(
                "Relay factor must be in range: [0, {MAX_RELAY_FACTOR}]"
            ))),
            Err(_) => Err(ApiError::bad_request(format!(
                "Error parsing relay factor: {text:?} is not a number"
            ))),
        },
    }
}

/// What the method asks: list (`GET`), or install, use or remove the body's key.
async fn operation(method: &Method, body: Body) -> Result<KeyringOp, ApiError> {
    if *method == Method::GET {
        return Ok(KeyringOp::List);
    }
    let request: KeyRequest = read_json(body).await?;
    if request.key.is_empty() {
        return Err(ApiError::bad_request("Request body must contain a Key"));
    }
    Ok(match *method {
        Method::POST => KeyringOp::Install(request.key),
        Method::PUT => KeyringOp::Use(request.key),
        _ => KeyringOp::Remove(request.key),
    })
}

fn keyring_error(error: GossipError) -> ApiError {
    match error {
        GossipError::InvalidKey(_) => ApiError::bad_request(error.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

/// The members' refusals and silences, in words, if any.
fn failures(report: &KeyringReport) -> Option<String> {
    let silent = report
        .num_nodes
        .saturating_sub(report.num_responses + report.messages.len());
    if report.num_errors == 0 && silent == 0 {
        return None;
    }
    let mut lines: Vec<String> = report
        .messages
        .iter()
        .map(|(node, message)| format!("{node}: {message}"))
        .collect();
    if silent > 0 {
        lines.push(format!("{silent} nodes did not answer"));
    }
    Some(format!(
        "{} errors, {} of {} nodes answered: {}",
        report.num_errors,
        report.num_responses,
        report.num_nodes,
        lines.join("; ")
    ))
}

fn pool(context: &Context, report: KeyringReport) -> PoolKeys {
    PoolKeys {
        wan: false,
        datacenter: context.config.datacenter.clone(),
        segment: String::new(),
        partition: String::new(),
        keys: report.keys,
        primary_keys: report.primary_keys,
        num_nodes: report.num_nodes,
        messages: report.messages,
    }
}
