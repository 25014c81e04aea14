//! Cluster mode: against a 3-server cluster, KV PUT and GET (each read mode) through the leader
//! and through a follower at each concurrency; with client agents, their memory and KV GET
//! through one of them against GET straight to the leader and the follower; blocking-query
//! fan-out through a follower; and failover (`kill -9` of the leader). The KV, client and
//! fan-out phases reuse [`load`] and [`watch`] with the chosen agent as target; the client
//! agents' readiness and comparison are [`clients`]; failover is [`failover`].

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::clients::{self, ClientAgentReport, ClientReport, ClientSpec, Route, Routes};
use crate::error::{BenchError, Result};
use crate::failover::{self, FailoverReport, FailoverSpec, Survivor, Victim};
use crate::kv::{Operation, ReadMode};
use crate::load::{self, LevelResult, LoadSpec};
use crate::procfs::{self, AgentProcess, MemoryUse};
use crate::report::level_line;
use crate::servers::{self, Roles, ServerStatus};
use crate::target::Target;
use crate::watch::{self, WatchReport, WatchSpec};

/// One agent (server or client agent) of the cluster under test.
#[derive(Debug, Clone)]
pub struct ClusterMember {
    pub target: Target,
    /// Its process, when known (started by the bench, or given with `--pids`/`--client-pids`).
    pub process: Option<AgentProcess>,
}

/// Parameters of every cluster phase.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub concurrency: Vec<usize>,
    /// Duration per level, keys, request timeout; shared by every KV level.
    pub load: LoadSpec,
    pub value_size: usize,
    pub read_modes: Vec<ReadMode>,
    /// The fan-out's shape; its `mode` is replaced by each of `watch_modes`.
    pub watch: WatchSpec,
    pub watch_modes: Vec<ReadMode>,
    /// None skips the failover phase.
    pub failover: Option<FailoverSpec>,
    /// Bound on waiting for one leader with every server a voter.
    pub settle_timeout: Duration,
    /// The client-agent phase, run when there are client agents.
    pub clients: ClientSpec,
}

/// Which server a load went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Leader,
    Follower,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One server as found when the cluster had settled.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    pub url: String,
    pub node: String,
    pub rpc_address: Option<String>,
    pub role: Role,
    pub pid: Option<u32>,
}

/// One KV level through one server.
#[derive(Debug, Clone, Serialize)]
pub struct RoleLevel {
    pub role: Role,
    pub node: String,
    /// `put`, or `get <mode>`.
    pub operation: String,
    #[serde(flatten)]
    pub level: LevelResult,
}

/// Everything cluster mode measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterReport {
    pub servers: Vec<ServerReport>,
    /// Time until the cluster had one leader and every server was a voter.
    pub settle_secs: f64,
    pub kv: Vec<RoleLevel>,
    /// With client agents: their readiness, memory and GETs through one of them.
    pub clients: Option<ClientReport>,
    /// The follower the fan-out went through.
    pub fanout_node: String,
    pub fanout: Vec<WatchReport>,
    pub failover: Option<FailoverReport>,
    /// Skipped phases, leadership changes and other remarks.
    pub notes: Vec<String>,
}

/// Where the phases send their load.
struct Layout<'a> {
    members: &'a [ClusterMember],
    clients: &'a [ClusterMember],
    statuses: Vec<ServerStatus>,
    roles: Roles,
}

impl Layout<'_> {
    fn index(&self, role: Role) -> usize {
        match role {
            Role::Leader => self.roles.leader,
            Role::Follower => self.roles.followers.first().copied().unwrap_or(0),
        }
    }

    fn target(&self, role: Role) -> &Target {
        &self.members[self.index(role)].target
    }

    fn node(&self, role: Role) -> &str {
        &self.statuses[self.index(role)].node
    }

    fn route(&self, role: Role) -> Route<'_> {
        Route {
            role: role.name(),
            node: self.node(role),
            target: self.target(role),
        }
    }
}

/// Runs every phase in order against the servers `members` and the client agents `clients`
/// (which may be none). `check` runs between phases and stops the run when it fails (a started
/// agent died); `progress` receives one line per finished step.
pub async fn run_cluster(
    members: &[ClusterMember],
    clients: &[ClusterMember],
    spec: &ClusterSpec,
    check: &dyn Fn() -> Result<()>,
    progress: &mut dyn FnMut(&str),
) -> Result<ClusterReport> {
    if members.len() < 2 {
        return Err(BenchError::Setup(
            "cluster mode needs at least 2 servers".into(),
        ));
    }
    let targets: Vec<Target> = members.iter().map(|m| m.target.clone()).collect();
    let started = Instant::now();
    let (statuses, roles) = servers::wait_for_roles(&targets, spec.settle_timeout, check).await?;
    let mut layout = Layout {
        members,
        clients,
        statuses,
        roles,
    };
    let mut report = ClusterReport {
        settle_secs: started.elapsed().as_secs_f64(),
        servers: server_reports(&layout),
        ..ClusterReport::default()
    };
    progress(&format!(
        "cluster: settled after {:.1}s; leader {}, follower {}",
        report.settle_secs,
        layout.node(Role::Leader),
        layout.node(Role::Follower)
    ));
    wait_for_clients(&layout, spec, started, &mut report, check, progress).await?;
    run_kv(&mut layout, spec, &mut report, check, progress).await?;
    check()?;
    if run_client_phase(&layout, spec, &mut report, progress).await? {
        refresh_roles(&mut layout, "the client agents", spec, check, &mut report).await?;
    }
    check()?;
    run_fanout(&layout, spec, &mut report, progress).await?;
    refresh_roles(&mut layout, "the fan-out", spec, check, &mut report).await?;
    run_failover_phase(&layout, spec, &mut report, progress).await?;
    Ok(report)
}

fn server_reports(layout: &Layout<'_>) -> Vec<ServerReport> {
    layout
        .members
        .iter()
        .zip(&layout.statuses)
        .enumerate()
        .map(|(i, (member, status))| ServerReport {
            url: member.target.url(),
            node: status.node.clone(),
            rpc_address: status.rpc_address.clone(),
            role: if i == layout.roles.leader {
                Role::Leader
            } else {
                Role::Follower
            },
            pid: member.process.map(|p| p.pid()),
        })
        .collect()
}

/// Waits until every client agent is ready, and opens the client report.
async fn wait_for_clients(
    layout: &Layout<'_>,
    spec: &ClusterSpec,
    started: Instant,
    report: &mut ClusterReport,
    check: &dyn Fn() -> Result<()>,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    if layout.clients.is_empty() {
        return Ok(());
    }
    let targets: Vec<Target> = layout.clients.iter().map(|c| c.target.clone()).collect();
    let servers: Vec<String> = layout.statuses.iter().map(|s| s.node.clone()).collect();
    let nodes = clients::wait_ready(&targets, &servers, spec.clients.ready_timeout, check).await?;
    let agents = layout
        .clients
        .iter()
        .zip(nodes)
        .map(|(member, node)| ClientAgentReport {
            node,
            url: member.target.url(),
            pid: member.process.map(|p| p.pid()),
            idle: None,
            after_get: None,
        })
        .collect::<Vec<_>>();
    let ready_secs = started.elapsed().as_secs_f64();
    progress(&format!(
        "cluster: {} client agents ready after {ready_secs:.1}s",
        agents.len()
    ));
    report.clients = Some(ClientReport {
        ready_secs,
        agents,
        ..ClientReport::default()
    });
    Ok(())
}

/// With client agents: samples their memory, compares GETs through the first of them with GETs
/// straight to the leader and the follower, and samples again. Returns whether it ran.
async fn run_client_phase(
    layout: &Layout<'_>,
    spec: &ClusterSpec,
    report: &mut ClusterReport,
    progress: &mut dyn FnMut(&str),
) -> Result<bool> {
    let Some(client_report) = report.clients.as_mut() else {
        return Ok(false);
    };
    let idle = sample_memory(layout.clients)?;
    let through = &layout.clients[0].target;
    let client_node = client_report.agents[0].node.clone();
    let routes = Routes {
        client: Route {
            role: "client",
            node: &client_node,
            target: through,
        },
        leader: layout.route(Role::Leader),
        follower: layout.route(Role::Follower),
    };
    progress(&format!(
        "cluster: GET through client agent {client_node} and straight to {} and {}",
        routes.leader.node, routes.follower.node
    ));
    load::populate(through, spec.value_size, &spec.load).await?;
    let modes = &spec.clients.modes;
    client_report.gets =
        clients::compare_gets(&routes, modes, &spec.concurrency, &spec.load, progress).await?;
    client_report.leader_node = routes.leader.node.to_string();
    client_report.follower_node = routes.follower.node.to_string();
    client_report.client_node = client_node;
    client_report.record_memory(&idle, &sample_memory(layout.clients)?);
    Ok(true)
}

/// Memory of each agent whose process is known.
fn sample_memory(agents: &[ClusterMember]) -> Result<Vec<Option<MemoryUse>>> {
    agents
        .iter()
        .map(|agent| procfs::sample(agent.process.as_ref()))
        .collect()
}

/// PUT and GET levels through the leader, then through the follower.
async fn run_kv(
    layout: &mut Layout<'_>,
    spec: &ClusterSpec,
    report: &mut ClusterReport,
    check: &dyn Fn() -> Result<()>,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    load::populate(layout.target(Role::Leader), spec.value_size, &spec.load).await?;
    let mut operations = vec![Operation::put_of_size(spec.value_size)];
    operations.extend(spec.read_modes.iter().map(|&mode| Operation::Get { mode }));
    let mut term = layout.statuses[layout.index(Role::Leader)].term;
    for role in [Role::Leader, Role::Follower] {
        for operation in &operations {
            for &concurrency in &spec.concurrency {
                check()?;
                let level =
                    load::run_level(layout.target(role), operation, &spec.load, concurrency)
                        .await?;
                let name = operation_name(operation);
                progress(&level_line(&format!("cluster {role} {name}"), &level));
                report.kv.push(RoleLevel {
                    role,
                    node: layout.node(role).to_string(),
                    operation: name.clone(),
                    level,
                });
                let phase = format!("{role} {name} c={concurrency}");
                watch_leadership(layout, &phase, &mut term, spec, check, report).await?;
            }
        }
    }
    Ok(())
}

fn operation_name(operation: &Operation) -> String {
    match operation {
        Operation::Put { .. } => "put".to_string(),
        Operation::Get { mode } => format!("get {mode}"),
    }
}

/// After a level: notes an election (the leader's Raft term moved on) and, when leadership
/// went elsewhere, waits for the cluster to settle and carries on with the new roles.
async fn watch_leadership(
    layout: &mut Layout<'_>,
    phase: &str,
    term: &mut Option<u64>,
    spec: &ClusterSpec,
    check: &dyn Fn() -> Result<()>,
    report: &mut ClusterReport,
) -> Result<()> {
    let leader = layout.node(Role::Leader).to_string();
    let status = servers::status_of(layout.target(Role::Leader)).await;
    let still_leads = matches!(&status, Ok(s) if s.claims_leadership);
    let now = status.as_ref().ok().and_then(|s| s.term);
    if let (Some(before), Some(after)) = (*term, now) {
        if after != before {
            report.notes.push(format!(
                "during {phase}: election(s) — Raft term {before} → {after}; {leader} {}",
                if still_leads {
                    "leads again"
                } else {
                    "lost leadership"
                }
            ));
        }
    }
    *term = now;
    if still_leads {
        return Ok(());
    }
    if let Err(error) = &status {
        report.notes.push(format!(
            "after {phase}: cannot ask {leader} who leads: {error}"
        ));
    }
    refresh_roles(layout, phase, spec, check, report).await?;
    *term = layout.statuses[layout.index(Role::Leader)].term;
    Ok(())
}

/// Waits for the cluster to settle again and adopts its roles, noting a change of leader.
async fn refresh_roles(
    layout: &mut Layout<'_>,
    phase: &str,
    spec: &ClusterSpec,
    check: &dyn Fn() -> Result<()>,
    report: &mut ClusterReport,
) -> Result<()> {
    let before = layout.node(Role::Leader).to_string();
    let targets: Vec<Target> = layout.members.iter().map(|m| m.target.clone()).collect();
    let (statuses, roles) = servers::wait_for_roles(&targets, spec.settle_timeout, check).await?;
    layout.statuses = statuses;
    layout.roles = roles;
    if layout.node(Role::Leader) != before {
        report.notes.push(format!(
            "after {phase}: leadership moved from {before} to {}; later phases use the new roles",
            layout.node(Role::Leader)
        ));
    }
    Ok(())
}

/// Blocking-query fan-out through the follower, once per watch mode.
async fn run_fanout(
    layout: &Layout<'_>,
    spec: &ClusterSpec,
    report: &mut ClusterReport,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let follower = &layout.members[layout.index(Role::Follower)];
    report.fanout_node = layout.node(Role::Follower).to_string();
    for &mode in &spec.watch_modes {
        let watch_spec = WatchSpec {
            mode,
            ..spec.watch.clone()
        };
        let result =
            watch::run_watch(&follower.target, &watch_spec, follower.process.as_ref()).await?;
        progress(&format!(
            "cluster fan-out {mode} via {}: {} parked, {} released, {} still blocked; all released after {:.3} ms",
            layout.node(Role::Follower),
            result.parked,
            result.released,
            result.not_released,
            result.release.max_us as f64 / 1000.0
        ));
        report.fanout.push(result);
    }
    Ok(())
}

/// Kills the leader while writes stream to the follower, when its process is known.
async fn run_failover_phase(
    layout: &Layout<'_>,
    spec: &ClusterSpec,
    report: &mut ClusterReport,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let Some(failover_spec) = &spec.failover else {
        report.notes.push("failover: skipped (disabled)".into());
        return Ok(());
    };
    let leader = layout.index(Role::Leader);
    let status = &layout.statuses[leader];
    let (Some(process), Some(rpc_address)) = (
        layout.members[leader].process,
        Some(status.leader.clone()).filter(|named| !named.is_empty()),
    ) else {
        report.notes.push(
            "failover: skipped — the leader's process is unknown (pass --pids in --addrs order)"
                .into(),
        );
        return Ok(());
    };
    let victim = Victim {
        node: status.node.clone(),
        rpc_address,
        process,
    };
    let survivors: Vec<Survivor> = layout
        .roles
        .followers
        .iter()
        .map(|&i| Survivor {
            node: layout.statuses[i].node.clone(),
            target: layout.members[i].target.clone(),
        })
        .collect();
    progress(&format!(
        "cluster failover: streaming writes to {}, then kill -9 of {} (pid {})",
        survivors[0].node,
        victim.node,
        process.pid()
    ));
    let result = failover::run_failover(&victim, &survivors, failover_spec).await?;
    progress(&format!(
        "cluster failover: new leader {:?} after {} ms; first acknowledged write after {} ms",
        result.new_leader,
        optional_ms(result.new_leader_ms),
        optional_ms(result.first_ack_ms)
    ));
    report.failover = Some(result);
    Ok(())
}

fn optional_ms(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_string(), |ms| format!("{ms:.1}"))
}
