//! Starts a Senate client agent: LAN gossip, the local agent (its services and checks, synced
//! to the catalog through a server) and the HTTP API, with every request that needs the
//! replicated state sent to a server over RPC; no Raft and no replica of its own.

use crate::runtime::{
    bind_http, http_router, join_cluster, node_id, raise_open_file_limit, serve_then_shut_down,
    start_gossip, Running,
};
use anyhow::Context as _;
use senate_agent::config::{AgentArgs, AgentConfig};
use senate_agent::local_agent::LocalAgent;
use senate_agent::monitor::LogMonitor;
use senate_cluster::{Backend, ClientAgent};
use senate_consensus::RaftTiming;
use senate_rpc::{ClientOptions, RpcClient};
use std::sync::Arc;
use tokio::sync::Notify;

/// Runs the client agent described by `config` until it is asked to stop.
pub async fn run(
    mut config: AgentConfig,
    args: AgentArgs,
    logs: Arc<LogMonitor>,
) -> anyhow::Result<()> {
    raise_open_file_limit();
    config.node_id = Some(node_id(&config)?);
    let config = Arc::new(config);
    let gossip = start_gossip(&config).await?;
    let client = ClientAgent::new(
        RpcClient::new(ClientOptions::default()),
        gossip.clone(),
        config.datacenter.clone(),
        RaftTiming::scaled(u32::from(config.raft_multiplier)),
    );
    let backend = Backend::Client(Arc::new(client));
    join_cluster(&config, &gossip).await?;
    let http = bind_http(&config).await?;
    let agent =
        LocalAgent::start(config.clone(), backend.clone()).context("starting the local agent")?;
    let leave_requested = Arc::new(Notify::new());
    let router = http_router(
        &config,
        backend.clone(),
        &agent,
        args,
        logs,
        &leave_requested,
    );
    serve_then_shut_down(Running {
        config: &config,
        http,
        router,
        leave_requested,
        backend: &backend,
        agent: &agent,
        gossip: &gossip,
        what: "Senate client agent",
    })
    .await;
    Ok(())
}
