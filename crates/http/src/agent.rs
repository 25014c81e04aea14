//! `/v1/agent/self` and `/v1/agent/members`: this agent's configuration and the gossip members it sees.

use crate::context::Context;
use crate::error::ApiError;
use crate::query::{check_datacenter, Params};
use crate::reply;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use senate_agent::config::AgentConfig;
use senate_agent::member::{advertise_ip, local_member};
use senate_types::version::{CONSUL_API_VERSION, SENATE_VERSION};
use serde_json::{json, Value};
use std::sync::Arc;

/// The agent routes.
pub fn routes() -> Router<Arc<Context>> {
    Router::new()
        .route("/v1/agent/self", get(agent_self))
        .route("/v1/agent/members", get(members))
}

async fn agent_self(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let config = &context.config;
    let body = json!({
        "Config": config_view(config),
        "DebugConfig": debug_config_view(config),
        "Coord": null,
        "Member": local_member(config),
        "Meta": config.node_meta,
        "Stats": {
            "consul": {
                "server": config.server.to_string(),
                "leader": context.raft.is_leader().to_string(),
                "known_servers": "1",
            },
            "build": { "version": CONSUL_API_VERSION, "prerelease": "", "revision": "senate" },
        },
        "Senate": { "Version": SENATE_VERSION },
    });
    Ok(reply::json(&body, params.has("pretty")))
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

async fn members(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    let mut member = local_member(&context.config);
    if params
        .get("wan")
        .is_some_and(|wan| wan != "0" && wan != "false")
    {
        member.name = format!("{}.{}", member.name, context.config.datacenter);
        member.port = context.config.ports.serf_wan.unwrap_or(member.port);
    }
    Ok(reply::json(&[member], params.has("pretty")))
}
