//! Rendered bodies of large reads, kept per query and index: when many clients poll (or are
//! woken for) the same service at the same index, the JSON is built once. A body is only ever
//! reused for the index it was rendered at, and an index moves whenever its data changes.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// The most bytes of rendered bodies kept at once.
const CAPACITY_BYTES: usize = 32 * 1024 * 1024;

/// Rendered bodies by query (path plus the parameters that shape the body).
#[derive(Default)]
pub struct ResponseCache {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    bodies: HashMap<String, (u64, Bytes)>,
    bytes: usize,
}

impl ResponseCache {
    /// The body of `query` at `index`, rendered by `render` unless a body for that index is kept.
    pub fn get_or_render(
        &self,
        query: &str,
        index: u64,
        render: impl FnOnce() -> Vec<u8>,
    ) -> Bytes {
        if let Some(body) = self.lookup(query, index) {
            return body;
        }
        let body = Bytes::from(render());
        self.keep(query, index, body.clone());
        body
    }

    fn lookup(&self, query: &str, index: u64) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.bodies.get(query) {
            Some((kept_index, body)) if *kept_index == index => Some(body.clone()),
            _ => None,
        }
    }

    fn keep(&self, query: &str, index: u64, body: Bytes) {
        if body.len() > CAPACITY_BYTES / 4 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, old)) = entries.bodies.remove(query) {
            entries.bytes -= old.len();
        }
        if entries.bytes + body.len() > CAPACITY_BYTES {
            entries.bodies.clear();
            entries.bytes = 0;
        }
        entries.bytes += body.len();
        entries.bodies.insert(query.to_string(), (index, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_a_body_only_at_its_index() {
        let cache = ResponseCache::default();
        let first = cache.get_or_render("/q", 5, || b"five".to_vec());
        let again = cache.get_or_render("/q", 5, || b"other".to_vec());
        let moved = cache.get_or_render("/q", 6, || b"six".to_vec());
        assert_eq!(
            (&first[..], &again[..], &moved[..]),
            (&b"five"[..], &b"five"[..], &b"six"[..])
        );
    }
}
