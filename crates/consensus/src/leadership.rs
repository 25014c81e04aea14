//! A lock-free view of who leads, refreshed from openraft's metrics whenever they change, so
//! every request can read the leader, the lease and the last-contact headers without touching
//! Raft. The leader's lease is measured from the last time a quorum acknowledged it: a view
//! that stops being refreshed lets the lease run out rather than extending it.

use crate::type_config::{ServerNode, TypeConfig};
use arc_swap::ArcSwap;
use openraft::{Raft, ServerState};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What this server knows about the leader at one moment.
#[derive(Clone, Debug, Default)]
pub struct LeaderView {
    /// The leader's Raft ID, node name and RPC address, if one is known.
    pub leader: Option<(u64, ServerNode)>,
    /// Whether this server is the leader.
    pub is_leader: bool,
    /// When this server last knew of a live leader (itself included).
    pub last_contact: Option<Instant>,
    /// On the leader: when a quorum of voters last acknowledged it.
    pub quorum_acked_at: Option<Instant>,
    /// The current Raft term.
    pub term: u64,
    /// The last index in this server's log.
    pub last_log_index: u64,
    /// The last index this server applied.
    pub applied_index: u64,
}

impl LeaderView {
    /// The leader's RPC address, if one is known.
    pub fn leader_address(&self) -> Option<&str> {
        self.leader.as_ref().map(|(_, node)| node.address.as_str())
    }

    /// How long since this server last heard from a leader (zero on the leader).
    pub fn since_last_contact(&self) -> Duration {
        match (self.is_leader, self.last_contact) {
            (true, _) | (false, None) => Duration::ZERO,
            (false, Some(at)) => at.elapsed(),
        }
    }

    /// Whether this server leads and a quorum acknowledged it within `lease`: only then may it
    /// answer reads from its own state without asking the quorum again.
    pub fn holds_lease(&self, lease: Duration) -> bool {
        self.is_leader && self.quorum_acked_at.is_some_and(|at| at.elapsed() < lease)
    }
}

/// Shared, always-current leadership view.
#[derive(Clone, Default)]
pub struct Leadership {
    view: Arc<ArcSwap<LeaderView>>,
}

impl Leadership {
    /// Starts following `raft`'s metrics, and at least every `refresh` the time this server
    /// last heard from its leader (a follower's metrics do not change on a mere heartbeat).
    pub fn follow(raft: &Raft<TypeConfig>, refresh: Duration) -> Self {
        let leadership = Leadership::default();
        let mut metrics = raft.metrics();
        let view = leadership.view.clone();
        let raft = raft.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(refresh);
            let mut heard_from_leader = None;
            loop {
                // Asking RaftCore for its state makes it report metrics again, so it is asked
                // only on the timer: asking on every metrics change would loop without rest.
                tokio::select! {
                    changed = metrics.changed() => if changed.is_err() { return },
                    _ = ticker.tick() => {
                        heard_from_leader = raft
                            .with_raft_state(|state| state.vote_last_modified())
                            .await
                            .ok()
                            .flatten()
                            .map(|at| at.into_std());
                    }
                }
                let current = metrics.borrow_and_update().clone();
                let previous = view.load_full();
                view.store(Arc::new(next_view(&current, &previous, heard_from_leader)));
            }
        });
        leadership
    }

    /// The current view.
    pub fn view(&self) -> Arc<LeaderView> {
        self.view.load_full()
    }
}

type Metrics = openraft::RaftMetrics<u64, ServerNode>;

fn next_view(
    current: &Metrics,
    previous: &LeaderView,
    heard_from_leader: Option<Instant>,
) -> LeaderView {
    let now = Instant::now();
    let leader = current.current_leader.and_then(|id| {
        let node = current.membership_config.membership().get_node(&id)?;
        Some((id, node.clone()))
    });
    let is_leader = current.state == ServerState::Leader;
    let quorum_acked_at = match (is_leader, current.millis_since_quorum_ack) {
        (true, Some(millis)) => now.checked_sub(Duration::from_millis(millis)),
        _ => None,
    };
    let last_contact = match (is_leader, leader.is_some()) {
        (true, _) => Some(now),
        (false, true) => heard_from_leader.or(previous.last_contact),
        (false, false) => previous.last_contact,
    };
    LeaderView {
        leader,
        is_leader,
        last_contact,
        quorum_acked_at,
        term: current.current_term,
        last_log_index: current.last_log_index.unwrap_or(0),
        applied_index: current.last_applied.map(|id| id.index).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_needs_leadership_and_a_recent_quorum() {
        let mut view = LeaderView {
            is_leader: true,
            quorum_acked_at: Some(Instant::now()),
            ..LeaderView::default()
        };
        assert!(view.holds_lease(Duration::from_secs(1)));
        view.quorum_acked_at = Instant::now().checked_sub(Duration::from_secs(2));
        assert!(!view.holds_lease(Duration::from_secs(1)));
        view.quorum_acked_at = Some(Instant::now());
        view.is_leader = false;
        assert!(!view.holds_lease(Duration::from_secs(1)));
    }
}
