//! Work only the leader does, on a timer: invalidating sessions whose TTL lapsed without a
//! renewal, and reaping old KV tombstones. Timers are not replicated, as in Consul: a new
//! leader restarts every session's timer from a full TTL.

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
    deadlines: Mutex<HashMap<String, Instant>>,
}

impl SessionTimers {
    /// Starts (or restarts) a session's timer for `ttl`.
    pub fn reset(&self, id: &str, ttl: Duration) {
        let deadline = Instant::now() + ttl * TTL_GRACE_MULTIPLIER;
        self.lock().insert(id.to_string(), deadline);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.deadlines.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms timers for TTL sessions that have none (after a restart or a change of leader),
    /// drops timers of sessions that are gone, and returns the sessions whose time is up.
    fn expired(&self, node: &RaftNode) -> Vec<String> {
        let tables = node.store().snapshot();
        let (_, sessions) = tables.session_list();
        let now = Instant::now();
        let mut deadlines = self.lock();
        deadlines.retain(|id, _| tables.session_exists(id));
        for session in sessions {
            if let Ok(ttl) = duration::parse(&session.ttl) {
                if !ttl.is_zero() {
                    deadlines
                        .entry(session.id.clone())
                        .or_insert(now + ttl * TTL_GRACE_MULTIPLIER);
                }
            }
        }
        deadlines
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Runs the leader's duties until the process ends.
pub async fn run(node: Arc<RaftNode>, timers: Arc<SessionTimers>) {
    let mut tombstone_mark: Option<u64> = None;
    let mut next_reap = Instant::now() + TOMBSTONE_REAP_INTERVAL;
    let mut ticker = tokio::time::interval(TICK);
    loop {
        ticker.tick().await;
        if !node.is_leader() {
            timers.lock().clear();
            continue;
        }
        for id in timers.expired(&node) {
            tracing::info!(session = %id, "session TTL expired; invalidating it");
            timers.lock().remove(&id);
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
