//! Watch topics and their subscribers: a blocking query subscribes to the topics its result
//! depends on, and applying a command notifies only the topics it touched.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

/// Something a query can depend on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// One KV key.
    Key(String),
    /// Every KV key under a prefix.
    KeyPrefix(String),
    /// The session table.
    Sessions,
    /// The node table.
    Nodes,
    /// The set of service names and their tags.
    Services,
    /// The health check table.
    Checks,
    /// One node: its record, services and checks.
    Node(String),
    /// One service name: its instances, their nodes and every check that bears on their health.
    Service(String),
    /// Autopilot's configuration.
    Autopilot,
    /// The coordinate table.
    Coordinates,
}

/// A change notification point shared by every subscriber of one topic.
pub type Signal = Arc<Notify>;

#[derive(Default)]
struct Subscribers {
    exact: HashMap<Topic, Weak<Notify>>,
    key_prefixes: BTreeMap<String, Weak<Notify>>,
    inserts_since_sweep: usize,
}

/// Topic subscriptions; cheap to share between the applier and every HTTP handler.
#[derive(Default)]
pub struct WatchRegistry {
    subscribers: Mutex<Subscribers>,
}

const SWEEP_EVERY: usize = 4096;

impl WatchRegistry {
    /// Returns the signal that fires when `topic` changes. Subscribers of one topic share it.
    pub fn subscribe(&self, topic: &Topic) -> Signal {
        let mut subscribers = self.lock();
        subscribers.inserts_since_sweep += 1;
        if subscribers.inserts_since_sweep >= SWEEP_EVERY {
            subscribers.sweep();
        }
        let slot = match topic {
            Topic::KeyPrefix(prefix) => subscribers.key_prefixes.entry(prefix.clone()).or_default(),
            other => subscribers.exact.entry(other.clone()).or_default(),
        };
        if let Some(signal) = slot.upgrade() {
            return signal;
        }
        let signal = Arc::new(Notify::new());
        *slot = Arc::downgrade(&signal);
        signal
    }

    /// Wakes every subscriber of the given changed topics (a changed key also wakes its prefixes).
    pub fn notify(&self, changed: &[Topic]) {
        if changed.is_empty() {
            return;
        }
        let subscribers = self.lock();
        for topic in changed {
            wake(subscribers.exact.get(topic));
            if let Topic::Key(key) = topic {
                if !subscribers.key_prefixes.is_empty() {
                    for end in prefix_ends(key) {
                        wake(subscribers.key_prefixes.get(&key[..end]));
                    }
                }
            }
        }
    }

    /// Wakes every subscriber of every topic (the whole state was replaced).
    pub fn notify_all(&self) {
        let subscribers = self.lock();
        let slots = subscribers
            .exact
            .values()
            .chain(subscribers.key_prefixes.values());
        for slot in slots {
            wake(Some(slot));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Subscribers {
    fn sweep(&mut self) {
        self.exact.retain(|_, slot| slot.strong_count() > 0);
        self.key_prefixes.retain(|_, slot| slot.strong_count() > 0);
        self.inserts_since_sweep = 0;
    }
}

fn wake(slot: Option<&Weak<Notify>>) {
    if let Some(signal) = slot.and_then(Weak::upgrade) {
        signal.notify_waiters();
    }
}

/// Every byte length at which `key` can be cut into a prefix (the empty prefix and the key itself included).
fn prefix_ends(key: &str) -> impl Iterator<Item = usize> + '_ {
    (0..=key.len()).filter(|end| key.is_char_boundary(*end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn key_change_wakes_exact_and_prefix_subscribers_only() {
        let registry = WatchRegistry::default();
        let exact = registry.subscribe(&Topic::Key("a/b".into()));
        let prefix = registry.subscribe(&Topic::KeyPrefix("a/".into()));
        let other = registry.subscribe(&Topic::Key("c".into()));
        let (exact_wait, prefix_wait, other_wait) =
            (exact.notified(), prefix.notified(), other.notified());
        tokio::pin!(exact_wait, prefix_wait, other_wait);
        exact_wait.as_mut().enable();
        prefix_wait.as_mut().enable();
        other_wait.as_mut().enable();
        registry.notify(&[Topic::Key("a/b".into())]);
        exact_wait.await;
        prefix_wait.await;
        let woke = tokio::time::timeout(std::time::Duration::from_millis(50), other_wait).await;
        assert!(woke.is_err(), "an unrelated key must not wake");
    }

    #[test]
    fn subscribers_of_one_topic_share_a_signal() {
        let registry = WatchRegistry::default();
        let first = registry.subscribe(&Topic::Sessions);
        let second = registry.subscribe(&Topic::Sessions);
        assert!(Arc::ptr_eq(&first, &second));
    }
}
