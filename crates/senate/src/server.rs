//! Starts a Senate server agent: the state store, Raft over the server RPC port, LAN gossip,
//! the leader's duties, the local agent and the HTTP API; forms or joins the cluster as the
//! configuration says; and runs until told to stop.

use anyhow::{bail, Context as _};
use senate_agent::config::{AgentArgs, AgentConfig};
use senate_agent::events::EventBuffer;
use senate_agent::local_agent::LocalAgent;
use senate_agent::member::{advertise_ip, local_identity};
use senate_cluster::rpc_service::RpcService;
use senate_cluster::{autopilot, bootstrap, serf_health, ClusterServer};
use senate_consensus::leader_duties;
use senate_consensus::{RaftNode, RaftOptions, ServerNode};
use senate_gossip::{Gossip, GossipConfig, GossipTiming};
use senate_http::forward::RouterHttp;
use senate_http::listener::LimitedListener;
use senate_rpc::{ClientOptions, RpcClient, RpcServer};
use senate_state::Store;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a server that bootstraps alone waits for its own election before serving.
const SOLO_LEADER_WAIT: Duration = Duration::from_secs(60);
const DEFAULT_SERVER_PORT: u16 = 8300;
const DEFAULT_SERF_LAN_PORT: u16 = 8301;

/// Runs the agent described by `config` until it is asked to stop.
pub async fn run(mut config: AgentConfig, args: AgentArgs) -> anyhow::Result<()> {
    if !config.server {
        bail!("client agents are not supported yet: start Senate with -server or -dev");
    }
    raise_open_file_limit();
    config.node_id = Some(node_id(&config)?);
    let config = Arc::new(config);
    let rpc = RpcClient::new(ClientOptions::default());
    let rpc_listener = bind_rpc(&config).await?;
    let raft = Arc::new(start_raft(&config, rpc.clone()).await?);
    let gossip = start_gossip(&config).await?;
    let cluster = Arc::new(ClusterServer::new(
        raft.clone(),
        rpc,
        gossip.clone(),
        config.datacenter.clone(),
    ));
    let stop_rpc = Arc::new(Notify::new());
    spawn_rpc_server(rpc_listener, &cluster, stop_rpc.clone());
    form_cluster(&config, &cluster).await?;
    join_cluster(&config, &gossip).await?;
    let http = bind_http(&config).await?;
    let agent =
        LocalAgent::start(config.clone(), cluster.clone()).context("starting the local agent")?;
    if config.bootstrap {
        agent
            .sync_now()
            .await
            .context("registering this node in the catalog")?;
    }
    tokio::spawn(leader_duties::run(
        raft.clone(),
        cluster.session_timers().clone(),
    ));
    tokio::spawn(autopilot::run(cluster.clone()));
    tokio::spawn(serf_health::run(cluster.clone()));
    let leave_requested = Arc::new(Notify::new());
    let context = Arc::new(senate_http::Context {
        config: config.clone(),
        cluster: cluster.clone(),
        events: EventBuffer::default(),
        agent: agent.clone(),
        reload_config: Box::new(move || AgentConfig::load(&args).map_err(|e| e.to_string())),
        shutdown: leave_requested.clone(),
    });
    let router = senate_http::router(context);
    cluster.set_local_http(RouterHttp::new(router.clone()));
    tracing::info!(
        node = %config.node_name,
        datacenter = %config.datacenter,
        http = ?http.as_ref().and_then(|l| l.local_addr().ok()),
        gossip = %gossip.local_address(),
        "Senate agent running"
    );
    let stop = stop_signal(leave_requested);
    match http {
        Some(listener) => {
            let listener = LimitedListener::new(listener, config.http_max_conns_per_client);
            senate_http::serve::serve(listener, router, stop).await;
        }
        None => stop.await,
    }
    tracing::info!("shutting down");
    agent.shutdown();
    gossip.shutdown().await;
    raft.shutdown().await;
    stop_rpc.notify_one();
    Ok(())
}

/// Bootstraps a one-server cluster (`-bootstrap`, `-dev`, `-bootstrap-expect=1`), or starts
/// waiting for the expected servers; a server with neither waits to be added by a leader.
async fn form_cluster(config: &AgentConfig, cluster: &Arc<ClusterServer>) -> anyhow::Result<()> {
    let raft = cluster.raft();
    if config.bootstrap {
        raft.bootstrap(std::slice::from_ref(raft.server()))
            .await
            .context("bootstrapping a single-server cluster")?;
        return raft
            .wait_for_leader(SOLO_LEADER_WAIT)
            .await
            .context("no Raft leader was elected");
    }
    if config.bootstrap_expect > 1 {
        tracing::info!(
            expect = config.bootstrap_expect,
            "waiting for the expected servers before bootstrapping"
        );
        tokio::spawn(bootstrap::run(cluster.clone(), config.bootstrap_expect));
    }
    Ok(())
}

/// `-join` must succeed for start-up to continue, as in Consul; `-retry-join` keeps trying in
/// the background and stops the agent if `-retry-max` attempts all fail.
async fn join_cluster(config: &AgentConfig, gossip: &Gossip) -> anyhow::Result<()> {
    if !config.start_join.is_empty() {
        let joined = gossip
            .join(&config.start_join)
            .await
            .context("joining the cluster (-join)")?;
        tracing::info!(joined, "joined the cluster");
    }
    if !config.retry_join.is_empty() {
        let gossip = gossip.clone();
        let (addresses, interval, max) = (
            config.retry_join.clone(),
            config.retry_interval,
            config.retry_max,
        );
        tokio::spawn(async move {
            match senate_gossip::retry_join(&gossip, &addresses, interval, max).await {
                Ok(joined) => tracing::info!(joined, "joined the cluster (-retry-join)"),
                Err(error) => {
                    tracing::error!(%error, "-retry-join gave up after {max} attempts; stopping");
                    std::process::exit(1);
                }
            }
        });
    }
    Ok(())
}

async fn start_raft(config: &AgentConfig, rpc: RpcClient) -> anyhow::Result<RaftNode> {
    let server_port = config.ports.server.unwrap_or(DEFAULT_SERVER_PORT);
    let options = RaftOptions {
        server: ServerNode {
            id: config.node_id.clone().unwrap_or_default(),
            name: config.node_name.clone(),
            address: SocketAddr::new(advertise_ip(config), server_port).to_string(),
        },
        data_dir: config.data_dir.clone(),
        raft_multiplier: u32::from(config.raft_multiplier),
    };
    RaftNode::start(options, Arc::new(Store::default()), rpc)
        .await
        .context("starting Raft")
}

async fn bind_rpc(config: &AgentConfig) -> anyhow::Result<tokio::net::TcpListener> {
    let port = config.ports.server.unwrap_or(DEFAULT_SERVER_PORT);
    let address = SocketAddr::new(config.bind_addr, port);
    tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the server RPC port to {address}"))
}

fn spawn_rpc_server(
    listener: tokio::net::TcpListener,
    cluster: &Arc<ClusterServer>,
    stop: Arc<Notify>,
) {
    let handler = RpcService::new(cluster.clone());
    tokio::spawn(async move {
        RpcServer::serve(listener, handler, async move { stop.notified().await }).await;
    });
}

async fn start_gossip(config: &AgentConfig) -> anyhow::Result<Gossip> {
    let port = config.ports.serf_lan.unwrap_or(DEFAULT_SERF_LAN_PORT);
    let gossip_config = GossipConfig {
        node_name: config.node_name.clone(),
        bind: SocketAddr::new(config.bind_addr, port),
        advertise: SocketAddr::new(advertise_ip(config), port),
        tags: local_identity(config).tags(),
        timing: GossipTiming::lan(),
    };
    Gossip::start(gossip_config)
        .await
        .context("starting LAN gossip")
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

/// Resolves on SIGINT, SIGTERM, or once `/v1/agent/leave` has completed a graceful leave.
async fn stop_signal(leave_requested: Arc<Notify>) {
    let interrupt = tokio::signal::ctrl_c();
    let left = leave_requested.notified();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM");
                    tokio::select! {
                        _ = interrupt => {}
                        _ = left => {}
                    }
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
            _ = left => {}
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = interrupt => {}
            _ = left => {}
        }
    }
}
