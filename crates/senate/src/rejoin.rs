//! The member-list snapshot in the data directory (`serf/local.snapshot`), as Serf keeps one: the
//! addresses of the other live members, kept current, and whether this agent last left
//! gracefully. A restarted agent joins those members again — after a graceful leave only with
//! `-rejoin` (`rejoin_after_leave`), as in Consul.

use senate_agent::config::AgentConfig;
use senate_gossip::{Gossip, MemberStatus};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How many times a restarted agent tries the remembered members before giving up.
const REJOIN_ATTEMPTS: u32 = 10;

/// The snapshot file of one agent.
#[derive(Clone)]
pub struct MemberSnapshot {
    path: PathBuf,
    /// Set once the agent has left gracefully, so later member changes keep saying so.
    left: Arc<AtomicBool>,
}

/// What the file holds.
#[derive(Default, Serialize, Deserialize)]
struct Saved {
    /// Gossip addresses (`ip:port`) of the other live members.
    members: Vec<String>,
    /// Whether the agent left the cluster gracefully when it last stopped.
    left: bool,
}

impl MemberSnapshot {
    /// The snapshot of an agent with a data directory.
    pub fn of(config: &AgentConfig) -> Option<Self> {
        let dir = config.data_dir.as_ref()?;
        Some(MemberSnapshot {
            path: dir.join("serf").join("local.snapshot"),
            left: Arc::default(),
        })
    }

    fn load(&self) -> Option<Saved> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        match serde_json::from_str(&text) {
            Ok(saved) => Some(saved),
            Err(error) => {
                let file = self.path.display();
                tracing::warn!(%error, %file, "ignoring an unreadable member snapshot");
                None
            }
        }
    }

    fn save(&self, saved: &Saved) {
        let written = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let temporary = self.path.with_extension("tmp");
                std::fs::write(&temporary, serde_json::to_vec(saved).unwrap_or_default())?;
                std::fs::rename(&temporary, &self.path)
            });
        if let Err(error) = written {
            let file = self.path.display();
            tracing::warn!(%error, %file, "could not write the member snapshot");
        }
    }

    /// Joins the members of the last run in the background, unless the agent left then and
    /// `rejoin_after_leave` is off.
    pub fn rejoin(&self, gossip: &Gossip, rejoin_after_leave: bool) {
        let Some(saved) = self.load() else {
            return;
        };
        if saved.members.is_empty() {
            return;
        }
        if saved.left && !rejoin_after_leave {
            tracing::info!("left the cluster last time: not rejoining (start with -rejoin to)");
            return;
        }
        let gossip = gossip.clone();
        tokio::spawn(async move {
            let interval = std::time::Duration::from_secs(1);
            match senate_gossip::retry_join(&gossip, &saved.members, interval, REJOIN_ATTEMPTS)
                .await
            {
                Ok(joined) => tracing::info!(joined, "rejoined members of the last run"),
                Err(error) => tracing::warn!(%error, "could not rejoin members of the last run"),
            }
        });
    }

    /// Keeps the snapshot's member list current until the process ends; while the agent knows
    /// no other member (a restart that has not rejoined yet) the last list is kept.
    pub fn keep_current(&self, gossip: &Gossip) {
        let (snapshot, gossip) = (self.clone(), gossip.clone());
        tokio::spawn(async move {
            let mut changes = gossip.subscribe();
            loop {
                let members = other_live_members(&gossip);
                if !members.is_empty() && !snapshot.left.load(Ordering::Acquire) {
                    snapshot.save(&Saved {
                        members,
                        left: false,
                    });
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    /// Records that the agent left the cluster gracefully.
    pub fn record_leave(&self) {
        self.left.store(true, Ordering::Release);
        let members = self.load().map(|saved| saved.members).unwrap_or_default();
        self.save(&Saved {
            members,
            left: true,
        });
    }
}

fn other_live_members(gossip: &Gossip) -> Vec<String> {
    let me = gossip.local_member().name;
    gossip
        .members()
        .into_iter()
        .filter(|m| m.status == MemberStatus::Alive && m.name != me)
        .map(|m| std::net::SocketAddr::new(m.addr, m.port).to_string())
        .collect()
}
