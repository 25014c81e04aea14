//! Starts a Senate server agent: the state store, Raft over the server RPC port, LAN gossip,
//! the leader's duties, the local agent and the HTTP API; forms or joins the cluster as the
//! configuration says; and runs until told to stop.

use crate::runtime::{
    bind_http, http_router, join_cluster, node_id, raise_open_file_limit, serve_then_shut_down,
    start_gossip, Running,
};
use anyhow::Context as _;
use senate_agent::config::{AgentArgs, AgentConfig};
use senate_agent::local_agent::LocalAgent;
use senate_agent::member::advertise_ip;
use senate_agent::monitor::LogMonitor;
use senate_cluster::rpc_service::RpcService;
use senate_cluster::{autopilot, bootstrap, serf_health, Backend, ClusterServer};
use senate_consensus::leader_duties;
use senate_consensus::{RaftNode, RaftOptions, ServerNode};
use senate_http::forward::RouterHttp;
use senate_rpc::{ClientOptions, RpcClient, RpcServer};
use senate_state::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long a server that bootstraps alone waits for its own election before serving.
const SOLO_LEADER_WAIT: Duration = Duration::from_secs(60);
const DEFAULT_SERVER_PORT: u16 = 8300;

/// Runs the server described by `config` until it is asked to stop.
pub async fn run(
    mut config: AgentConfig,
    args: AgentArgs,
    logs: Arc<LogMonitor>,
) -> anyhow::Result<()> {
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
    let backend = Backend::Server(cluster.clone());
    let agent =
        LocalAgent::start(config.clone(), backend.clone()).context("starting the local agent")?;
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
    let router = http_router(
        &config,
        backend.clone(),
        &agent,
        args,
        logs,
        &leave_requested,
    );
    cluster.set_local_http(RouterHttp::new(router.clone()));
    serve_then_shut_down(Running {
        config: &config,
        http,
        router,
        leave_requested,
        backend: &backend,
        agent: &agent,
        gossip: &gossip,
        what: "Senate agent",
    })
    .await;
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
