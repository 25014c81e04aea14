//! Blocking queries: read, and while the result's index is not past the client's `?index=`,
//! wait for a change to a watched topic (or the wait to run out) and read again.

use crate::context::Context;
use crate::error::ApiError;
use crate::query::{Consistency, QueryOptions};
use crate::reply;
use axum::response::Response;
use senate_state::{Tables, Topic};
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Runs a read of the state store under the query's consistency mode, blocking as asked.
/// `topics` are what the result depends on; `read` returns the result and its index.
pub async fn query_store<T>(
    context: &Context,
    options: &QueryOptions,
    topics: &[Topic],
    read: impl Fn(&Tables) -> (u64, T),
) -> Result<(u64, T), ApiError> {
    ensure_readable(context, options).await?;
    let store = context.store();
    let signals: Vec<_> = if options.min_index == 0 {
        Vec::new()
    } else {
        topics.iter().map(|topic| store.subscribe(topic)).collect()
    };
    let signal_refs: Vec<&Notify> = signals.iter().map(|s| s.as_ref()).collect();
    Ok(block_until_changed(options, &signal_refs, || read(&store.snapshot())).await)
}

/// Answers a blocking read with JSON rendered straight from one snapshot of the tables:
/// `render` returns the index and the value to serialize, borrowing from the tables.
pub async fn answer_json(
    context: &Context,
    options: &QueryOptions,
    topics: &[Topic],
    render: impl Fn(&Tables, bool) -> (u64, Vec<u8>),
) -> Result<Response, ApiError> {
    let (index, body) =
        query_store(context, options, topics, |t| render(t, options.pretty)).await?;
    Ok(reply::read_serialized(context, options, index, body))
}

/// Serializes a read's `(index, value)` result for [`answer_json`].
pub fn rendered<T: serde::Serialize>((index, value): (u64, T), pretty: bool) -> (u64, Vec<u8>) {
    (index, reply::json_bytes(&value, pretty))
}

/// Lets a read run under its consistency mode: `?stale` at once; a default read only while
/// this server leads under a lease a quorum renewed (waiting a bounded time for one); a
/// `?consistent` read once a quorum confirmed this leader and it applied all it committed.
pub async fn ensure_readable(context: &Context, options: &QueryOptions) -> Result<(), ApiError> {
    match options.consistency {
        Consistency::Stale => Ok(()),
        Consistency::Default => wait_for_lease(context).await,
        Consistency::Consistent => Ok(context.raft().read_barrier().await?),
    }
}

async fn wait_for_lease(context: &Context) -> Result<(), ApiError> {
    let raft = context.raft();
    if raft.holds_lease() {
        return Ok(());
    }
    let deadline = Instant::now() + raft.timing().hold_timeout();
    while Instant::now() < deadline {
        tokio::time::sleep(raft.timing().heartbeat).await;
        if raft.holds_lease() {
            return Ok(());
        }
    }
    Err(ApiError::internal("No cluster leader"))
}

/// Calls `read` until its index passes `options.min_index`, waiting on `signals` between calls,
/// until the wait (plus up to 1/16 of jitter, as Consul adds) runs out.
pub async fn block_until_changed<T>(
    options: &QueryOptions,
    signals: &[&Notify],
    mut read: impl FnMut() -> (u64, T),
) -> (u64, T) {
    if options.min_index == 0 {
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
