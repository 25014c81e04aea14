//! A server's Raft: opens its storage, starts openraft over the server RPC transport, and offers
//! what the layers above need — bootstrap a configuration, propose a command, pass a read
//! barrier, name the leader, and change the set of servers.

use crate::durable_log::{DurableLog, DurableLogError};
use crate::leadership::{LeaderView, Leadership};
use crate::log_store::LogStore;
use crate::network::{self, PeerContacts, PeerNetwork};
use crate::proposer::Proposer;
use crate::read_barrier::ReadBarrier;
use crate::recovery;
use crate::state_machine::StateMachine;
use crate::type_config::{raft_id, ServerNode, TypeConfig};
use bytes::Bytes;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, Config, Raft, ServerState, SnapshotPolicy};
use senate_rpc::{Kind, RpcClient};
use senate_state::{Command, Outcome, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How to start a server's Raft.
#[derive(Clone, Debug)]
pub struct RaftOptions {
    /// This server's node ID, node name and RPC address.
    pub server: ServerNode,
    /// Where the log and snapshots live; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Consul's `performance.raft_multiplier`: scales every Raft timing (1 is fastest).
    pub raft_multiplier: u32,
}

/// Why Raft could not start or could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    #[error("No cluster leader")]
    NoLeader,
    /// This server is not the leader; the leader, if one is known, is named.
    #[error("this server is not the Raft leader")]
    NotLeader { leader: Option<ServerNode> },
    #[error("timed out waiting for the Raft quorum")]
    Timeout,
    #[error("Raft storage: {0}")]
    Storage(String),
    /// `peers.json` could not be read or applied.
    #[error("outage recovery from {0}")]
    Recovery(String),
    #[error("Raft: {0}")]
    Raft(String),
    #[error(transparent)]
    DurableLog(#[from] DurableLogError),
}

impl ConsensusError {
    /// The same error, for another caller that shares its cause (a batch, a shared barrier).
    pub fn duplicate(&self) -> ConsensusError {
        match self {
            ConsensusError::NoLeader => ConsensusError::NoLeader,
            ConsensusError::NotLeader { leader } => ConsensusError::NotLeader {
                leader: leader.clone(),
            },
            ConsensusError::Timeout => ConsensusError::Timeout,
            ConsensusError::Storage(text) => ConsensusError::Storage(text.clone()),
            ConsensusError::Recovery(text) => ConsensusError::Recovery(text.clone()),
            other => ConsensusError::Raft(other.to_string()),
        }
    }
}

/// The timings every Raft duty derives from, scaled by `performance.raft_multiplier`.
#[derive(Clone, Copy, Debug)]
pub struct RaftTiming {
    pub heartbeat: Duration,
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
}

impl RaftTiming {
    /// Senate's base timings (multiplier 1) times `multiplier` (clamped to Consul's 1..=10).
    pub fn scaled(multiplier: u32) -> Self {
        let scale = multiplier.clamp(1, 10);
        RaftTiming {
            heartbeat: Duration::from_millis(100) * scale,
            election_timeout_min: Duration::from_millis(300) * scale,
            election_timeout_max: Duration::from_millis(600) * scale,
        }
    }

    /// How long a leader may answer reads from its own state after a quorum last acknowledged
    /// it. Shorter than the time followers refuse to elect anyone else after hearing from it,
    /// so no two servers can both hold a lease.
    pub fn leader_lease(&self) -> Duration {
        self.election_timeout_min
    }

    /// How long a write or a leader-only read waits for a leader before failing.
    pub fn hold_timeout(&self) -> Duration {
        self.election_timeout_max * 10
    }
}

/// A running Raft member and the store its state machine applies to.
pub struct RaftNode {
    raft: Raft<TypeConfig>,
    proposer: Proposer,
    read_barrier: ReadBarrier,
    leadership: Leadership,
    store: Arc<Store>,
    server: ServerNode,
    id: u64,
    timing: RaftTiming,
    contacts: PeerContacts,
    /// Set while a leadership transfer holds this leader's heartbeats back.
    heartbeats_paused: AtomicBool,
}

/// One server in the Raft configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftServer {
    /// The Raft ID.
    pub raft_id: u64,
    pub node: ServerNode,
    pub leader: bool,
    pub voter: bool,
    /// The last log index known to be on this server (on the leader's view), if known.
    pub last_index: Option<u64>,
    /// How long ago this server last answered this one's Raft messages (zero for this server
    /// itself; `None` if it never did).
    pub last_contact: Option<Duration>,
}

const SNAPSHOT_EVERY_ENTRIES: u64 = 8_192;
const LOG_ENTRIES_KEPT_AFTER_SNAPSHOT: u64 = 256;

impl RaftNode {
    /// Opens storage and starts Raft. A server with no Raft state waits to be bootstrapped
    /// ([`RaftNode::bootstrap`]) or added to a cluster by its leader.
    pub async fn start(
        options: RaftOptions,
        store: Arc<Store>,
        rpc: RpcClient,
    ) -> Result<Self, ConsensusError> {
        let (mut log_store, mut state_machine) = open_storage(&options, store.clone())?;
        if let Some(data_dir) = &options.data_dir {
            recover_if_asked(&data_dir.join("raft"), &mut log_store, &mut state_machine).await?;
        }
        let timing = RaftTiming::scaled(options.raft_multiplier);
        let id = raft_id(&options.server.id);
        let contacts = PeerContacts::default();
        let raft = Raft::new(
            id,
            raft_config(&timing)?,
            PeerNetwork::new(rpc, contacts.clone()),
            log_store,
            state_machine,
        )
        .await
        .map_err(raft_error)?;
        Ok(RaftNode {
            proposer: Proposer::start(raft.clone(), timing.hold_timeout()),
            read_barrier: ReadBarrier::start(raft.clone(), timing.hold_timeout()),
            leadership: Leadership::follow(&raft, timing.heartbeat),
            raft,
            store,
            server: options.server,
            id,
            timing,
            contacts,
            heartbeats_paused: AtomicBool::new(false),
        })
    }

    /// Whether this server already belongs to a Raft configuration (bootstrapped or joined).
    pub async fn is_initialized(&self) -> Result<bool, ConsensusError> {
        self.raft.is_initialized().await.map_err(raft_error)
    }

    /// Forms the first configuration from `servers` (all voters), unless this server already
    /// has one. Every server given the same list may call this: the result is one cluster.
    pub async fn bootstrap(&self, servers: &[ServerNode]) -> Result<(), ConsensusError> {
        if self.is_initialized().await? {
            return Ok(());
        }
        let members: BTreeMap<u64, ServerNode> = servers
            .iter()
            .map(|server| (raft_id(&server.id), server.clone()))
            .collect();
        self.raft.initialize(members).await.map_err(raft_error)
    }

    /// This server's identity in the Raft configuration.
    pub fn server(&self) -> &ServerNode {
        &self.server
    }

    /// This server's Raft ID.
    pub fn raft_id(&self) -> u64 {
        self.id
    }

    /// The timings this server runs with.
    pub fn timing(&self) -> RaftTiming {
        self.timing
    }

    /// The store the state machine applies to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Commits `command` through Raft (grouped with concurrent proposals) and returns what
    /// applying it produced. Fails with [`ConsensusError::NotLeader`] on a follower.
    pub async fn propose(&self, command: Command) -> Result<Outcome, ConsensusError> {
        // While leadership is being handed on, new entries would keep the followers' view of
        // this leader fresh (and the target behind): hold them until the transfer ends, then
        // they go to whoever leads.
        while self.heartbeats_paused() {
            tokio::time::sleep(self.timing.heartbeat).await;
        }
        self.proposer.propose(command).await
    }

    /// Returns once this server has confirmed it is leader and applied everything committed before the call.
    pub async fn read_barrier(&self) -> Result<(), ConsensusError> {
        self.read_barrier.pass().await
    }

    /// Waits until some server is leader, for up to `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<(), ConsensusError> {
        self.raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
            .map(|_| ())
            .map_err(|_| ConsensusError::NoLeader)
    }

    /// Who leads, as of the latest Raft metrics (lock-free).
    pub fn leadership(&self) -> Arc<LeaderView> {
        self.leadership.view()
    }

    /// Whether this server is the leader now.
    pub fn is_leader(&self) -> bool {
        self.leadership.view().is_leader
    }

    /// Whether this server leads and may answer a default-consistency read from its own state.
    pub fn holds_lease(&self) -> bool {
        self.leadership
            .view()
            .holds_lease(self.timing.leader_lease())
    }

    /// The leader's RPC address, if one is known.
    pub fn leader_address(&self) -> Option<String> {
        self.leadership.view().leader_address().map(str::to_string)
    }

    /// The servers in the current Raft configuration, and the log index of that configuration.
    pub fn servers(&self) -> (u64, Vec<RaftServer>) {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let matched = |id: &u64| -> Option<u64> {
            if *id == self.id {
                return metrics.last_log_index;
            }
            let replication = metrics.replication.as_ref()?;
            replication
                .get(id)
                .map(|log_id| log_id.map_or(0, |l| l.index))
        };
        let servers = membership
            .nodes()
            .map(|(id, node)| RaftServer {
                raft_id: *id,
                node: node.clone(),
                leader: metrics.current_leader == Some(*id),
                voter: voters.contains(id),
                last_index: matched(id),
                last_contact: match *id == self.id {
                    true => Some(Duration::ZERO),
                    false => self.contacts.since(*id),
                },
            })
            .collect();
        let index = metrics
            .membership_config
            .log_id()
            .map(|l| l.index)
            .unwrap_or(0);
        (index, servers)
    }

    /// Whether a membership change is still in flight (the latest configuration is not committed
    /// or is a joint one).
    pub fn membership_changing(&self) -> bool {
        let metrics = self.raft.metrics().borrow().clone();
        let config = metrics.membership_config.membership();
        config.get_joint_config().len() > 1
    }

    /// Adds `server` as a non-voter that the leader starts replicating to.
    pub async fn add_nonvoter(&self, server: &ServerNode) -> Result<(), ConsensusError> {
        self.raft
            .add_learner(raft_id(&server.id), server.clone(), false)
            .await
            .map(|_| ())
            .map_err(membership_error)
    }

    /// Makes the non-voter `id` a voter.
    pub async fn promote(&self, id: u64) -> Result<(), ConsensusError> {
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
            .await
    }

    /// Removes server `id` from the configuration, voter or not.
    pub async fn remove(&self, id: u64) -> Result<(), ConsensusError> {
        let (_, servers) = self.servers();
        let is_voter = servers.iter().any(|s| s.raft_id == id && s.voter);
        if is_voter {
            self.change(ChangeMembers::RemoveVoters(BTreeSet::from([id])))
                .await?;
        }
        self.change(ChangeMembers::RemoveNodes(BTreeSet::from([id])))
            .await
    }

    async fn change(&self, change: ChangeMembers<u64, ServerNode>) -> Result<(), ConsensusError> {
        self.raft
            .change_membership(change, false)
            .await
            .map(|_| ())
            .map_err(membership_error)
    }

    /// Stops (or resumes) this leader's heartbeats, so that a chosen follower can win an
    /// election for a leadership transfer.
    pub fn pause_heartbeats(&self, paused: bool) {
        self.heartbeats_paused.store(paused, Ordering::Release);
        self.raft.runtime_config().heartbeat(!paused);
    }

    /// Whether a leadership transfer is holding this leader's heartbeats back (its quorum's
    /// acknowledgements then age on purpose).
    pub fn heartbeats_paused(&self) -> bool {
        self.heartbeats_paused.load(Ordering::Acquire)
    }

    /// Allows or forbids this server to start elections of its own.
    pub fn allow_elections(&self, allowed: bool) {
        self.raft.runtime_config().elect(allowed);
    }

    /// Tries to become leader: starts an election at once, and again while no leader is
    /// known, until this server leads or `deadline` passes.
    pub async fn campaign(&self, deadline: Duration) -> Result<(), ConsensusError> {
        let give_up = tokio::time::Instant::now() + deadline;
        loop {
            if self.is_leader() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= give_up {
                return Err(ConsensusError::Timeout);
            }
            if self.raft.metrics().borrow().state != ServerState::Candidate {
                self.raft.trigger().elect().await.map_err(raft_error)?;
            }
            tokio::time::sleep(self.timing.heartbeat).await;
        }
    }

    /// Starts an election to step down: a leader that lost its quorum must stop acting as one.
    pub async fn step_down(&self) -> Result<(), ConsensusError> {
        self.raft.trigger().elect().await.map_err(raft_error)
    }

    /// Answers a peer's Raft RPC.
    pub async fn answer_peer(&self, kind: Kind, payload: &[u8]) -> Result<Bytes, String> {
        network::answer(&self.raft, kind, payload).await
    }

    /// Stops Raft.
    pub async fn shutdown(&self) {
        if let Err(error) = self.raft.shutdown().await {
            tracing::warn!(%error, "Raft did not shut down cleanly");
        }
    }
}

fn raft_error(error: impl std::fmt::Display) -> ConsensusError {
    ConsensusError::Raft(error.to_string())
}

fn membership_error(error: RaftError<u64, ClientWriteError<u64, ServerNode>>) -> ConsensusError {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
            ConsensusError::NotLeader {
                leader: forward.leader_node,
            }
        }
        other => raft_error(other),
    }
}

/// Applies `peers.json` when the operator left one, then deletes it.
async fn recover_if_asked(
    raft_dir: &std::path::Path,
    log_store: &mut LogStore,
    state_machine: &mut StateMachine,
) -> Result<(), ConsensusError> {
    let peers_file = raft_dir.join("peers.json");
    let Some(recovery) = recovery::read_peers(&peers_file)? else {
        return Ok(());
    };
    recovery::recover(recovery, log_store, state_machine).await?;
    std::fs::remove_file(&peers_file).map_err(|e| {
        ConsensusError::Recovery(format!(
            "removing {} after recovery: {e}",
            peers_file.display()
        ))
    })
}

fn open_storage(
    options: &RaftOptions,
    store: Arc<Store>,
) -> Result<(LogStore, StateMachine), ConsensusError> {
    let Some(data_dir) = &options.data_dir else {
        let machine =
            StateMachine::open(store, None).map_err(|e| ConsensusError::Storage(e.to_string()))?;
        return Ok((LogStore::in_memory(), machine));
    };
    let raft_dir = data_dir.join("raft");
    std::fs::create_dir_all(&raft_dir)
        .map_err(|e| ConsensusError::Storage(format!("creating {}: {e}", raft_dir.display())))?;
    let (durable, recovered) = DurableLog::open(&raft_dir.join("raft.redb"))?;
    let log_store = LogStore::durable(durable, recovered)
        .map_err(|e| ConsensusError::Storage(e.to_string()))?;
    let machine = StateMachine::open(store, Some(raft_dir.join("snapshot.bin")))
        .map_err(|e| ConsensusError::Storage(e.to_string()))?;
    Ok((log_store, machine))
}

fn raft_config(timing: &RaftTiming) -> Result<Arc<Config>, ConsensusError> {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let config = Config {
        cluster_name: "senate".into(),
        heartbeat_interval: millis(timing.heartbeat),
        election_timeout_min: millis(timing.election_timeout_min),
        election_timeout_max: millis(timing.election_timeout_max),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(SNAPSHOT_EVERY_ENTRIES),
        max_in_snapshot_log_to_keep: LOG_ENTRIES_KEPT_AFTER_SNAPSHOT,
        // A snapshot chunk (3 MiB) must survive a loaded machine; openraft's 200 ms does not.
        install_snapshot_timeout: millis(timing.election_timeout_max * 20),
        ..Config::default()
    };
    config
        .validate()
        .map(Arc::new)
        .map_err(|e| ConsensusError::Raft(e.to_string()))
}
