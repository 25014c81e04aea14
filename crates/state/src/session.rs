//! The session table: reads, creation with its checks validated, and invalidation, which
//! releases or deletes the keys a session holds.

use crate::command::Outcome;
use crate::tables::{Changes, Tables};
use crate::watch::Topic;
use senate_types::catalog::CheckStatus;
use senate_types::session::{Behavior, Session};

impl Tables {
    /// One session by ID, with the index a blocking query on it should see.
    pub fn session_get(&self, id: &str) -> (u64, Option<&Session>) {
        match self.sessions.get(id) {
            Some(session) => (session.modify_index, Some(session)),
            None => (Self::at_least_one(self.session_index), None),
        }
    }

    /// Every session.
    pub fn session_list(&self) -> (u64, Vec<&Session>) {
        (
            Self::at_least_one(self.session_index),
            self.sessions.values().collect(),
        )
    }

    /// The sessions belonging to one node.
    pub fn session_list_by_node(&self, node: &str) -> (u64, Vec<&Session>) {
        let sessions = self.sessions.values().filter(|s| s.node == node).collect();
        (Self::at_least_one(self.session_index), sessions)
    }

    /// Whether a session with this ID exists.
    pub fn session_exists(&self, id: &str) -> bool {
        self.sessions.contains_key(id)
    }

    pub(crate) fn apply_session_create(
        &mut self,
        index: u64,
        mut session: Session,
        changes: &mut Changes,
    ) -> Outcome {
        if let Err(reason) = self.validate_session_checks(&session) {
            return Outcome::Rejected(reason);
        }
        if self.sessions.contains_key(&session.id) {
            return Outcome::Rejected(format!("session \"{}\" already exists", session.id));
        }
        session.create_index = index;
        session.modify_index = index;
        self.sessions.insert(session.id.clone(), session);
        self.session_index = index;
        changes.touch(Topic::Sessions);
        Outcome::Done
    }

    fn validate_session_checks(&self, session: &Session) -> Result<(), String> {
        if !self.nodes.contains_key(&session.node) {
            return Err(format!(
                "Missing node registration for \"{}\"",
                session.node
            ));
        }
        let check_ids = session
            .node_checks
            .iter()
            .chain(session.service_checks.iter().map(|c| &c.id));
        for check_id in check_ids {
            match self.checks.get(&(session.node.clone(), check_id.clone())) {
                None => return Err(format!("Missing check '{check_id}' registration")),
                Some(check) if check.status == CheckStatus::Critical => {
                    return Err(format!("Check '{check_id}' is in critical state"))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    pub(crate) fn apply_session_destroy(
        &mut self,
        index: u64,
        id: &str,
        changes: &mut Changes,
    ) -> Outcome {
        self.invalidate_session(index, id, changes);
        Outcome::Done
    }

    /// Removes a session and frees its locks according to its behaviour; a no-op for an unknown ID.
    pub(crate) fn invalidate_session(&mut self, index: u64, id: &str, changes: &mut Changes) {
        let Some(session) = self.sessions.remove(id) else {
            return;
        };
        let held = self.session_locks.remove(id).unwrap_or_default();
        for key in held {
            match session.behavior {
                Behavior::Release => self.release_lock(index, &key, changes),
                Behavior::Delete => self.delete_key(index, &key, changes),
            }
            if session.lock_delay > 0 {
                changes.lock_delays.push((key, session.lock_delay()));
            }
        }
        self.session_index = index;
        changes.touch(Topic::Sessions);
    }

    fn release_lock(&mut self, index: u64, key: &str, changes: &mut Changes) {
        if let Some(entry) = self.kv.get_mut(key) {
            entry.session = None;
            entry.modify_index = index;
            self.kv_index = index;
            changes.touch(Topic::Key(key.to_string()));
        }
    }

    /// Invalidates every session that depends on the given check of the given node.
    pub(crate) fn invalidate_sessions_of_check(
        &mut self,
        index: u64,
        node: &str,
        check_id: &str,
        changes: &mut Changes,
    ) {
        let doomed: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.node == node)
            .filter(|s| {
                s.node_checks
                    .iter()
                    .chain(s.service_checks.iter().map(|c| &c.id))
                    .any(|c| c == check_id)
            })
            .map(|s| s.id.clone())
            .collect();
        for id in doomed {
            self.invalidate_session(index, &id, changes);
        }
    }
}
