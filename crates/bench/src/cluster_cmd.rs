//! The `cluster` subcommand: starts the servers and client agents (`--start-cluster`,
//! `--clients`) or points at them (`--addrs`, `--client-addrs`), runs cluster mode until it
//! ends, fails or a SIGINT/SIGTERM arrives, and always stops the agents it started.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use senate_bench::cluster::{self, ClusterMember, ClusterReport};
use senate_bench::http1::Connection;
use senate_bench::kv;
use senate_bench::launch::{AgentKind, LaunchSpec, LocalCluster};
use senate_bench::procfs::AgentProcess;
use senate_bench::report::BenchReport;
use senate_bench::target::Target;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::cli::{ClusterArgs, GlobalArgs};

/// Servers a cluster run uses.
const SERVERS: usize = 3;
/// Log lines of each started agent shown when the run fails.
const LOG_TAIL_LINES: usize = 20;

/// Runs cluster mode and returns its report.
pub async fn run(args: &ClusterArgs, global: &GlobalArgs) -> Result<BenchReport> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let local = start_if_asked(args)?;
    let members = agents(AgentKind::Server, args, global, local.as_ref())?;
    let clients = agents(AgentKind::Client, args, global, local.as_ref())?;
    let outcome = tokio::select! {
        measured = measure(args, global, &members, &clients, local.as_ref()) => measured,
        _ = recv(&mut interrupt) => Err(anyhow!("interrupted (SIGINT)")),
        _ = recv(&mut terminate) => Err(anyhow!("terminated (SIGTERM)")),
    };
    if let Some(local) = &local {
        report_local(local, args, outcome.is_err());
    } else if !global.keep {
        cleanup(&members).await;
    }
    drop(local);
    let mut report = BenchReport::new(describe_target(args, &members, &clients));
    report.cluster = Some(outcome?);
    Ok(report)
}

/// Runs cluster mode against the servers and the client agents.
async fn measure(
    args: &ClusterArgs,
    global: &GlobalArgs,
    members: &[ClusterMember],
    clients: &[ClusterMember],
    local: Option<&LocalCluster>,
) -> Result<ClusterReport> {
    let spec = args.spec(global.connect_parallelism);
    let check = || local.map_or(Ok(()), LocalCluster::check_running);
    let mut progress = |line: &str| eprintln!("{line}");
    Ok(cluster::run_cluster(members, clients, &spec, &check, &mut progress).await?)
}

async fn recv(signal: &mut Signal) {
    signal.recv().await;
}

fn start_if_asked(args: &ClusterArgs) -> Result<Option<LocalCluster>> {
    if !args.start_cluster {
        return Ok(None);
    }
    let binary = match &args.senate_bin {
        Some(path) => path.clone(),
        None => sibling_senate()?,
    };
    eprintln!(
        "cluster: starting {SERVERS} servers and {} client agents from {}",
        args.clients,
        binary.display()
    );
    let spec = LaunchSpec {
        binary,
        servers: SERVERS,
        clients: args.clients,
        keep_dir: args.keep_cluster_dir,
    };
    let local = LocalCluster::start(&spec)?;
    eprintln!(
        "cluster: started pids {:?} in {}",
        local.pids(AgentKind::Server),
        local.dir().display()
    );
    if args.clients > 0 {
        eprintln!(
            "cluster: started client agent pids {:?}",
            local.pids(AgentKind::Client)
        );
    }
    Ok(Some(local))
}

/// `senate` in the directory of the running `senate-bench`.
fn sibling_senate() -> Result<PathBuf> {
    let me = std::env::current_exe().context("locating senate-bench")?;
    let dir = me
        .parent()
        .ok_or_else(|| anyhow!("senate-bench has no parent directory"))?;
    Ok(dir.join("senate"))
}

/// The agents of `kind` to measure: the started ones, or `--addrs` with `--pids` (servers),
/// `--client-addrs` with `--client-pids` (client agents).
fn agents(
    kind: AgentKind,
    args: &ClusterArgs,
    global: &GlobalArgs,
    local: Option<&LocalCluster>,
) -> Result<Vec<ClusterMember>> {
    let (urls, pids) = match (local, kind) {
        (Some(local), _) => (local.http_urls(kind), local.pids(kind)),
        (None, AgentKind::Server) => (args.addrs.clone(), args.pids.clone()),
        (None, AgentKind::Client) => (args.client_addrs.clone(), args.client_pids.clone()),
    };
    if !pids.is_empty() && pids.len() != urls.len() {
        let (addrs_flag, pids_flag) = match kind {
            AgentKind::Server => ("--addrs", "--pids"),
            AgentKind::Client => ("--client-addrs", "--client-pids"),
        };
        bail!(
            "{pids_flag} names {} processes for {} {addrs_flag}",
            pids.len(),
            urls.len()
        );
    }
    urls.iter()
        .enumerate()
        .map(|(i, url)| {
            Ok(ClusterMember {
                target: Target::resolve(url, global.allow_remote)?,
                process: pids.get(i).copied().map(AgentProcess::new),
            })
        })
        .collect()
}

/// Shows the started agents' logs after a failure, and where they are kept.
fn report_local(local: &LocalCluster, args: &ClusterArgs, failed: bool) {
    if failed {
        eprintln!(
            "cluster: last log lines of each agent:\n{}",
            local.log_tails(LOG_TAIL_LINES)
        );
    }
    if args.keep_cluster_dir {
        eprintln!("cluster: data and logs kept in {}", local.dir().display());
    }
}

/// Best-effort removal of the bench keys through the first server that answers.
async fn cleanup(members: &[ClusterMember]) {
    for member in members {
        if let Ok(mut connection) = Connection::connect(&member.target).await {
            if kv::delete_all(&mut connection).await.is_ok() {
                return;
            }
        }
    }
    eprintln!("warning: could not delete {}*", kv::KEY_PREFIX);
}

fn describe_target(
    args: &ClusterArgs,
    members: &[ClusterMember],
    clients: &[ClusterMember],
) -> String {
    let urls: Vec<String> = members.iter().map(|m| m.target.url()).collect();
    let origin = if args.start_cluster {
        "started by senate-bench"
    } else {
        "given"
    };
    let mut described = format!("{} servers ({origin}): {}", urls.len(), urls.join(", "));
    if let Some(first) = clients.first() {
        described.push_str(&format!(
            "; {} client agents, GETs through {}",
            clients.len(),
            first.target.url()
        ));
    }
    described
}
