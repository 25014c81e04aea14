//! `/v1/agent/self`, `/v1/agent/members` and the gossip controls `/v1/agent/join`,
//! `/v1/agent/leave` and `/v1/agent/force-leave`: this agent's configuration and statistics,
//! the members its gossip pool sees, and joining or leaving that pool.

use crate::context::Context;
use crate::error::ApiError;
use crate::query::{check_datacenter, Params};
use crate::reply;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use senate_agent::config::AgentConfig;
use senate_agent::member::advertise_ip;
use senate_cluster::ClusterServer;
use senate_gossip::Member;
use senate_types::version::{CONSUL_API_VERSION, SENATE_VERSION};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The agent routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/agent/self", get(agent_self))
        .route("/v1/agent/members", get(members))
        .route("/v1/agent/join/{address}", put(join).get(join))
        .route("/v1/agent/leave", put(leave).post(leave))
        .route(
            "/v1/agent/force-leave/{node}",
            put(force_leave).get(force_leave),
        )
}

/// A gossip member as `/v1/agent/members` shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MemberView {
    name: String,
    addr: String,
    port: u16,
    tags: BTreeMap<String, String>,
    status: u8,
    protocol_min: u8,
    protocol_max: u8,
    protocol_cur: u8,
    delegate_min: u8,
    delegate_max: u8,
    delegate_cur: u8,
}

impl MemberView {
    fn of(member: Member) -> Self {
        MemberView {
            name: member.name,
            addr: member.addr.to_string(),
            port: member.port,
            tags: member.tags,
            status: member.status.code(),
            protocol_min: member.protocol_min,
            protocol_max: member.protocol_max,
            protocol_cur: member.protocol_cur,
            delegate_min: member.delegate_min,
            delegate_max: member.delegate_max,
            delegate_cur: member.delegate_cur,
        }
    }
}

async fn agent_self(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let config = &context.config;
    let body = json!({
        "Config": config_view(config),
        "DebugConfig": debug_config_view(config),
        "Coord": context.cluster.gossip().coordinate(),
        "Member": MemberView::of(context.cluster.gossip().local_member()),
        "Meta": config.node_meta,
        "Stats": stats(&context),
        "Senate": { "Version": SENATE_VERSION },
    });
    Ok(reply::json(&body, params.has("pretty")))
}

/// The `Stats` block: string values by section, as Consul reports them (a client agent has
/// no `raft` section, and only `server` and `known_*` in `consul`).
fn stats(context: &Context) -> Value {
    let members = context.cluster.gossip().members();
    let count = |code: u8| members.iter().filter(|m| m.status.code() == code).count();
    let mut stats = json!({
        "agent": {
            "check_monitors": "0", "check_ttls": "0", "checks": "0", "services": "0",
        },
        "build": { "version": CONSUL_API_VERSION, "prerelease": "", "revision": "senate" },
        "consul": {
            "server": context.config.server.to_string(),
            "known_datacenters": "1",
            "known_servers": context.cluster.gossip_servers().len().to_string(),
        },
        "serf_lan": {
            "members": members.len().to_string(),
            "alive": count(1).to_string(),
            "failed": count(4).to_string(),
            "left": count(3).to_string(),
            "encrypted": context.cluster.gossip().encryption_enabled().to_string(),
        },
        "runtime": {
            "arch": std::env::consts::ARCH,
            "os": std::env::consts::OS,
            "version": concat!("senate-", env!("CARGO_PKG_VERSION")),
        },
    });
    if let Some(server) = context.cluster.server() {
        add_server_stats(&mut stats, server, context.config.bootstrap);
    }
    stats
}

/// A server's leadership in `consul`, and its `raft` section.
fn add_server_stats(stats: &mut Value, server: &ClusterServer, bootstrap: bool) {
    let view = server.leadership();
    let (configuration_index, servers) = server.raft().servers();
    let state = match (view.is_leader, view.leader.is_some()) {
        (true, _) => "Leader",
        (false, true) => "Follower",
        (false, false) => "Candidate",
    };
    let consul = &mut stats["consul"];
    consul["bootstrap"] = json!(bootstrap.to_string());
    consul["leader"] = json!(view.is_leader.to_string());
    consul["leader_addr"] = json!(view.leader_address().unwrap_or_default());
    stats["raft"] = json!({
        "state": state,
        "term": view.term.to_string(),
        "last_log_index": view.last_log_index.to_string(),
        "applied_index": view.applied_index.to_string(),
        "num_peers": servers.len().saturating_sub(1).to_string(),
        "latest_configuration_index": configuration_index.to_string(),
        "last_contact": format!("{}ms", view.since_last_contact().as_millis()),
        "protocol_version": "3",
    });
}

/// The `Config` block, with today's Consul fields and the 0.7-era ones older clients read.
fn config_view(config: &AgentConfig) -> Value {
    let ports = port_view(config);
    json!({
        "Datacenter": config.datacenter,
        "PrimaryDatacenter": config.primary_datacenter,
        "NodeName": config.node_name,
        "NodeID": config.node_id.clone().unwrap_or_default(),
        "Revision": "senate",
        "Server": config.server,
        "Version": CONSUL_API_VERSION,
        "SenateVersion": SENATE_VERSION,
        "BuildDate": "",
        "Bootstrap": config.bootstrap,
        "DataDir": config.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
        "Domain": config.domain,
        "LogLevel": config.log_level.as_str().to_uppercase(),
        "ClientAddr": config.client_addr.to_string(),
        "BindAddr": config.bind_addr.to_string(),
        "AdvertiseAddr": advertise_ip(config).to_string(),
        "Ports": ports,
        "DNSRecursors": [],
        "EnableDebug": false,
        "UiDir": "",
    })
}

fn port_view(config: &AgentConfig) -> Value {
    let port = |p: Option<u16>| p.map(i64::from).unwrap_or(-1);
    json!({
        "DNS": port(config.ports.dns),
        "HTTP": port(config.ports.http),
        "HTTPS": port(config.ports.https),
        "GRPC": port(config.ports.grpc),
        "SerfLan": port(config.ports.serf_lan),
        "SerfWan": port(config.ports.serf_wan),
        "Server": port(config.ports.server),
    })
}

fn debug_config_view(config: &AgentConfig) -> Value {
    json!({
        "Datacenter": config.datacenter,
        "NodeName": config.node_name,
        "ServerMode": config.server,
        "BootstrapExpect": config.bootstrap_expect,
        "DevMode": config.dev,
        "EnableScriptChecks": config.enable_script_checks,
        "EnableLocalScriptChecks": config.enable_local_script_checks,
        "RaftMultiplier": config.raft_multiplier,
        "KVMaxValueSize": config.kv_max_value_size,
        "HTTPMaxConnsPerClient": config.http_max_conns_per_client,
    })
}

/// Whether `?wan` asks for the WAN pool (`?wan`, `?wan=1`, `?wan=true`).
fn wants_wan(params: &Params) -> bool {
    params
        .get("wan")
        .is_some_and(|wan| wan != "0" && wan != "false")
}

async fn members(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    if wants_wan(&params) {
        // No WAN pool yet: a server is the only member of its own.
        let mut member = MemberView::of(context.cluster.gossip().local_member());
        member.name = format!("{}.{}", member.name, context.config.datacenter);
        member.port = context.config.ports.serf_wan.unwrap_or(member.port);
        return Ok(reply::json(&[member], params.has("pretty")));
    }
    let members: Vec<MemberView> = context
        .cluster
        .gossip()
        .members()
        .into_iter()
        .map(MemberView::of)
        .collect();
    Ok(reply::json(&members, params.has("pretty")))
}

async fn join(
    State(context): State<Arc<Context>>,
    Path(address): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    if wants_wan(&params) {
        return Err(ApiError::internal(
            "WAN join is not supported yet: this Senate build has one datacenter",
        ));
    }
    context
        .cluster
        .gossip()
        .join(std::slice::from_ref(&address))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(StatusCode::OK.into_response())
}

async fn leave(State(context): State<Arc<Context>>) -> Result<Response, ApiError> {
    context.cluster.leave().await?;
    context.shutdown.notify_one();
    Ok(StatusCode::OK.into_response())
}

async fn force_leave(
    State(context): State<Arc<Context>>,
    Path(node): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    if node == context.config.node_name {
        return Err(ApiError::bad_request("Cannot force-leave the local agent"));
    }
    let prune = params.has("prune") && params.get("prune") != Some("0");
    context
        .cluster
        .gossip()
        .force_leave(&node, prune)
        .map_err(|e| match e {
            senate_gossip::GossipError::UnknownMember(_) => {
                ApiError::not_found(format!("No node found with name '{node}'"))
            }
            other => ApiError::internal(other.to_string()),
        })?;
    Ok(StatusCode::OK.into_response())
}
