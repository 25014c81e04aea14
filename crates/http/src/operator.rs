//! The operator endpoints: `/v1/operator/raft/configuration` (the servers and the
//! configuration's index), `/v1/operator/raft/peer` (remove one by `?address=` or `?id=`),
//! `/v1/operator/raft/transfer-leader`, and autopilot's `/configuration`, `/health` and `/state`.
//! All but `?stale` reads are answered on the leader (the forwarding layer sends them there).

use crate::body::read_json;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{check_datacenter, read_options, Params};
use crate::reply;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use senate_cluster::autopilot::{failure_tolerance, server_health, ServerHealth};
use senate_gossip::MemberStatus;
use senate_state::{Command, Outcome};
use senate_types::duration;
use senate_types::operator::AutopilotConfigJson;
use senate_types::time::rfc3339;
use senate_types::version::CONSUL_API_VERSION;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// The operator routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/operator/raft/configuration", get(configuration))
        .route("/v1/operator/raft/peer", delete(remove_peer))
        .route(
            "/v1/operator/raft/transfer-leader",
            post(transfer_leader).put(transfer_leader),
        )
        .route(
            "/v1/operator/autopilot/configuration",
            get(autopilot_configuration).put(set_autopilot_configuration),
        )
        .route("/v1/operator/autopilot/health", get(autopilot_health))
        .route("/v1/operator/autopilot/state", get(autopilot_state))
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
    last_index: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigurationView {
    servers: Vec<ServerView>,
    index: u64,
}

async fn configuration(
    State(context): State<Arc<Context>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = read_options(&params, &context)?;
    context
        .server()?
        .ensure_readable(options.consistency)
        .await?;
    let (index, servers) = context.raft()?.servers();
    let servers = servers
        .into_iter()
        .map(|server| ServerView {
            id: server.node.id,
            node: server.node.name,
            address: server.node.address,
            leader: server.leader,
            voter: server.voter,
            protocol_version: "3",
            last_index: server.last_index.unwrap_or(0),
        })
        .collect();
    let index = index.max(1);
    let view = ConfigurationView { servers, index };
    Ok(reply::read(&context, &options, index, &view))
}

async fn remove_peer(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let (address, id) = (non_empty(&params, "address"), non_empty(&params, "id"));
    match (address, id) {
        (None, None) => Err(ApiError::bad_request(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
        )),
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "Must specify only one of ?id or ?address",
        )),
        _ => {
            context.server()?.remove_peer(address, id).await?;
            Ok(StatusCode::OK.into_response())
        }
    }
}

fn non_empty<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).filter(|value| !value.is_empty())
}

async fn transfer_leader(
    State(context): State<Arc<Context>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    context
        .server()?
        .transfer_leadership(non_empty(&params, "id"))
        .await?;
    Ok(reply::json(
        &json!({ "Success": true }),
        params.has("pretty"),
    ))
}

async fn autopilot_configuration(
    State(context): State<Arc<Context>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = read_options(&params, &context)?;
    context
        .server()?
        .ensure_readable(options.consistency)
        .await?;
    let (config, create_index, modify_index) = context.store()?.snapshot().autopilot_config();
    let view = AutopilotConfigJson::render(&config, create_index, modify_index);
    Ok(reply::read(&context, &options, modify_index.max(1), &view))
}

async fn set_autopilot_configuration(
    State(context): State<Arc<Context>>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let cas = params.u64("cas", "CAS index")?;
    let wanted: AutopilotConfigJson = read_json(body).await?;
    let config = wanted
        .to_config()
        .map_err(|e| ApiError::bad_request(format!("Error parsing autopilot config: {e}")))?;
    let outcome = context
        .cluster
        .write(Command::AutopilotSetConfig { config, cas })
        .await?;
    let applied = matches!(outcome, Outcome::Applied(true));
    Ok(reply::json(&applied, params.has("pretty")))
}

fn stable_since(server: &ServerHealth) -> String {
    let since = server
        .stable_since
        .map(|at| SystemTime::now() - Instant::now().duration_since(at))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    rfc3339(since)
}

fn serf_status(server: &ServerHealth) -> String {
    server.gossip.unwrap_or(MemberStatus::None).to_string()
}

/// Autopilot's view of one server, with the fields `/health` and `/state` share: its log
/// position and contact as the leader sees it, and its health.
fn server_fields(server: &ServerHealth, term: u64) -> Map<String, Value> {
    let raft = &server.raft;
    let last_contact = match raft.last_contact {
        Some(since) => duration::format(since),
        None => "-1ns".to_string(),
    };
    let fields = json!({
        "ID": raft.node.id,
        "Name": raft.node.name,
        "Address": raft.node.address,
        "Version": CONSUL_API_VERSION,
        "LastContact": last_contact,
        "LastTerm": term,
        "LastIndex": raft.last_index.unwrap_or(0),
        "Healthy": server.healthy,
        "StableSince": stable_since(server),
    });
    match fields {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

/// Every server's health, and the term, read once for one answer.
fn health_and_term(context: &Context) -> Result<(Vec<ServerHealth>, u64), ApiError> {
    let server = context.server()?;
    Ok((server_health(server), server.leadership().term))
}

async fn autopilot_health(
    State(context): State<Arc<Context>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = read_options(&params, &context)?;
    context
        .server()?
        .ensure_readable(options.consistency)
        .await?;
    let (health, term) = health_and_term(&context)?;
    let servers: Vec<Value> = health
        .iter()
        .map(|server| {
            let mut fields = server_fields(server, term);
            fields.insert("SerfStatus".into(), serf_status(server).into());
            fields.insert("Leader".into(), server.raft.leader.into());
            fields.insert("Voter".into(), server.raft.voter.into());
            Value::Object(fields)
        })
        .collect();
    let healthy = health.iter().all(|s| s.healthy);
    let body = json!({
        "Healthy": healthy,
        "FailureTolerance": failure_tolerance(&health),
        "Servers": servers,
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::TOO_MANY_REQUESTS
    };
    let mut response = reply::json(&body, options.pretty);
    *response.status_mut() = status;
    Ok(response)
}

async fn autopilot_state(
    State(context): State<Arc<Context>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let options = read_options(&params, &context)?;
    context
        .server()?
        .ensure_readable(options.consistency)
        .await?;
    let (health, term) = health_and_term(&context)?;
    let mut servers = Map::new();
    for server in &health {
        let raft = &server.raft;
        let status = match (raft.leader, raft.voter) {
            (true, _) => "leader",
            (false, true) => "voter",
            (false, false) => "non-voter",
        };
        let mut fields = server_fields(server, term);
        fields.insert("NodeStatus".into(), serf_status(server).into());
        fields.insert("ReadReplica".into(), false.into());
        fields.insert("Status".into(), status.into());
        fields.insert("Meta".into(), json!({}));
        fields.insert("NodeType".into(), "voter".into());
        servers.insert(raft.node.id.clone(), Value::Object(fields));
    }
    let voters: Vec<&str> = health
        .iter()
        .filter(|s| s.raft.voter)
        .map(|s| s.raft.node.id.as_str())
        .collect();
    let leader = health
        .iter()
        .find(|s| s.raft.leader)
        .map(|s| s.raft.node.id.clone())
        .unwrap_or_default();
    let healthy_voters = health.iter().filter(|s| s.raft.voter && s.healthy).count();
    let body = json!({
        "Healthy": health.iter().all(|s| s.healthy),
        "FailureTolerance": failure_tolerance(&health),
        "OptimisticFailureTolerance": healthy_voters.saturating_sub(voters.len() / 2 + 1),
        "Servers": servers,
        "Leader": leader,
        "Voters": voters,
        "ReadReplicas": null,
        "RedundancyZones": null,
        "Upgrade": null,
    });
    Ok(reply::read(
        &context,
        &options,
        context.store()?.snapshot().applied_index.max(1),
        &body,
    ))
}
