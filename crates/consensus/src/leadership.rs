//! A lock-free view of who leads, refreshed from openraft's metrics whenever they change, so
//! every request can read the leader and last-contact headers without touching Raft.

use crate::type_config::TypeConfig;
use arc_swap::ArcSwap;
use openraft::{Raft, ServerState};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What this server knows about the leader at one moment.
#[derive(Clone, Debug, Default)]
pub struct LeaderView {
    /// The leader's Raft address, if one is known.
    pub leader_address: Option<String>,
    /// Whether this server is the leader.
    pub is_leader: bool,
    /// When this server last knew of a live leader (itself included).
    pub last_contact: Option<Instant>,
}

impl LeaderView {
    /// How long since this server last heard from a leader (zero on the leader).
    pub fn since_last_contact(&self) -> Duration {
        match (self.is_leader, self.last_contact) {
            (true, _) | (false, None) => Duration::ZERO,
            (false, Some(at)) => at.elapsed(),
        }
    }
}

/// Shared, always-current leadership view.
#[derive(Clone, Default)]
pub struct Leadership {
    view: Arc<ArcSwap<LeaderView>>,
}

impl Leadership {
    /// Starts following `raft`'s metrics.
    pub fn follow(raft: &Raft<TypeConfig>) -> Self {
        let leadership = Leadership::default();
        let mut metrics = raft.metrics();
        let view = leadership.view.clone();
        tokio::spawn(async move {
            loop {
                let current = metrics.borrow_and_update().clone();
                let leader_address = current.current_leader.and_then(|id| {
                    current
                        .membership_config
                        .membership()
                        .get_node(&id)
                        .map(|node| node.addr.clone())
                });
                let previous = view.load();
                let last_contact = if leader_address.is_some() {
                    Some(Instant::now())
                } else {
                    previous.last_contact
                };
                view.store(Arc::new(LeaderView {
                    leader_address,
                    is_leader: current.state == ServerState::Leader,
                    last_contact,
                }));
                if metrics.changed().await.is_err() {
                    return;
                }
            }
        });
        leadership
    }

    /// The current view.
    pub fn view(&self) -> Arc<LeaderView> {
        self.view.load_full()
    }
}
