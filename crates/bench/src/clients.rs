//! Client agents in cluster mode: waiting until each has joined and knows the leader, their
//! memory (VmRSS, VmHWM) summarized over the agents, and KV GET through one client agent against
//! GET straight to the leader and to a follower.
//!
//! A client agent is ready when `GET /v1/agent/members` on it lists itself and every server
//! alive (Serf status 1) and `GET /v1/status/leader` through it names a leader — which holds for
//! Senate and Consul clients alike.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::error::{BenchError, Result};
use crate::http1::Connection;
use crate::kv::{self, Operation, ReadMode};
use crate::load::{self, LevelResult, LoadSpec};
use crate::procfs::MemoryUse;
use crate::report::level_line;
use crate::servers;
use crate::target::Target;

/// Pause between two looks at client agents that are not ready yet.
const READY_POLL: Duration = Duration::from_millis(250);
/// Serf's member status for an alive member.
const ALIVE: u64 = 1;
/// Not-ready client agents named in the error when the wait times out.
const REASONS_SHOWN: usize = 3;

/// Parameters of the client-agent phase.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Read modes of the compared GET levels.
    pub modes: Vec<ReadMode>,
    /// Bound on waiting for every client agent to be ready.
    pub ready_timeout: Duration,
}

/// One agent the compared GETs go to.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    /// `client`, `leader` or `follower`, for progress lines.
    pub role: &'static str,
    pub node: &'a str,
    pub target: &'a Target,
}

/// The three ways a compared GET goes.
#[derive(Debug, Clone, Copy)]
pub struct Routes<'a> {
    pub client: Route<'a>,
    pub leader: Route<'a>,
    pub follower: Route<'a>,
}

/// Minimum, median and maximum of one memory figure over the client agents, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub min_kb: u64,
    pub median_kb: u64,
    pub max_kb: u64,
}

/// The client agents' memory at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemorySummary {
    /// Agents sampled.
    pub agents: usize,
    pub rss: Spread,
    pub hwm: Spread,
}

/// One client agent and its memory samples.
#[derive(Debug, Clone, Serialize)]
pub struct ClientAgentReport {
    pub node: String,
    pub url: String,
    pub pid: Option<u32>,
    pub idle: Option<MemoryUse>,
    pub after_get: Option<MemoryUse>,
}

/// One GET level (mode and concurrency) through the client agent and straight to the servers.
#[derive(Debug, Clone, Serialize)]
pub struct ClientGet {
    pub mode: ReadMode,
    pub client: LevelResult,
    pub leader: LevelResult,
    pub follower: LevelResult,
    /// Client rate over the leader's (None when the leader answered nothing).
    pub client_to_leader: Option<f64>,
    pub client_to_follower: Option<f64>,
}

impl ClientGet {
    pub fn new(
        mode: ReadMode,
        client: LevelResult,
        leader: LevelResult,
        follower: LevelResult,
    ) -> Self {
        Self {
            mode,
            client_to_leader: rate_ratio(&client, &leader),
            client_to_follower: rate_ratio(&client, &follower),
            client,
            leader,
            follower,
        }
    }
}

/// Everything the client-agent phase measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientReport {
    /// Time from the start of the run until every client agent was ready.
    pub ready_secs: f64,
    pub agents: Vec<ClientAgentReport>,
    /// Before the compared GETs, with the agents idle since they became ready.
    pub memory_idle: Option<MemorySummary>,
    pub memory_after_get: Option<MemorySummary>,
    /// The client agent the compared GETs went through, and the servers they went to.
    pub client_node: String,
    pub leader_node: String,
    pub follower_node: String,
    pub gets: Vec<ClientGet>,
}

impl ClientReport {
    /// Records each agent's memory before and after the compared GETs, and their summaries.
    pub fn record_memory(&mut self, idle: &[Option<MemoryUse>], after_get: &[Option<MemoryUse>]) {
        for ((agent, idle), after) in self.agents.iter_mut().zip(idle).zip(after_get) {
            agent.idle = *idle;
            agent.after_get = *after;
        }
        let known = |samples: &[Option<MemoryUse>]| {
            summarize(&samples.iter().flatten().copied().collect::<Vec<_>>())
        };
        self.memory_idle = known(idle);
        self.memory_after_get = known(after_get);
    }
}

/// Polls every client agent until each is ready (see the module doc), or `limit` passes;
/// returns their node names in the order of `clients`.
///
/// `check` runs before every look and may abort the wait (e.g. when a started agent died).
pub async fn wait_ready(
    clients: &[Target],
    server_nodes: &[String],
    limit: Duration,
    check: &dyn Fn() -> Result<()>,
) -> Result<Vec<String>> {
    let deadline = Instant::now() + limit;
    let mut nodes: Vec<Option<String>> = vec![None; clients.len()];
    loop {
        check()?;
        let mut waiting = Vec::new();
        for (target, node) in clients.iter().zip(&mut nodes) {
            if node.is_some() {
                continue;
            }
            match readiness(target, server_nodes).await {
                Ok(name) => *node = Some(name),
                Err(reason) => waiting.push(format!("{}: {reason}", target.url())),
            }
        }
        if waiting.is_empty() {
            return Ok(nodes.into_iter().flatten().collect());
        }
        if Instant::now() >= deadline {
            return Err(not_ready(&waiting, clients.len(), limit));
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// The client's node name when it is ready, or why it is not.
async fn readiness(
    target: &Target,
    server_nodes: &[String],
) -> std::result::Result<String, String> {
    let look = async {
        let mut connection = Connection::connect(target).await?;
        let agent = kv::get_json(&mut connection, "/v1/agent/self").await?;
        let members = kv::get_json(&mut connection, "/v1/agent/members").await?;
        let leader = servers::leader_named_by(&mut connection).await?;
        Ok::<_, BenchError>((servers::node_name(&agent), members, leader))
    };
    let (node, members, leader) = look.await.map_err(|e| e.to_string())?;
    check_ready(&node, &members, server_nodes, &leader).map(|()| node)
}

/// Whether client `node`, with this `/v1/agent/members` answer and this leader, is ready.
pub fn check_ready(
    node: &str,
    members: &Value,
    server_nodes: &[String],
    leader: &str,
) -> std::result::Result<(), String> {
    let alive: Vec<&str> = members
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|m| m["Status"].as_u64() == Some(ALIVE))
        .filter_map(|m| m["Name"].as_str())
        .collect();
    if !alive.contains(&node) {
        return Err(format!("{node} does not list itself alive"));
    }
    let missing: Vec<&str> = server_nodes
        .iter()
        .map(String::as_str)
        .filter(|server| !alive.contains(server))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{node} does not see server(s) {} alive",
            missing.join(", ")
        ));
    }
    if leader.is_empty() {
        return Err(format!("{node} knows no leader"));
    }
    Ok(())
}

fn not_ready(waiting: &[String], total: usize, limit: Duration) -> BenchError {
    let mut reasons = waiting[..waiting.len().min(REASONS_SHOWN)].join("; ");
    if waiting.len() > REASONS_SHOWN {
        reasons.push_str(&format!("; and {} more", waiting.len() - REASONS_SHOWN));
    }
    BenchError::Setup(format!(
        "{} of {total} client agents not ready within {limit:?}: {reasons}",
        waiting.len()
    ))
}

/// GET levels in each mode and at each concurrency, each run through the client agent, then
/// straight to the leader, then to the follower, so the three run under like conditions.
pub async fn compare_gets(
    routes: &Routes<'_>,
    modes: &[ReadMode],
    concurrency: &[usize],
    load: &LoadSpec,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<ClientGet>> {
    let mut gets = Vec::new();
    for &mode in modes {
        for &workers in concurrency {
            let client = get_level(routes.client, mode, workers, load, progress).await?;
            let leader = get_level(routes.leader, mode, workers, load, progress).await?;
            let follower = get_level(routes.follower, mode, workers, load, progress).await?;
            gets.push(ClientGet::new(mode, client, leader, follower));
        }
    }
    Ok(gets)
}

async fn get_level(
    route: Route<'_>,
    mode: ReadMode,
    concurrency: usize,
    load: &LoadSpec,
    progress: &mut dyn FnMut(&str),
) -> Result<LevelResult> {
    let operation = Operation::Get { mode };
    let level = load::run_level(route.target, &operation, load, concurrency).await?;
    let phase = format!("cluster get {mode} via {} {}", route.role, route.node);
    progress(&level_line(&phase, &level));
    Ok(level)
}

/// Summarizes memory samples; `None` when there are none.
pub fn summarize(samples: &[MemoryUse]) -> Option<MemorySummary> {
    Some(MemorySummary {
        agents: samples.len(),
        rss: spread(samples.iter().map(|m| m.rss_kb).collect())?,
        hwm: spread(samples.iter().map(|m| m.hwm_kb).collect())?,
    })
}

/// Min, median (the mean of the middle two for an even count) and max.
fn spread(mut values: Vec<u64>) -> Option<Spread> {
    values.sort_unstable();
    let middle = values.len() / 2;
    let median_kb = if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values.get(middle.checked_sub(1)?)? + values[middle]) / 2
    };
    Some(Spread {
        min_kb: *values.first()?,
        median_kb,
        max_kb: *values.last()?,
    })
}

/// `through`'s rate over `direct`'s.
pub fn rate_ratio(through: &LevelResult, direct: &LevelResult) -> Option<f64> {
    (direct.requests_per_sec > 0.0).then(|| through.requests_per_sec / direct.requests_per_sec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::LatencySummary;
    use serde_json::json;

    fn memory(rss_kb: u64, hwm_kb: u64) -> MemoryUse {
        MemoryUse { rss_kb, hwm_kb }
    }

    fn level(requests_per_sec: f64) -> LevelResult {
        LevelResult {
            concurrency: 1,
            ok: 1,
            errors: 0,
            elapsed_secs: 1.0,
            requests_per_sec,
            latency: LatencySummary::default(),
            body_bytes: 0,
        }
    }

    fn servers() -> Vec<String> {
        ["s1", "s2", "s3"].map(String::from).to_vec()
    }

    #[test]
    fn summarizes_odd_and_even_counts() {
        let odd = [memory(30, 40), memory(10, 12), memory(20, 50)];
        assert_eq!(
            summarize(&odd),
            Some(MemorySummary {
                agents: 3,
                rss: Spread {
                    min_kb: 10,
                    median_kb: 20,
                    max_kb: 30
                },
                hwm: Spread {
                    min_kb: 12,
                    median_kb: 40,
                    max_kb: 50
                },
            })
        );
        let even = summarize(&[
            memory(10, 10),
            memory(40, 40),
            memory(20, 20),
            memory(30, 30),
        ]);
        assert_eq!(even.map(|s| s.rss.median_kb), Some(25));
        assert_eq!(summarize(&[memory(7, 9)]).map(|s| s.hwm.median_kb), Some(9));
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn ready_needs_itself_every_server_alive_and_a_leader() {
        let alive = |name: &str| json!({"Name": name, "Status": 1, "Tags": {"role": "node"}});
        let members = json!([alive("c1"), alive("s1"), alive("s2"), alive("s3")]);
        assert_eq!(
            check_ready("c1", &members, &servers(), "127.0.0.1:1"),
            Ok(())
        );
        let no_leader = check_ready("c1", &members, &servers(), "").unwrap_err();
        assert!(no_leader.contains("no leader"), "{no_leader}");
        let not_joined = check_ready("c2", &members, &servers(), "127.0.0.1:1").unwrap_err();
        assert!(not_joined.contains("itself"), "{not_joined}");
        let failed = json!([alive("c1"), alive("s1"), {"Name": "s2", "Status": 4}]);
        let missing = check_ready("c1", &failed, &servers(), "127.0.0.1:1").unwrap_err();
        assert!(missing.ends_with("server(s) s2, s3 alive"), "{missing}");
        assert!(check_ready("c1", &json!({}), &servers(), "x").is_err());
    }

    #[test]
    fn timeout_error_counts_and_names_a_few() {
        let waiting: Vec<String> = (1..=5).map(|i| format!("c{i}: not yet")).collect();
        let error = not_ready(&waiting, 20, Duration::from_secs(60)).to_string();
        assert!(
            error.starts_with("5 of 20 client agents not ready within 60s"),
            "{error}"
        );
        assert!(
            error.contains("c3: not yet") && !error.contains("c4"),
            "{error}"
        );
        assert!(error.ends_with("and 2 more"), "{error}");
    }

    #[test]
    fn ratios_compare_rates() {
        let get = ClientGet::new(ReadMode::Stale, level(700.0), level(1000.0), level(0.0));
        assert_eq!(get.client_to_leader, Some(0.7));
        assert_eq!(get.client_to_follower, None);
    }
}
