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

/// Refuses reads that need a leader when there is none, and passes the read barrier for `?consistent`.
pub async fn ensure_readable(context: &Context, options: &QueryOptions) -> Result<(), ApiError> {
    match options.consistency {
        Consistency::Stale => Ok(()),
        Consistency::Default if context.raft.leader_address().is_some() => Ok(()),
        Consistency::Default => Err(ApiError::internal("No cluster leader")),
        Consistency::Consistent => Ok(context.raft.read_barrier().await?),
    }
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
