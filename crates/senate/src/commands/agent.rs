//! `senate agent`: loads the configuration, sets up logging, and runs the server until it stops.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use senate_agent::config::{AgentArgs, AgentConfig, LogLevel};
use senate_agent::monitor::LogMonitor;
use senate_types::version::{CONSUL_API_VERSION, SENATE_VERSION};
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Runs the agent. A bad configuration is reported before anything starts.
pub fn run(args: &AgentArgs) -> anyhow::Result<ExitCode> {
    let config = AgentConfig::load(args).map_err(|e| anyhow!("==> {e}"))?;
    let logs = init_logging(&config)?;
    print_banner(&config);
    config.log_warnings();
    let _pid_file = config
        .pid_file
        .as_deref()
        .map(PidFile::create)
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("==> Error starting the async runtime")?;
    runtime
        .block_on(run_agent(config, args.clone(), logs))
        .map_err(|e| anyhow!("==> {e:#}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Logs to stdout at the configured level (or as `RUST_LOG` says, if set), as text or JSON
/// lines; and to whoever watches through `/v1/agent/monitor`, at the level each asks for.
fn init_logging(config: &AgentConfig) -> anyhow::Result<Arc<LogMonitor>> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::new(directives),
        _ => EnvFilter::new(default_directives(config.log_level)),
    };
    let stdout = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(std::io::stdout);
    let stdout = match config.log_json {
        true => stdout.json().with_filter(filter).boxed(),
        false => stdout.with_filter(filter).boxed(),
    };
    let monitor = LogMonitor::new();
    tracing_subscriber::registry()
        .with(stdout)
        .with(monitor.layer())
        .try_init()
        .map_err(|e| anyhow!("==> Error setting up logging: {e}"))?;
    Ok(monitor)
}

/// The configured level for everything, except that Raft's per-heartbeat chatter stays at info.
fn default_directives(level: LogLevel) -> String {
    match level {
        LogLevel::Trace | LogLevel::Debug => format!("{level},openraft=info"),
        _ => format!("{level},openraft=warn"),
    }
}

fn print_banner(config: &AgentConfig) {
    let port = |port: Option<u16>| port.map_or("-1".to_string(), |p| p.to_string());
    let ports = &config.ports;
    let cluster_addr = config.advertise_addr.unwrap_or(config.bind_addr);
    println!("==> Starting Senate agent...");
    println!("              Version: '{SENATE_VERSION}' (Consul API {CONSUL_API_VERSION})");
    println!("            Node name: '{}'", config.node_name);
    println!("           Datacenter: '{}'", config.datacenter);
    println!(
        "               Server: {} (Bootstrap: {})",
        config.server, config.bootstrap
    );
    println!(
        "          Client Addr: [{}] (HTTP: {}, HTTPS: {}, gRPC: {}, DNS: {})",
        config.client_addr,
        port(ports.http),
        port(ports.https),
        port(ports.grpc),
        port(ports.dns)
    );
    println!(
        "         Cluster Addr: {cluster_addr} (LAN: {}, WAN: {})",
        port(ports.serf_lan),
        port(ports.serf_wan)
    );
    println!();
    println!("==> Log data will now stream in as it occurs:");
    println!();
}

/// The `pid_file`, written at start and removed when the agent stops.
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: &Path) -> anyhow::Result<PidFile> {
        std::fs::write(path, std::process::id().to_string())
            .with_context(|| format!("==> Could not write PID file {}", path.display()))?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs a server or a client agent, as the configuration says.
async fn run_agent(
    config: AgentConfig,
    args: AgentArgs,
    logs: Arc<LogMonitor>,
) -> anyhow::Result<()> {
    match config.server {
        true => crate::server::run(config, args, logs).await,
        false => crate::client::run(config, args, logs).await,
    }
}
