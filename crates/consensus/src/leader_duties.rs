//! Work only the leader does, on a timer: invalidating sessions whose TTL lapsed without a
//! renewal, reaping old KV tombstones, and stepping down when no quorum has acknowledged it for
//! twice its lease (so a leader cut off from the others stops acting as one). Timers are not
//! replicated, as in Consul: a new leader restarts every session's timer from a full TTL.

use crate::node::RaftNode;
use senate_state::Command;
use senate_types::duration;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Consul waits this many TTLs before invalidating a session that was not renewed.
const TTL_GRACE_MULTIPLIER: u32 = 2;
const TICK: Duration = Duration::from_millis(250);
const TOMBSTONE_REAP_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Deadlines of sessions with a TTL, on the leader.
#[derive(Default)]
pub struct SessionTimers {
    state: Mutex<Timers>,
}

#[derive(Default)]
struct Timers {
    deadlines: HashMap<String, Instant>,
    /// The session-table index the deadlines were last matched against (`None`: never, on this term).
    reconciled_at: Option<u64>,
}

impl SessionTimers {
    /// Starts (or restarts) a session's timer for `ttl`.
    pub fn reset(&self, id: &str, ttl: Duration) {
        let deadline = Instant::now() + ttl * TTL_GRACE_MULTIPLIER;
        self.lock().deadlines.insert(id.to_string(), deadline);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timers> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets every timer (this server is no longer leader).
    fn clear(&self) {
        *self.lock() = Timers::default();
    }

    /// Returns the sessions whose time is up. When the session table changed since the last
    /// call, first arms timers for TTL sessions that have none (after a restart or a change of
    /// leader) and drops timers of sessions that are gone.
    fn expired(&self, node: &RaftNode) -> Vec<String> {
        let tables = node.store().snapshot();
        let (index, sessions) = tables.session_list();
        let now = Instant::now();
        let mut timers = self.lock();
        if timers.reconciled_at != Some(index) {
            timers.reconciled_at = Some(index);
            timers.deadlines.retain(|id, _| tables.session_exists(id));
            for session in sessions {
                if let Ok(ttl) = duration::parse(&session.ttl) {
                    if !ttl.is_zero() {
                        timers
                            .deadlines
                            .entry(session.id.clone())
                            .or_insert(now + ttl * TTL_GRACE_MULTIPLIER);
                    }
                }
            }
        }
        timers
            .deadlines
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Whether this leader of several voters has gone two leases without a quorum's acknowledgement
/// (not counting a leadership transfer, which holds heartbeats back so another server wins).
fn lost_quorum(node: &RaftNode) -> bool {
    if node.heartbeats_paused() {
        return false;
    }
    let lease = node.timing().leader_lease();
    let view = node.leadership();
    let (_, servers) = node.servers();
    let voters = servers.iter().filter(|s| s.voter).count();
    let stale_ack = view
        .quorum_acked_at
        .is_some_and(|at| at.elapsed() > lease * 2);
    voters > 1 && view.is_leader && stale_ack
}

/// Runs the leader's duties until the process ends.
pub async fn run(node: Arc<RaftNode>, timers: Arc<SessionTimers>) {
    let mut tombstone_mark: Option<u64> = None;
    let mut next_reap = Instant::now() + TOMBSTONE_REAP_INTERVAL;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if !node.is_leader() {
            timers.clear();
            continue;
        }
        if lost_quorum(&node) {
            tracing::warn!(
                "no quorum has acknowledged this leader within twice its lease; stepping down"
            );
            if let Err(error) = node.step_down().await {
                tracing::warn!(%error, "could not step down");
            }
            continue;
        }
        for id in timers.expired(&node) {
            // The timer stays until the session is gone, so a failed invalidation is retried.
            tracing::info!(session = %id, "session TTL expired; invalidating it");
            if let Err(error) = node
                .propose(Command::SessionDestroy { id: id.clone() })
                .await
            {
                tracing::warn!(session = %id, %error, "could not invalidate an expired session");
            }
        }
        if Instant::now() >= next_reap {
            next_reap = Instant::now() + TOMBSTONE_REAP_INTERVAL;
            if let Some(up_to) = tombstone_mark {
                if let Err(error) = node.propose(Command::ReapTombstones { up_to }).await {
                    tracing::warn!(%error, "could not reap KV tombstones");
                }
            }
            tombstone_mark = Some(node.store().snapshot().applied_index);
        }
    }
}
