//! Reads through the seam: a [`Query`] runs here when its consistency mode lets this server
//! answer (a `?stale` read within `max_stale`, or any read on the leader), else it goes to the
//! leader as data and blocks there. Session renewal, decided on the leader, travels the same way.

use crate::error::ClusterError;
use crate::server::ClusterServer;
use crate::wire::{ForwardedRead, SessionRenewal, READ, RENEW_SESSION};
use senate_query::{run_blocking, Answer, Consistency, Query, QueryOptions};
use senate_types::duration;
use senate_types::session::Session;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// A read's answer and what the answering server knew of its leader, for Consul's
/// `X-Consul-KnownLeader` and `X-Consul-LastContact`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadReply {
    pub answer: Answer,
    pub known_leader: bool,
    pub last_contact: Duration,
}

/// A session as the leader renewed it (`None`: no such session), at the session table's index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Renewed {
    pub index: u64,
    pub session: Option<Session>,
}

impl ClusterServer {
    /// Answers `query` under `options`: here when allowed, else on the leader.
    pub async fn read(
        &self,
        query: &Query,
        options: &QueryOptions,
    ) -> Result<ReadReply, ClusterError> {
        if self.answers_stale_here(options) {
            return self.read_here(query, options).await;
        }
        let timeout = options.longest_wait() + self.raft().timing().hold_timeout() * 2;
        let forwarded = ForwardedRead {
            query: query.clone(),
            options: options.clone(),
        };
        self.on_leader(
            || self.read_here(query, options),
            |leader| {
                let forwarded = &forwarded;
                async move { self.call_leader(&leader, READ, forwarded, timeout).await }
            },
        )
        .await
    }

    /// Whether a `?stale` read may be answered here: always, unless `max_stale` is given and
    /// this server last heard from the leader longer ago than that.
    fn answers_stale_here(&self, options: &QueryOptions) -> bool {
        if options.consistency != Consistency::Stale {
            return false;
        }
        let since_contact = self.leadership().since_last_contact();
        options
            .max_stale
            .is_none_or(|max_stale| since_contact <= max_stale)
    }

    /// Runs `query` on this server's replica once its consistency mode allows.
    pub(crate) async fn read_here(
        &self,
        query: &Query,
        options: &QueryOptions,
    ) -> Result<ReadReply, ClusterError> {
        self.ensure_readable(options.consistency).await?;
        let answer = run_blocking(self.store(), &self.responses, query, options).await;
        let view = self.leadership();
        Ok(ReadReply {
            answer,
            known_leader: view.leader.is_some(),
            last_contact: view.since_last_contact(),
        })
    }

    /// Lets a read run under its consistency mode: `?stale` at once; a default read only while
    /// this server leads under a lease a quorum renewed (waiting a bounded time for one); a
    /// `?consistent` read once a quorum confirmed this leader and it applied all it committed.
    pub async fn ensure_readable(&self, consistency: Consistency) -> Result<(), ClusterError> {
        match consistency {
            Consistency::Stale => Ok(()),
            Consistency::Default => self.wait_for_lease().await,
            Consistency::Consistent => Ok(self.raft().read_barrier().await?),
        }
    }

    async fn wait_for_lease(&self) -> Result<(), ClusterError> {
        let raft = self.raft();
        let deadline = Instant::now() + raft.timing().hold_timeout();
        while !raft.holds_lease() {
            if Instant::now() >= deadline {
                return Err(ClusterError::NoLeader);
            }
            tokio::time::sleep(raft.timing().heartbeat).await;
        }
        Ok(())
    }

    /// Renews session `id` on the leader, which restarts its TTL timer.
    pub async fn renew_session(&self, id: &str) -> Result<Renewed, ClusterError> {
        let timeout = self.raft().timing().hold_timeout();
        let renewal = SessionRenewal { id: id.to_string() };
        self.on_leader(
            || async { Ok(self.renew_here(id)) },
            |leader| {
                let renewal = &renewal;
                async move {
                    self.call_leader(&leader, RENEW_SESSION, renewal, timeout)
                        .await
                }
            },
        )
        .await
    }

    /// Renews session `id` on this server, the leader.
    pub(crate) fn renew_here(&self, id: &str) -> Renewed {
        let tables = self.store().snapshot();
        let (index, session) = tables.session_get(id);
        if let Some(ttl) = session.and_then(|s| duration::parse(&s.ttl).ok()) {
            if !ttl.is_zero() {
                self.session_timers.reset(id, ttl);
            }
        }
        Renewed {
            index,
            session: session.cloned(),
        }
    }
}
