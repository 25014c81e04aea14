//! Starts a Senate agent: the state store, Raft, the leader's duties and the HTTP API, and runs
//! them until the process is told to stop.

use anyhow::{bail, Context as _};
use senate_agent::config::AgentConfig;
use senate_agent::events::EventBuffer;
use senate_agent::member::advertise_ip;
use senate_consensus::leader_duties::{self, SessionTimers};
use senate_consensus::{RaftNode, RaftOptions};
use senate_http::listener::LimitedListener;
use senate_state::{Command, Store};
use senate_types::catalog::{CheckStatus, HealthCheck, Node, Registration, SERF_HEALTH_CHECK};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const LEADER_WAIT: Duration = Duration::from_secs(60);
const DEFAULT_SERVER_PORT: u16 = 8300;

/// Runs the agent described by `config` until it is asked to stop.
pub async fn run(mut config: AgentConfig) -> anyhow::Result<()> {
    if !config.server {
        bail!("client agents are not supported yet: start Senate with -server or -dev");
    }
    raise_open_file_limit();
    config.node_id = Some(node_id(&config)?);
    let config = Arc::new(config);
    let raft = Arc::new(start_raft(&config).await?);
    let http = bind_http(&config).await?;
    raft.wait_for_leader(LEADER_WAIT)
        .await
        .context("no Raft leader was elected")?;
    register_self(&raft, &config).await?;
    let session_timers = Arc::new(SessionTimers::default());
    tokio::spawn(leader_duties::run(raft.clone(), session_timers.clone()));
    let context = Arc::new(senate_http::Context {
        config: config.clone(),
        raft: raft.clone(),
        events: EventBuffer::default(),
        session_timers,
    });
    tracing::info!(
        node = %config.node_name,
        datacenter = %config.datacenter,
        http = ?http.as_ref().and_then(|l| l.local_addr().ok()),
        "Senate agent running"
    );
    if let Some(listener) = http {
        let listener = LimitedListener::new(listener, config.http_max_conns_per_client);
        axum::serve(listener, senate_http::router(context))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("HTTP server failed")?;
    } else {
        shutdown_signal().await;
    }
    tracing::info!("shutting down");
    raft.shutdown().await;
    Ok(())
}

async fn start_raft(config: &AgentConfig) -> anyhow::Result<RaftNode> {
    let server_port = config.ports.server.unwrap_or(DEFAULT_SERVER_PORT);
    let options = RaftOptions {
        node_id: 1,
        address: SocketAddr::new(advertise_ip(config), server_port).to_string(),
        data_dir: config.data_dir.clone(),
        raft_multiplier: u32::from(config.raft_multiplier),
    };
    RaftNode::start(options, Arc::new(Store::default()))
        .await
        .context("starting Raft")
}

async fn bind_http(config: &AgentConfig) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let Some(port) = config.ports.http else {
        return Ok(None);
    };
    let address = SocketAddr::new(config.client_addr, port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the HTTP API to {address}"))?;
    Ok(Some(listener))
}

/// The node ID: configured, else kept in the data directory, else (in memory) a fresh one.
fn node_id(config: &AgentConfig) -> anyhow::Result<String> {
    if let Some(id) = &config.node_id {
        return Ok(id.clone());
    }
    let Some(data_dir) = &config.data_dir else {
        return Ok(uuid::Uuid::new_v4().to_string());
    };
    read_or_create_node_id(&data_dir.join("node-id"))
}

fn read_or_create_node_id(path: &Path) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim();
        uuid::Uuid::parse_str(existing)
            .with_context(|| format!("{} holds an invalid node ID", path.display()))?;
        return Ok(existing.to_string());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let id = uuid::Uuid::new_v4().to_string();
    std::fs::write(path, &id).with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

/// Registers this node in the catalog with a passing `serfHealth` check, as Consul's leader
/// does for every live gossip member, so sessions with the default checks can be created.
async fn register_self(raft: &RaftNode, config: &AgentConfig) -> anyhow::Result<()> {
    let address = advertise_ip(config).to_string();
    let tagged_addresses = ["lan", "lan_ipv4", "wan", "wan_ipv4"]
        .into_iter()
        .map(|kind| (kind.to_string(), address.clone()))
        .collect();
    let mut meta = config.node_meta.clone();
    meta.entry("consul-network-segment".to_string())
        .or_default();
    let node = Node {
        id: config.node_id.clone().unwrap_or_default(),
        node: config.node_name.clone(),
        address,
        datacenter: config.datacenter.clone(),
        tagged_addresses,
        meta,
        create_index: 0,
        modify_index: 0,
    };
    let serf_health = HealthCheck {
        node: config.node_name.clone(),
        check_id: SERF_HEALTH_CHECK.to_string(),
        name: "Serf Health Status".to_string(),
        status: CheckStatus::Passing,
        notes: String::new(),
        output: "Agent alive and reachable".to_string(),
        service_id: String::new(),
        service_name: String::new(),
        service_tags: Vec::new(),
        check_type: String::new(),
        create_index: 0,
        modify_index: 0,
    };
    let command = Command::Register(Registration {
        node,
        skip_node_update: false,
        service: None,
        checks: vec![serf_health],
    });
    raft.propose(command)
        .await
        .context("registering this node in the catalog")?;
    Ok(())
}

fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(error) => tracing::warn!(%error, "could not raise the open file limit"),
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    let _interrupted = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _interrupted = interrupt.await;
    }
}
