//! Rendered bodies of large reads, kept per query and index: when many clients poll (or are
//! woken for) the same service at the same index, the JSON is built once. A body is only ever
//! reused for the index it was rendered at, and an index moves whenever its data changes.

use crate::query::Query;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// The most bytes of rendered bodies kept at once.
const CAPACITY_BYTES: usize = 32 * 1024 * 1024;

/// Rendered bodies by query and rendering: a [`Query`] holds everything that shapes a body.
#[derive(Default)]
pub struct ResponseCache {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    bodies: HashMap<(Query, bool), (u64, Bytes)>,
    bytes: usize,
}

impl ResponseCache {
    /// The body of `query` (rendered pretty or not) at `index`, rendered by `render` unless a
    /// body for that index is kept.
    pub fn get_or_render(
        &self,
        query: &Query,
        pretty: bool,
        index: u64,
        render: impl FnOnce() -> Vec<u8>,
    ) -> Bytes {
        let key = (query.clone(), pretty);
        if let Some(body) = self.lookup(&key, index) {
            return body;
        }
        let body = Bytes::from(render());
        self.keep(key, index, body.clone());
        body
    }

    fn lookup(&self, key: &(Query, bool), index: u64) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.bodies.get(key) {
            Some((kept_index, body)) if *kept_index == index => Some(body.clone()),
            _ => None,
        }
    }

    fn keep(&self, key: (Query, bool), index: u64, body: Bytes) {
        if body.len() > CAPACITY_BYTES / 4 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, old)) = entries.bodies.remove(&key) {
            entries.bytes -= old.len();
        }
        if entries.bytes + body.len() > CAPACITY_BYTES {
            entries.bodies.clear();
            entries.bytes = 0;
        }
        entries.bytes += body.len();
        entries.bodies.insert(key, (index, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_a_body_only_at_its_index() {
        let cache = ResponseCache::default();
        let query = Query::Sessions;
        let first = cache.get_or_render(&query, false, 5, || b"five".to_vec());
        let again = cache.get_or_render(&query, false, 5, || b"other".to_vec());
        let pretty = cache.get_or_render(&query, true, 5, || b"pretty".to_vec());
        let moved = cache.get_or_render(&query, false, 6, || b"six".to_vec());
        assert_eq!(
            (&first[..], &again[..], &pretty[..], &moved[..]),
            (&b"five"[..], &b"five"[..], &b"pretty"[..], &b"six"[..])
        );
    }
}
