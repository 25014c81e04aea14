//! The state the actor publishes and the handles read: the member list, the leave intents,
//! and the change counter subscribers watch.

use crate::intents::{self, Intent, Intents};
use crate::member::{Member, MemberStatus, Row};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;

/// Shared between the actor, foca's broadcast handler and every [`crate::Gossip`] clone.
pub(crate) struct Shared {
    local_name: String,
    state: Mutex<State>,
    changes: watch::Sender<u64>,
    /// Set when an intent arrived that the published list does not reflect yet.
    dirty: AtomicBool,
}

struct State {
    rows: BTreeMap<String, Row>,
    intents: Intents,
}

/// What `force_leave` found.
pub(crate) enum ForceLeave {
    /// No member has that name.
    Unknown,
    /// The member is alive (or is this node): nothing to do, as in Consul.
    Alive,
    /// Recorded locally; this intent is to be broadcast.
    Recorded(u64),
}

impl Shared {
    pub(crate) fn new(local: Row) -> Shared {
        let local_name = local.member.name.clone();
        let rows = BTreeMap::from([(local_name.clone(), local)]);
        Shared {
            local_name,
            state: Mutex::new(State {
                rows,
                intents: Intents::new(),
            }),
            changes: watch::channel(0).0,
            dirty: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn local_name(&self) -> &str {
        &self.local_name
    }

    pub(crate) fn is_local_name(&self, name: &str) -> bool {
        self.local_name == name
    }

    pub(crate) fn members(&self) -> Vec<Member> {
        self.lock()
            .rows
            .values()
            .map(|row| row.member.clone())
            .collect()
    }

    pub(crate) fn local_member(&self) -> Option<Member> {
        self.lock()
            .rows
            .get(&self.local_name)
            .map(|row| row.member.clone())
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn bump(&self) {
        self.changes
            .send_modify(|counter| *counter = counter.wrapping_add(1));
    }

    pub(crate) fn intents(&self) -> Intents {
        self.lock().intents.clone()
    }

    /// Records an intent received from the cluster; true when it was news.
    pub(crate) fn record_intent(&self, name: &str, intent: Intent) -> bool {
        let news = intents::record(&mut self.lock().intents, name, intent);
        if news {
            self.dirty.store(true, Ordering::Release);
        }
        news
    }

    pub(crate) fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::AcqRel)
    }

    /// Forgets intents about names `known` rejects (members foca has reaped).
    pub(crate) fn retain_intents(&self, known: impl Fn(&str) -> bool) {
        self.lock().intents.retain(|name, _| known(name));
    }

    /// Replaces the member list; subscribers hear of it when anything changed.
    pub(crate) fn publish(&self, rows: BTreeMap<String, Row>) {
        let changed = {
            let mut state = self.lock();
            let changed = state.rows != rows;
            if changed {
                state.rows = rows;
            }
            changed
        };
        if changed {
            self.bump();
        }
    }

    /// A force-leave: a failed or left member becomes Left (or, with prune, unlisted) at once.
    pub(crate) fn force_leave(&self, name: &str, prune: bool) -> ForceLeave {
        let outcome = {
            let mut state = self.lock();
            let Some(row) = state.rows.get(name) else {
                return ForceLeave::Unknown;
            };
            let generation = row.generation;
            let down = matches!(row.member.status, MemberStatus::Failed | MemberStatus::Left);
            if !down || name == self.local_name {
                return ForceLeave::Alive;
            }
            intents::record(&mut state.intents, name, Intent::new(generation, prune));
            if prune {
                state.rows.remove(name);
            } else if let Some(row) = state.rows.get_mut(name) {
                row.member.status = MemberStatus::Left;
            }
            ForceLeave::Recorded(generation)
        };
        self.bump();
        outcome
    }
}
