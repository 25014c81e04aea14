//! Starts a Senate agent: the state store, Raft, the leader's duties and the HTTP API, and runs
//! them until the process is told to stop.

use anyhow::{bail, Context as _};
use senate_agent::config::{AgentArgs, AgentConfig};
use senate_agent::events::EventBuffer;
use senate_agent::local_agent::LocalAgent;
use senate_agent::member::advertise_ip;
use senate_consensus::leader_duties::{self, SessionTimers};
use senate_consensus::{RaftNode, RaftOptions};
use senate_http::listener::LimitedListener;
use senate_state::Store;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const LEADER_WAIT: Duration = Duration::from_secs(60);
const DEFAULT_SERVER_PORT: u16 = 8300;

/// Runs the agent described by `config` until it is asked to stop.
pub async fn run(mut config: AgentConfig, args: AgentArgs) -> anyhow::Result<()> {
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
    let agent =
        LocalAgent::start(config.clone(), raft.clone()).context("starting the local agent")?;
    agent
        .sync_now()
        .await
        .context("registering this node in the catalog")?;
    let session_timers = Arc::new(SessionTimers::default());
    tokio::spawn(leader_duties::run(raft.clone(), session_timers.clone()));
    let context = Arc::new(senate_http::Context {
        config: config.clone(),
        raft: raft.clone(),
        events: EventBuffer::default(),
        session_timers,
        agent: agent.clone(),
        responses: Default::default(),
        reload_config: Box::new(move || AgentConfig::load(&args).map_err(|e| e.to_string())),
    });
    tracing::info!(
        node = %config.node_name,
        datacenter = %config.datacenter,
        http = ?http.as_ref().and_then(|l| l.local_addr().ok()),
        "Senate agent running"
    );
    if let Some(listener) = http {
        let listener = LimitedListener::new(listener, config.http_max_conns_per_client);
        senate_http::serve::serve(listener, senate_http::router(context), shutdown_signal()).await;
    } else {
        shutdown_signal().await;
    }
    tracing::info!("shutting down");
    agent.shutdown();
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

/// The kernel's queue of connections not yet accepted; large, so bursts of new clients (many
/// watchers connecting at once) are not dropped and left to retry after a second.
const HTTP_ACCEPT_BACKLOG: u32 = 4096;

async fn bind_http(config: &AgentConfig) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let Some(port) = config.ports.http else {
        return Ok(None);
    };
    let address = SocketAddr::new(config.client_addr, port);
    let bind = || -> std::io::Result<tokio::net::TcpListener> {
        let socket = match address {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(address)?;
        socket.listen(HTTP_ACCEPT_BACKLOG)
    };
    let listener = bind().with_context(|| format!("binding the HTTP API to {address}"))?;
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
