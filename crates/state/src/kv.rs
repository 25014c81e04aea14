//! The KV table: reads with their blocking-query index, and the writes KV commands make.

use crate::command::{KvDeleteMode, KvWriteMode, Outcome};
use crate::tables::{with_prefix, Changes, Tables};
use crate::watch::Topic;
use bytes::Bytes;
use senate_types::kv::KvEntry;

impl Tables {
    /// One key, with the index a blocking query on it should see.
    pub fn kv_get(&self, key: &str) -> (u64, Option<&KvEntry>) {
        match self.kv.get(key) {
            Some(entry) => (entry.modify_index, Some(entry)),
            None => (self.missing_kv_index(key), None),
        }
    }

    /// Every entry under `prefix`, with the highest index among them and the prefix's deletions.
    pub fn kv_list<'a>(&'a self, prefix: &'a str) -> (u64, Vec<&'a KvEntry>) {
        let entries: Vec<&KvEntry> = with_prefix(&self.kv, prefix).map(|(_, e)| e).collect();
        (self.prefix_index(prefix, &entries), entries)
    }

    /// Keys under `prefix`, each cut after the first `separator` that follows the prefix.
    pub fn kv_keys(&self, prefix: &str, separator: &str) -> (u64, Vec<String>) {
        let (index, entries) = self.kv_list(prefix);
        let mut keys: Vec<String> = Vec::with_capacity(entries.len());
        for entry in entries {
            let key = cut_after_separator(&entry.key, prefix.len(), separator);
            if keys.last().map(String::as_str) != Some(key) {
                keys.push(key.to_string());
            }
        }
        (index, keys)
    }

    fn prefix_index(&self, prefix: &str, entries: &[&KvEntry]) -> u64 {
        let live = entries.iter().map(|e| e.modify_index).max();
        let deleted = with_prefix(&self.tombstones, prefix).map(|(_, i)| *i).max();
        match live.max(deleted) {
            Some(index) => index,
            None => Self::at_least_one(self.kv_index),
        }
    }

    fn missing_kv_index(&self, key: &str) -> u64 {
        match self.tombstones.get(key) {
            Some(index) => *index,
            None => Self::at_least_one(self.kv_index),
        }
    }

    pub(crate) fn apply_kv_put(
        &mut self,
        index: u64,
        key: String,
        value: Bytes,
        flags: u64,
        mode: KvWriteMode,
        changes: &mut Changes,
    ) -> Outcome {
        let existing = self.kv.get(&key);
        let (session, lock_index) = match &mode {
            KvWriteMode::Set => (
                existing.and_then(|e| e.session.clone()),
                lock_index_of(existing),
            ),
            KvWriteMode::Cas(expected) => {
                let current = existing.map(|e| e.modify_index).unwrap_or(0);
                if current != *expected {
                    return Outcome::Applied(false);
                }
                (
                    existing.and_then(|e| e.session.clone()),
                    lock_index_of(existing),
                )
            }
            KvWriteMode::Acquire(session) => {
                if !self.sessions.contains_key(session) {
                    return Outcome::Rejected(format!("invalid session \"{session}\""));
                }
                match existing.and_then(|e| e.session.as_ref()) {
                    Some(holder) if holder == session => {
                        (Some(session.clone()), lock_index_of(existing))
                    }
                    Some(_) => return Outcome::Applied(false),
                    None => (Some(session.clone()), lock_index_of(existing) + 1),
                }
            }
            KvWriteMode::Release(session) => {
                if existing.and_then(|e| e.session.as_ref()) != Some(session) {
                    return Outcome::Applied(false);
                }
                (None, lock_index_of(existing))
            }
        };
        let create_index = existing.map(|e| e.create_index).unwrap_or(index);
        let previous_holder = existing.and_then(|e| e.session.clone());
        self.track_lock(&key, previous_holder.as_deref(), session.as_deref());
        let entry = KvEntry {
            key: key.clone(),
            value,
            flags,
            session,
            lock_index,
            create_index,
            modify_index: index,
        };
        self.kv.insert(key.clone(), entry);
        self.tombstones.remove(&key);
        self.kv_index = index;
        changes.touch(Topic::Key(key));
        Outcome::Applied(true)
    }

    pub(crate) fn apply_kv_delete(
        &mut self,
        index: u64,
        key: String,
        mode: KvDeleteMode,
        changes: &mut Changes,
    ) -> Outcome {
        match mode {
            KvDeleteMode::Key => {
                self.delete_key(index, &key, changes);
                Outcome::Applied(true)
            }
            KvDeleteMode::Cas(expected) => match self.kv.get(&key) {
                None => Outcome::Applied(true),
                Some(entry) if entry.modify_index != expected => Outcome::Applied(false),
                Some(_) => {
                    self.delete_key(index, &key, changes);
                    Outcome::Applied(true)
                }
            },
            KvDeleteMode::Tree => {
                let doomed: Vec<String> = with_prefix(&self.kv, &key)
                    .map(|(k, _)| k.clone())
                    .collect();
                for doomed_key in doomed {
                    self.delete_key(index, &doomed_key, changes);
                }
                Outcome::Applied(true)
            }
        }
    }

    /// Removes one key, leaving a tombstone; a no-op for a missing key.
    pub(crate) fn delete_key(&mut self, index: u64, key: &str, changes: &mut Changes) {
        let Some(entry) = self.kv.remove(key) else {
            return;
        };
        self.track_lock(key, entry.session.as_deref(), None);
        self.tombstones.insert(key.to_string(), index);
        self.kv_index = index;
        changes.touch(Topic::Key(key.to_string()));
    }

    /// Keeps the session → held keys index in step with a key's lock holder.
    fn track_lock(&mut self, key: &str, before: Option<&str>, after: Option<&str>) {
        if before == after {
            return;
        }
        if let Some(old) = before {
            if let Some(keys) = self.session_locks.get_mut(old) {
                keys.remove(key);
            }
        }
        if let Some(new) = after {
            self.session_locks
                .entry(new.to_string())
                .or_default()
                .insert(key.to_string());
        }
    }

    pub(crate) fn apply_reap_tombstones(&mut self, up_to: u64) -> Outcome {
        self.tombstones = self
            .tombstones
            .iter()
            .filter(|(_, deleted_at)| **deleted_at > up_to)
            .map(|(key, deleted_at)| (key.clone(), *deleted_at))
            .collect();
        Outcome::Done
    }
}

fn lock_index_of(entry: Option<&KvEntry>) -> u64 {
    entry.map(|e| e.lock_index).unwrap_or(0)
}

fn cut_after_separator<'a>(key: &'a str, prefix_len: usize, separator: &str) -> &'a str {
    if separator.is_empty() {
        return key;
    }
    match key[prefix_len..].find(separator) {
        Some(at) => &key[..prefix_len + at + separator.len()],
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(tables: &mut Tables, index: u64, key: &str, mode: KvWriteMode) -> Outcome {
        let mut changes = Changes::default();
        tables.apply_kv_put(
            index,
            key.into(),
            Bytes::from_static(b"v"),
            0,
            mode,
            &mut changes,
        )
    }

    #[test]
    fn cas_zero_creates_only_once() {
        let mut tables = Tables::default();
        assert_eq!(
            put(&mut tables, 5, "a", KvWriteMode::Cas(0)),
            Outcome::Applied(true)
        );
        assert_eq!(
            put(&mut tables, 6, "a", KvWriteMode::Cas(0)),
            Outcome::Applied(false)
        );
        assert_eq!(
            put(&mut tables, 7, "a", KvWriteMode::Cas(5)),
            Outcome::Applied(true)
        );
        let (index, entry) = tables.kv_get("a");
        assert_eq!(index, 7);
        assert_eq!(entry.map(|e| e.create_index), Some(5));
    }

    #[test]
    fn keys_are_cut_at_the_separator() {
        let mut tables = Tables::default();
        for (i, key) in ["web/bar", "web/foo", "web/sub/a", "web/sub/b"]
            .iter()
            .enumerate()
        {
            put(&mut tables, i as u64 + 1, key, KvWriteMode::Set);
        }
        let (_, keys) = tables.kv_keys("web/", "/");
        assert_eq!(keys, vec!["web/bar", "web/foo", "web/sub/"]);
    }

    #[test]
    fn deletes_keep_the_prefix_index_moving_forward() {
        let mut tables = Tables::default();
        put(&mut tables, 3, "p/a", KvWriteMode::Set);
        put(&mut tables, 4, "p/b", KvWriteMode::Set);
        let mut changes = Changes::default();
        tables.apply_kv_delete(9, "p/b".into(), KvDeleteMode::Key, &mut changes);
        assert_eq!(tables.kv_list("p/").0, 9);
        assert_eq!(tables.kv_get("p/b").0, 9);
    }
}
