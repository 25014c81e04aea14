//! Autopilot, on the leader: keeps the Raft configuration in line with the servers gossip
//! shows. A new server joins as a non-voter and becomes a voter once it has been healthy for
//! `ServerStabilizationTime`; a server that left gracefully is removed at once; a failed one is
//! removed (`CleanupDeadServers`) only while the remaining voters keep a quorum. One membership
//! change at a time. The decisions are a pure function of what the leader sees.

use crate::members::GossipServer;
use crate::server::ClusterServer;
use senate_consensus::{RaftServer, ServerNode};
use senate_gossip::MemberStatus;
use senate_types::operator::AutopilotConfig;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One membership change autopilot wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    AddNonVoter(ServerNode),
    Promote {
        raft_id: u64,
        name: String,
    },
    Remove {
        raft_id: u64,
        name: String,
        why: &'static str,
    },
}

/// A server of the Raft configuration with what the leader knows of its health.
#[derive(Clone, Debug)]
pub struct ServerHealth {
    pub raft: RaftServer,
    /// Its gossip status; `None` when gossip does not know it.
    pub gossip: Option<MemberStatus>,
    pub healthy: bool,
    /// Since when it has been healthy without a break (as autopilot has watched it).
    pub stable_since: Option<Instant>,
}

/// Everything one decision looks at.
pub struct View<'a> {
    pub leader_id: u64,
    pub servers: &'a [ServerHealth],
    /// The servers gossip shows in this datacenter.
    pub gossip: &'a [GossipServer],
    pub config: &'a AutopilotConfig,
    pub now: Instant,
}

/// Whether a server may count as healthy: alive in gossip, not far behind the leader, and heard
/// from within `LastContactThreshold`.
pub fn is_healthy(
    server: &RaftServer,
    gossip: Option<MemberStatus>,
    leader_last_index: u64,
    config: &AutopilotConfig,
) -> bool {
    let caught_up = server
        .last_index
        .is_some_and(|index| leader_last_index.saturating_sub(index) <= config.max_trailing_logs);
    let in_contact = server
        .last_contact
        .is_some_and(|since| since <= config.last_contact_threshold);
    gossip == Some(MemberStatus::Alive) && caught_up && in_contact
}

/// The change autopilot makes next, if any.
pub fn next_change(view: &View<'_>) -> Option<Change> {
    add_new_server(view)
        .or_else(|| remove_departed(view))
        .or_else(|| promote_stable(view))
}

fn add_new_server(view: &View<'_>) -> Option<Change> {
    let known = |server: &GossipServer| {
        view.servers
            .iter()
            .any(|s| s.raft.node.id == server.node.id || s.raft.node.address == server.node.address)
    };
    if let Some(stale) = view.gossip.iter().find_map(|g| {
        let replaced = view.servers.iter().find(|s| {
            g.status == MemberStatus::Alive
                && s.raft.node.address == g.node.address
                && s.raft.node.id != g.node.id
                && s.raft.raft_id != view.leader_id
        })?;
        Some(replaced)
    }) {
        return Some(remove(
            stale,
            "its address now belongs to a server with another ID",
        ));
    }
    view.gossip
        .iter()
        .find(|g| g.status == MemberStatus::Alive && !known(g))
        .map(|g| Change::AddNonVoter(g.node.clone()))
}

fn remove_departed(view: &View<'_>) -> Option<Change> {
    let others = || {
        view.servers
            .iter()
            .filter(|s| s.raft.raft_id != view.leader_id)
    };
    if let Some(left) = others().find(|s| s.gossip == Some(MemberStatus::Left)) {
        return Some(remove(left, "it left the cluster"));
    }
    if !view.config.cleanup_dead_servers {
        return None;
    }
    let failed = |s: &&ServerHealth| s.gossip == Some(MemberStatus::Failed);
    if let Some(nonvoter) = others().filter(failed).find(|s| !s.raft.voter) {
        return Some(remove(nonvoter, "it failed"));
    }
    let voters = view.servers.iter().filter(|s| s.raft.voter).count();
    let healthy_voters = view
        .servers
        .iter()
        .filter(|s| s.raft.voter && s.gossip == Some(MemberStatus::Alive))
        .count();
    let remaining = voters.saturating_sub(1);
    let quorum_after = remaining / 2 + 1;
    let allowed = remaining >= view.config.min_quorum as usize && healthy_voters >= quorum_after;
    others()
        .filter(failed)
        .find(|s| s.raft.voter && allowed)
        .map(|s| remove(s, "it failed and the remaining servers keep a quorum"))
}

fn promote_stable(view: &View<'_>) -> Option<Change> {
    let stabilization = view.config.server_stabilization_time;
    view.servers
        .iter()
        .find(|s| {
            !s.raft.voter
                && s.healthy
                && s.stable_since
                    .is_some_and(|since| view.now.duration_since(since) >= stabilization)
        })
        .map(|s| Change::Promote {
            raft_id: s.raft.raft_id,
            name: s.raft.node.name.clone(),
        })
}

fn remove(server: &ServerHealth, why: &'static str) -> Change {
    Change::Remove {
        raft_id: server.raft.raft_id,
        name: server.raft.node.name.clone(),
        why,
    }
}

/// How many voters may fail with the quorum intact, counting only healthy ones.
pub fn failure_tolerance(servers: &[ServerHealth]) -> usize {
    let voters = servers.iter().filter(|s| s.raft.voter).count();
    let healthy = servers.iter().filter(|s| s.raft.voter && s.healthy).count();
    healthy.saturating_sub(voters / 2 + 1)
}

/// Tracks, on the leader, since when each server has been healthy.
#[derive(Default)]
pub struct StabilityTracker {
    since: std::sync::Mutex<HashMap<u64, Instant>>,
}

impl StabilityTracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Instant>> {
        self.since.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records what is healthy now and returns each server's stable-since time.
    fn observe(&self, healthy: &[(u64, bool)], now: Instant) -> HashMap<u64, Instant> {
        let mut since = self.lock();
        since.retain(|id, _| healthy.iter().any(|(h, ok)| h == id && *ok));
        for (id, ok) in healthy {
            if *ok {
                since.entry(*id).or_insert(now);
            }
        }
        since.clone()
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

/// The health of every server in the Raft configuration, as the leader sees it now.
pub fn server_health(server: &ClusterServer) -> Vec<ServerHealth> {
    let (_, raft_servers) = server.raft().servers();
    let gossip = server.gossip_servers();
    let status_of = |node: &ServerNode| {
        gossip
            .iter()
            .find(|g| g.node.id == node.id)
            .map(|g| g.status)
    };
    let leader_last_index = server.leadership().last_log_index;
    let config = server.store().snapshot().autopilot_config().0;
    let healthy: Vec<(u64, bool)> = raft_servers
        .iter()
        .map(|s| {
            let ok = is_healthy(s, status_of(&s.node), leader_last_index, &config);
            (s.raft_id, ok)
        })
        .collect();
    let since = server.stability().observe(&healthy, Instant::now());
    raft_servers
        .into_iter()
        .zip(healthy)
        .map(|(raft, (_, healthy))| ServerHealth {
            gossip: status_of(&raft.node),
            stable_since: since.get(&raft.raft_id).copied(),
            healthy,
            raft,
        })
        .collect()
}

const TICK: Duration = Duration::from_millis(500);

/// Runs autopilot on whichever server leads, until the process ends.
pub async fn run(server: Arc<ClusterServer>) {
    let mut changes = server.gossip().subscribe();
    loop {
        let _changed_or_tick = tokio::time::timeout(TICK, changes.changed()).await;
        if !server.is_leader() {
            server.stability().clear();
            continue;
        }
        if server.raft().membership_changing() {
            continue;
        }
        if let Some(change) = decide_now(&server) {
            apply(&server, change).await;
        }
    }
}

fn decide_now(server: &ClusterServer) -> Option<Change> {
    let servers = server_health(server);
    let gossip = server.gossip_servers();
    let config = server.store().snapshot().autopilot_config().0;
    next_change(&View {
        leader_id: server.raft().raft_id(),
        servers: &servers,
        gossip: &gossip,
        config: &config,
        now: Instant::now(),
    })
}

async fn apply(server: &ClusterServer, change: Change) {
    tracing::info!(?change, "autopilot changing the Raft configuration");
    let result = match &change {
        Change::AddNonVoter(node) => server.raft().add_nonvoter(node).await,
        Change::Promote { raft_id, .. } => server.raft().promote(*raft_id).await,
        Change::Remove { raft_id, .. } => server.raft().remove(*raft_id).await,
    };
    if let Err(error) = result {
        tracing::warn!(?change, %error, "autopilot could not change the Raft configuration");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u64) -> ServerNode {
        ServerNode {
            id: format!("id-{n}"),
            name: format!("s{n}"),
            address: format!("127.0.0.1:{}", 8300 + n),
        }
    }

    fn member(n: u64, voter: bool, status: MemberStatus, healthy_for: Option<u64>) -> ServerHealth {
        ServerHealth {
            raft: RaftServer {
                raft_id: n,
                node: node(n),
                leader: n == 1,
                voter,
                last_index: Some(100),
                last_contact: Some(Duration::from_millis(10)),
            },
            gossip: Some(status),
            healthy: status == MemberStatus::Alive,
            stable_since: healthy_for
                .and_then(|secs| Instant::now().checked_sub(Duration::from_secs(secs))),
        }
    }

    fn gossip(n: u64, status: MemberStatus) -> GossipServer {
        GossipServer {
            node: node(n),
            datacenter: "dc1".into(),
            status,
            expect: 3,
        }
    }

    fn decide(servers: &[ServerHealth], gossip: &[GossipServer]) -> Option<Change> {
        let config = AutopilotConfig::default();
        next_change(&View {
            leader_id: 1,
            servers,
            gossip,
            config: &config,
            now: Instant::now(),
        })
    }

    use MemberStatus::{Alive, Failed, Left};

    #[test]
    fn a_new_server_joins_as_a_non_voter() {
        let servers = [member(1, true, Alive, Some(60))];
        let seen = [gossip(1, Alive), gossip(2, Alive)];
        assert_eq!(decide(&servers, &seen), Some(Change::AddNonVoter(node(2))));
    }

    #[test]
    fn a_non_voter_is_promoted_only_after_stabilization() {
        let seen = [gossip(1, Alive), gossip(2, Alive)];
        let fresh = [
            member(1, true, Alive, Some(60)),
            member(2, false, Alive, Some(1)),
        ];
        assert_eq!(decide(&fresh, &seen), None);
        let stable = [
            member(1, true, Alive, Some(60)),
            member(2, false, Alive, Some(11)),
        ];
        assert!(matches!(
            decide(&stable, &seen),
            Some(Change::Promote { raft_id: 2, .. })
        ));
    }

    #[test]
    fn a_server_that_left_is_removed_at_once() {
        let servers = [
            member(1, true, Alive, Some(60)),
            member(2, true, Alive, Some(60)),
            member(3, true, Left, None),
        ];
        let seen = [gossip(1, Alive), gossip(2, Alive), gossip(3, Left)];
        assert!(matches!(
            decide(&servers, &seen),
            Some(Change::Remove { raft_id: 3, .. })
        ));
    }

    #[test]
    fn a_server_out_of_contact_longer_than_the_threshold_is_unhealthy() {
        let config = AutopilotConfig::default();
        let mut server = member(2, true, MemberStatus::Alive, None).raft;
        assert!(is_healthy(&server, Some(MemberStatus::Alive), 100, &config));
        server.last_contact = Some(config.last_contact_threshold + Duration::from_millis(1));
        assert!(!is_healthy(
            &server,
            Some(MemberStatus::Alive),
            100,
            &config
        ));
        server.last_contact = None;
        assert!(!is_healthy(
            &server,
            Some(MemberStatus::Alive),
            100,
            &config
        ));
    }

    #[test]
    fn a_failed_voter_is_removed_only_when_the_quorum_survives() {
        let five = [
            member(1, true, Alive, Some(60)),
            member(2, true, Alive, Some(60)),
            member(3, true, Alive, Some(60)),
            member(4, true, Failed, None),
            member(5, true, Failed, None),
        ];
        assert!(matches!(
            decide(&five, &[]),
            Some(Change::Remove { raft_id: 4, .. })
        ));
        let three = [
            member(1, true, Alive, Some(60)),
            member(2, true, Failed, None),
            member(3, true, Failed, None),
        ];
        assert_eq!(decide(&three, &[]), None);
    }

    #[test]
    fn the_leader_never_removes_itself() {
        let servers = [
            member(1, true, Left, None),
            member(2, true, Alive, Some(60)),
        ];
        assert_eq!(decide(&servers, &[]), None);
    }

    #[test]
    fn failure_tolerance_counts_healthy_voters_past_the_quorum() {
        let servers = [
            member(1, true, Alive, None),
            member(2, true, Alive, None),
            member(3, true, Alive, None),
            member(4, true, Failed, None),
            member(5, true, Alive, None),
        ];
        assert_eq!(failure_tolerance(&servers), 1);
    }
}
