//! Runs a query against the local replica of the state, blocking as asked: while the answer's
//! index is not past the client's `?index=`, wait for a change to a watched topic (or for the
//! wait to run out) and read again.

use crate::cache::ResponseCache;
use crate::options::QueryOptions;
use crate::query::{Answer, Query};
use senate_state::Store;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Runs `query` against `store`'s latest version, blocking while its index has not passed
/// `options.min_index`.
pub async fn run_blocking(
    store: &Store,
    cache: &ResponseCache,
    query: &Query,
    options: &QueryOptions,
) -> Answer {
    let signals: Vec<_> = match options.blocks() {
        true => query.topics().iter().map(|t| store.subscribe(t)).collect(),
        false => Vec::new(),
    };
    let signal_refs: Vec<&Notify> = signals.iter().map(|s| s.as_ref()).collect();
    let read = || {
        let answer = query.run(&store.snapshot(), options.pretty, cache);
        (answer.index, answer)
    };
    block_until_changed(options, &signal_refs, read).await.1
}

/// Calls `read` until its index passes `options.min_index`, waiting on `signals` between calls,
/// until the wait (plus up to 1/16 of jitter, as Consul adds) runs out.
pub async fn block_until_changed<T>(
    options: &QueryOptions,
    signals: &[&Notify],
    mut read: impl FnMut() -> (u64, T),
) -> (u64, T) {
    if !options.blocks() {
        return read();
    }
    let deadline = Instant::now() + options.wait + jitter(options.wait);
    loop {
        // Read first: after a wake-up the index has usually moved, and answering at once spares
        // thousands of woken watchers from queueing on the signal again.
        let (index, value) = read();
        if index > options.min_index || signals.is_empty() {
            return (index, value);
        }
        drop(value);
        let mut waits: Vec<Pin<Box<Notified<'_>>>> =
            signals.iter().map(|s| Box::pin(s.notified())).collect();
        for wait in &mut waits {
            wait.as_mut().enable();
        }
        // Read again now that the signals are armed, so a change between the two is not missed.
        let (index, value) = read();
        if index > options.min_index {
            return (index, value);
        }
        drop(value);
        let changed = futures::future::select_all(waits);
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return read();
        }
    }
}

fn jitter(wait: Duration) -> Duration {
    wait.mul_f64(rand::random::<f64>() / 16.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use senate_state::command::KvWriteMode;
    use senate_state::Command;

    fn put(store: &Store, index: u64, key: &str, value: &'static [u8]) {
        let command = Command::KvPut {
            key: key.into(),
            value: Bytes::from_static(value),
            flags: 0,
            mode: KvWriteMode::Set,
        };
        store.apply_batch([(index, Some(command))]);
    }

    fn blocking_at(min_index: u64, wait: Duration) -> QueryOptions {
        QueryOptions {
            min_index,
            wait,
            ..QueryOptions::default()
        }
    }

    #[tokio::test]
    async fn answers_an_entry_as_json_raw_or_missing() {
        let store = Store::default();
        let cache = ResponseCache::default();
        put(&store, 3, "a/b", b"hello");
        let run = |query: Query| query.run(&store.snapshot(), false, &cache);
        let raw = run(Query::KvEntry {
            key: "a/b".into(),
            raw: true,
        });
        assert_eq!(raw, Answer::found(3, &b"hello"[..]));
        let json = run(Query::KvEntry {
            key: "a/b".into(),
            raw: false,
        });
        let body = String::from_utf8(json.body.unwrap().to_vec()).unwrap();
        assert!(
            body.starts_with(r#"[{"#) && body.contains(r#""Key":"a/b""#),
            "{body}"
        );
        let missing = run(Query::KvEntry {
            key: "a/c".into(),
            raw: false,
        });
        assert_eq!(missing.body, None);
    }

    #[tokio::test]
    async fn keys_under_an_empty_prefix_are_never_missing() {
        let store = Store::default();
        let cache = ResponseCache::default();
        let keys = |prefix: &str| {
            let query = Query::KvKeys {
                prefix: prefix.into(),
                separator: String::new(),
            };
            query.run(&store.snapshot(), false, &cache).body
        };
        assert_eq!(keys(""), Some(Bytes::from_static(b"[]")));
        assert_eq!(keys("nothing/"), None);
    }

    #[tokio::test]
    async fn a_blocking_query_wakes_for_its_key_only() {
        let store = std::sync::Arc::new(Store::default());
        let cache = std::sync::Arc::new(ResponseCache::default());
        put(&store, 5, "watched", b"v1");
        let query = Query::KvEntry {
            key: "watched".into(),
            raw: true,
        };
        let options = blocking_at(5, Duration::from_secs(30));
        let waiter = {
            let (store, cache, query) = (store.clone(), cache.clone(), query.clone());
            tokio::spawn(async move { run_blocking(&store, &cache, &query, &options).await })
        };
        let settle = || tokio::time::sleep(Duration::from_millis(20));
        settle().await;
        put(&store, 6, "other", b"x");
        settle().await;
        assert!(!waiter.is_finished(), "woke for a key it does not watch");
        put(&store, 7, "watched", b"v2");
        let answer = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the write to the watched key woke the query")
            .unwrap();
        assert_eq!(answer, Answer::found(7, &b"v2"[..]));
    }

    #[tokio::test]
    async fn a_blocking_query_answers_when_its_wait_runs_out() {
        let store = Store::default();
        let cache = ResponseCache::default();
        put(&store, 9, "k", b"v");
        let query = Query::KvEntry {
            key: "k".into(),
            raw: true,
        };
        let options = blocking_at(9, Duration::from_millis(50));
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            run_blocking(&store, &cache, &query, &options),
        )
        .await
        .expect("the wait ran out");
        assert_eq!(answer.index, 9);
    }
}
