//! The client side: [`RpcClient`], a pool holding one multiplexed connection per peer address,
//! shared by every caller. Concurrent first calls to a peer share one connection attempt; a
//! broken connection is replaced by the next call.

use crate::connection::{Attempt, Connection};
use crate::frame::HEADER_LEN;
use crate::{Kind, RpcError, DEFAULT_MAX_FRAME};
use bytes::Bytes;
use futures::future::{BoxFuture, Shared};
use futures::FutureExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

/// How a client connects and what it accepts.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long a connection attempt may take before the peer counts as unreachable.
    pub connect_timeout: Duration,
    /// The largest frame (header plus payload) sent or accepted.
    pub max_frame: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(2),
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

/// A pool of connections to peers; cheap to clone, every clone shares the same connections.
#[derive(Clone)]
pub struct RpcClient {
    pool: Arc<Pool>,
}

type Connecting = Shared<BoxFuture<'static, Result<Arc<Connection>, RpcError>>>;

struct Pool {
    options: ClientOptions,
    peers: Mutex<HashMap<String, Peer>>,
    next_attempt: AtomicU64,
}

enum Peer {
    /// A connection attempt is under way; every caller waits on the same one.
    Connecting {
        attempt: u64,
        ready: Connecting,
    },
    Ready(Arc<Connection>),
}

impl RpcClient {
    pub fn new(options: ClientOptions) -> Self {
        RpcClient {
            pool: Arc::new(Pool {
                options,
                peers: Mutex::new(HashMap::new()),
                next_attempt: AtomicU64::new(0),
            }),
        }
    }

    /// Sends `payload` as a request of `kind` to `address` ("ip:port") and returns the answer.
    /// `timeout` bounds the whole call, connecting included.
    pub async fn call(
        &self,
        address: &str,
        kind: Kind,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, RpcError> {
        let size = HEADER_LEN + payload.len();
        let max = self.pool.options.max_frame;
        if size > max {
            let address = address.to_string();
            return Err(RpcError::FrameTooLarge { address, size, max });
        }
        match tokio::time::timeout(timeout, self.call_untimed(address, kind, payload)).await {
            Ok(reply) => reply,
            Err(_) => Err(RpcError::Timeout {
                address: address.to_string(),
                after: timeout,
            }),
        }
    }

    /// Drops the pooled connection to `address` (e.g. the peer was removed). Calls in flight on
    /// it finish or time out; the connection closes when the last of them is done.
    pub fn forget(&self, address: &str) {
        self.pool.peers().remove(address);
    }

    /// How many calls are waiting for an answer, over all pooled connections.
    pub fn in_flight(&self) -> usize {
        self.pool
            .peers()
            .values()
            .map(|peer| match peer {
                Peer::Ready(connection) => connection.in_flight(),
                Peer::Connecting { .. } => 0,
            })
            .sum()
    }

    /// One call; if the pooled connection turns out to be broken before anything was sent, it
    /// is replaced and the call tried once more.
    async fn call_untimed(
        &self,
        address: &str,
        kind: Kind,
        payload: Bytes,
    ) -> Result<Bytes, RpcError> {
        let connection = self.connection(address).await?;
        match connection.call(kind, payload.clone()).await {
            Attempt::Sent(reply) => return reply,
            Attempt::Broken(failure) => {
                tracing::debug!(address, %failure, "pooled RPC connection broken; reconnecting");
            }
        }
        let connection = self.connection(address).await?;
        match connection.call(kind, payload).await {
            Attempt::Sent(reply) => reply,
            Attempt::Broken(failure) => Err(failure),
        }
    }

    /// The pooled, unbroken connection to `address`, connecting (once, for every caller) if
    /// there is none.
    async fn connection(&self, address: &str) -> Result<Arc<Connection>, RpcError> {
        let ready = {
            let mut peers = self.pool.peers();
            match peers.get(address) {
                Some(Peer::Ready(connection)) if !connection.is_broken() => {
                    return Ok(connection.clone());
                }
                Some(Peer::Connecting { ready, .. }) => ready.clone(),
                _ => {
                    let attempt = self.pool.next_attempt.fetch_add(1, Ordering::Relaxed);
                    let ready = self.start_connecting(address, attempt);
                    let peer = Peer::Connecting {
                        attempt,
                        ready: ready.clone(),
                    };
                    peers.insert(address.to_string(), peer);
                    ready
                }
            }
        };
        ready.await
    }

    /// Connects in a task of its own, so the attempt completes (and lands in the pool) even if
    /// every caller waiting on it gives up.
    fn start_connecting(&self, address: &str, attempt: u64) -> Connecting {
        let pool = Arc::downgrade(&self.pool);
        let options = self.pool.options.clone();
        let target = address.to_string();
        let task = tokio::spawn(async move {
            let opened = Connection::open(&target, &options).await.map(Arc::new);
            settle(&pool, &target, attempt, &opened);
            opened
        });
        let address = address.to_string();
        let unreachable = move |error: tokio::task::JoinError| RpcError::Unreachable {
            address,
            reason: format!("connect task failed: {error}"),
        };
        task.map(move |joined| joined.unwrap_or_else(|error| Err(unreachable(error))))
            .boxed()
            .shared()
    }
}

/// Records the outcome of connection attempt `attempt`, unless the pool has moved on (the peer
/// was forgotten, or a newer attempt replaced it).
fn settle(
    pool: &Weak<Pool>,
    address: &str,
    attempt: u64,
    opened: &Result<Arc<Connection>, RpcError>,
) {
    let Some(pool) = pool.upgrade() else {
        return;
    };
    let mut peers = pool.peers();
    let current =
        matches!(peers.get(address), Some(Peer::Connecting { attempt: a, .. }) if *a == attempt);
    if !current {
        return;
    }
    match opened {
        Ok(connection) => {
            peers.insert(address.to_string(), Peer::Ready(connection.clone()));
        }
        Err(_) => {
            peers.remove(address);
        }
    }
}

impl Pool {
    fn peers(&self) -> MutexGuard<'_, HashMap<String, Peer>> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
