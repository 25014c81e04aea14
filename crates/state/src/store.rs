//! The state store: publishes each applied version of the tables for lock-free reads, applies
//! batches of commands, wakes the watches they touched, and keeps the leader-local lock delays.

use crate::command::{Command, Outcome};
use crate::tables::{Changes, Tables};
use crate::watch::{Signal, Topic, WatchRegistry};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The replicated tables plus their watches. One writer (the Raft state machine), many readers.
#[derive(Default)]
pub struct Store {
    current: ArcSwap<Tables>,
    watches: WatchRegistry,
    /// Keys that refuse new locks until the given instant (not replicated, as in Consul).
    lock_delays: Mutex<HashMap<String, Instant>>,
}

impl Store {
    /// The latest applied version of the tables; it never changes under the caller.
    pub fn snapshot(&self) -> Arc<Tables> {
        self.current.load_full()
    }

    /// The signal that fires when `topic` changes.
    pub fn subscribe(&self, topic: &Topic) -> Signal {
        self.watches.subscribe(topic)
    }

    /// Applies entries in log order as one new version; `None` marks an entry with no command
    /// (a blank or membership entry), which only advances the applied index.
    pub fn apply_batch(
        &self,
        entries: impl IntoIterator<Item = (u64, Option<Command>)>,
    ) -> Vec<Outcome> {
        let mut tables = Tables::clone(&self.current.load());
        let mut changes = Changes::default();
        let outcomes = entries
            .into_iter()
            .map(|(index, command)| {
                tables.applied_index = index;
                match command {
                    Some(command) => tables.apply(index, command, &mut changes),
                    None => Outcome::Done,
                }
            })
            .collect();
        self.current.store(Arc::new(tables));
        self.record_lock_delays(&changes.lock_delays);
        self.watches.notify(&changes.topics);
        outcomes
    }

    /// Replaces every table (a snapshot was installed) and wakes every watcher.
    pub fn restore(&self, tables: Tables) {
        self.current.store(Arc::new(tables));
        self.watches.notify_all();
    }

    /// How long `key` still refuses new locks, if a lock delay is in force.
    pub fn lock_delay_remaining(&self, key: &str) -> Option<Duration> {
        let delays = self.lock_delays.lock().unwrap_or_else(|p| p.into_inner());
        delays
            .get(key)
            .and_then(|until| until.checked_duration_since(Instant::now()))
    }

    fn record_lock_delays(&self, released: &[(String, Duration)]) {
        if released.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut delays = self.lock_delays.lock().unwrap_or_else(|p| p.into_inner());
        delays.retain(|_, until| *until > now);
        for (key, delay) in released {
            delays.insert(key.clone(), now + *delay);
        }
    }
}

impl Tables {
    /// Applies one command at `index`.
    pub(crate) fn apply(&mut self, index: u64, command: Command, changes: &mut Changes) -> Outcome {
        match command {
            Command::KvPut {
                key,
                value,
                flags,
                mode,
            } => self.apply_kv_put(index, key, value, flags, mode, changes),
            Command::KvDelete { key, mode } => self.apply_kv_delete(index, key, mode, changes),
            Command::SessionCreate(session) => self.apply_session_create(index, session, changes),
            Command::SessionDestroy { id } => self.apply_session_destroy(index, &id, changes),
            Command::Register(registration) => self.apply_register(index, registration, changes),
            Command::Deregister(deregistration) => {
                self.apply_deregister(index, deregistration, changes)
            }
            Command::ReapTombstones { up_to } => self.apply_reap_tombstones(up_to),
            Command::AutopilotSetConfig { config, cas } => {
                self.apply_autopilot_config(index, config, cas, changes)
            }
            Command::CoordinateUpdate(updates) => {
                self.apply_coordinate_updates(index, updates, changes)
            }
            Command::Batch(commands) => Outcome::Batch(
                commands
                    .into_iter()
                    .map(|command| self.apply(index, command, changes))
                    .collect(),
            ),
        }
    }
}
