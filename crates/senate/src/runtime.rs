//! What every agent, server or client, starts the same way: the node ID, LAN gossip and the
//! cluster join, the HTTP listener, and serving until a signal or a graceful leave stops it.

use crate::rejoin::MemberSnapshot;
use anyhow::Context as _;
use senate_agent::config::{AgentArgs, AgentConfig};
use senate_agent::events::EventBuffer;
use senate_agent::local_agent::LocalAgent;
use senate_agent::member::{advertise_ip, local_identity};
use senate_agent::monitor::LogMonitor;
use senate_cluster::Backend;
use senate_gossip::{EncryptionConfig, Gossip, GossipConfig};
use senate_http::context::ConfigLoader;
use senate_http::listener::LimitedListener;
use senate_http::Router;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Notify;

const DEFAULT_SERF_LAN_PORT: u16 = 8301;

/// Rejoins the members of the last run (see [`MemberSnapshot`]); `-join` must succeed for
/// start-up to continue, as in Consul; `-retry-join` keeps trying in the background and stops
/// the agent if `-retry-max` attempts all fail.
pub async fn join_cluster(config: &AgentConfig, gossip: &Gossip) -> anyhow::Result<()> {
    if let Some(snapshot) = MemberSnapshot::of(config) {
        snapshot.rejoin(gossip, config.rejoin_after_leave);
        snapshot.keep_current(gossip);
    }
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

pub async fn start_gossip(config: &AgentConfig) -> anyhow::Result<Gossip> {
    let port = config.ports.serf_lan.unwrap_or(DEFAULT_SERF_LAN_PORT);
    let gossip_config = GossipConfig {
        node_name: config.node_name.clone(),
        bind: SocketAddr::new(config.bind_addr, port),
        advertise: SocketAddr::new(advertise_ip(config), port),
        tags: local_identity(config).tags(),
        timing: config.gossip_lan.clone(),
        encryption: encryption(config),
    };
    Gossip::start(gossip_config)
        .await
        .context("starting LAN gossip")
}

/// The kernel's queue of connections not yet accepted; large, so bursts of new clients (many
/// watchers connecting at once) are not dropped and left to retry after a second.
const HTTP_ACCEPT_BACKLOG: u32 = 4096;

pub async fn bind_http(config: &AgentConfig) -> anyhow::Result<Option<tokio::net::TcpListener>> {
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

/// Gossip encryption as Consul configures it: on with an `encrypt` key or a keyring file in
/// the data directory (which then wins, as Consul's does).
fn encryption(config: &AgentConfig) -> Option<EncryptionConfig> {
    let keyring_file = config
        .data_dir
        .as_ref()
        .map(|dir| dir.join("serf").join("local.keyring"));
    let has_keyring = keyring_file.as_ref().is_some_and(|file| file.exists());
    if config.encrypt.is_none() && !has_keyring {
        return None;
    }
    Some(EncryptionConfig {
        initial_key: config.encrypt.clone(),
        keyring_file,
        verify_incoming: config.encrypt_verify_incoming,
        verify_outgoing: config.encrypt_verify_outgoing,
    })
}

/// The node ID: configured, else kept in the data directory, else (in memory) a fresh one.
pub fn node_id(config: &AgentConfig) -> anyhow::Result<String> {
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

pub fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(error) => tracing::warn!(%error, "could not raise the open file limit"),
    }
}

/// Why the agent stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Interrupt,
    Terminate,
    /// `/v1/agent/leave` completed a graceful leave.
    Left,
}

/// Resolves on SIGINT, SIGTERM, or once `/v1/agent/leave` has completed a graceful leave.
async fn stop_signal(leave_requested: Arc<Notify>) -> Stop {
    let interrupt = tokio::signal::ctrl_c();
    let left = leave_requested.notified();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = interrupt => Stop::Interrupt,
                _ = terminate.recv() => Stop::Terminate,
                _ = left => Stop::Left,
            },
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                tokio::select! {
                    _ = interrupt => Stop::Interrupt,
                    _ = left => Stop::Left,
                }
            }
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = interrupt => Stop::Interrupt,
        _ = left => Stop::Left,
    }
}

/// Whether stopping for `stop` is a graceful leave, as Consul decides: on SIGTERM with
/// `leave_on_terminate`, on SIGINT unless `skip_leave_on_interrupt`.
fn leaves_on(config: &AgentConfig, stop: Stop) -> bool {
    match stop {
        Stop::Interrupt => !config.skip_leave_on_interrupt,
        Stop::Terminate => config.leave_on_terminate,
        Stop::Left => false,
    }
}

/// The HTTP API's router for this agent; also starts reloading the configuration on SIGHUP.
/// `leave_requested` is notified once `/v1/agent/leave` has completed a graceful leave.
pub fn http_router(
    config: &Arc<AgentConfig>,
    backend: Backend,
    agent: &Arc<LocalAgent>,
    args: AgentArgs,
    logs: Arc<LogMonitor>,
    leave_requested: &Arc<Notify>,
) -> Router {
    let backend_gossip = backend.gossip().clone();
    let load: ConfigLoader = Arc::new(move || AgentConfig::load(&args).map_err(|e| e.to_string()));
    reload_on_hangup(agent.clone(), load.clone());
    senate_http::router(Arc::new(senate_http::Context {
        config: config.clone(),
        cluster: backend,
        events: start_event_delivery(&backend_gossip, agent),
        agent: agent.clone(),
        reload_config: load,
        logs,
        shutdown: leave_requested.clone(),
    }))
}

/// This agent's event buffer, filled with the user events gossip delivers to it.
fn start_event_delivery(gossip: &Gossip, agent: &Arc<LocalAgent>) -> Arc<EventBuffer> {
    let events = Arc::new(EventBuffer::default());
    tokio::spawn(senate_agent::events::deliver(
        events.clone(),
        gossip.clone(),
        Arc::downgrade(agent),
    ));
    events
}

/// Reloads the configuration on every SIGHUP, as `PUT /v1/agent/reload` does.
fn reload_on_hangup(agent: Arc<LocalAgent>, load: ConfigLoader) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; reload with /v1/agent/reload");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            let reloaded =
                load().and_then(|config| agent.reload(&config).map_err(|e| e.to_string()));
            match reloaded {
                Ok(()) => tracing::info!("configuration reloaded (SIGHUP)"),
                Err(error) => tracing::error!(%error, "reloading the configuration failed"),
            }
        }
    });
}

/// A started agent (server or client), ready to serve its HTTP API.
pub struct Running<'a> {
    pub config: &'a AgentConfig,
    pub http: Option<tokio::net::TcpListener>,
    pub router: Router,
    pub leave_requested: Arc<Notify>,
    pub backend: &'a Backend,
    pub agent: &'a LocalAgent,
    pub gossip: &'a Gossip,
    /// What runs, for the log: "Senate agent" or "Senate client agent".
    pub what: &'static str,
}

/// Serves until stopped, then stops the local agent and gossip (the caller stops the rest).
pub async fn serve_then_shut_down(running: Running<'_>) {
    tracing::info!(
        node = %running.config.node_name,
        datacenter = %running.config.datacenter,
        http = ?running.http.as_ref().and_then(|l| l.local_addr().ok()),
        gossip = %running.gossip.local_address(),
        "{} running",
        running.what
    );
    serve_until_stopped(
        running.config,
        running.http,
        running.router,
        running.leave_requested,
        running.backend,
    )
    .await;
    tracing::info!("shutting down");
    running.agent.shutdown();
    running.gossip.shutdown().await;
}

/// Serves the HTTP API on `http` (if enabled) until a signal or a completed graceful leave.
async fn serve_until_stopped(
    config: &AgentConfig,
    http: Option<tokio::net::TcpListener>,
    router: Router,
    leave_requested: Arc<Notify>,
    backend: &Backend,
) {
    let reason = Arc::new(std::sync::Mutex::new(None));
    let stop = {
        let reason = reason.clone();
        async move {
            let why = stop_signal(leave_requested).await;
            *reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        }
    };
    match http {
        Some(listener) => {
            let listener = LimitedListener::new(listener, config.http_max_conns_per_client);
            senate_http::serve::serve(listener, router, stop).await;
        }
        None => stop.await,
    }
    let why = reason.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(why) = why.filter(|why| leaves_on(config, *why)) {
        tracing::info!(signal = ?why, "leaving the cluster gracefully before shutting down");
        if let Err(error) = backend.leave().await {
            tracing::warn!(%error, "the graceful leave failed");
        }
    }
    let left = why.is_some_and(|why| why == Stop::Left || leaves_on(config, why));
    if let (true, Some(snapshot)) = (left, MemberSnapshot::of(config)) {
        snapshot.record_leave();
    }
}
