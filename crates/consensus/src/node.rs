//! A server's Raft: opens its storage, starts openraft, bootstraps a single-voter cluster, and
//! offers what the HTTP layer needs — propose a command, pass a read barrier, name the leader.

use crate::durable_log::{DurableLog, DurableLogError};
use crate::leadership::{LeaderView, Leadership};
use crate::log_store::LogStore;
use crate::network::PeerNetwork;
use crate::proposer::Proposer;
use crate::read_barrier::ReadBarrier;
use crate::state_machine::StateMachine;
use crate::type_config::TypeConfig;
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use senate_state::{Command, Outcome, Store};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How to start a server's Raft.
#[derive(Clone, Debug)]
pub struct RaftOptions {
    /// This server's Raft ID.
    pub node_id: u64,
    /// The address peers reach this server's Raft at (`ip:server_port`).
    pub address: String,
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
    #[error("Raft storage: {0}")]
    Storage(String),
    #[error("Raft: {0}")]
    Raft(String),
    #[error(transparent)]
    DurableLog(#[from] DurableLogError),
}

/// A running Raft member and the store its state machine applies to.
pub struct RaftNode {
    raft: Raft<TypeConfig>,
    proposer: Proposer,
    read_barrier: ReadBarrier,
    leadership: Leadership,
    store: Arc<Store>,
    options: RaftOptions,
}

/// One server in the Raft configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftServer {
    pub id: u64,
    pub address: String,
    pub leader: bool,
    pub voter: bool,
}

const SNAPSHOT_EVERY_ENTRIES: u64 = 8_192;
const LOG_ENTRIES_KEPT_AFTER_SNAPSHOT: u64 = 256;

impl RaftNode {
    /// Opens storage, starts Raft, and bootstraps a one-voter cluster on first start.
    pub async fn start(options: RaftOptions, store: Arc<Store>) -> Result<Self, ConsensusError> {
        let (log_store, state_machine) = open_storage(&options, store.clone())?;
        let config = raft_config(options.raft_multiplier)?;
        let raft = Raft::new(
            options.node_id,
            config,
            PeerNetwork,
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        let node = RaftNode {
            proposer: Proposer::start(raft.clone()),
            read_barrier: ReadBarrier::start(raft.clone()),
            leadership: Leadership::follow(&raft),
            raft,
            store,
            options,
        };
        node.bootstrap_if_new().await?;
        Ok(node)
    }

    async fn bootstrap_if_new(&self) -> Result<(), ConsensusError> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))?;
        if initialized {
            return self
                .raft
                .trigger()
                .elect()
                .await
                .map_err(|e| ConsensusError::Raft(e.to_string()));
        }
        let members =
            BTreeMap::from([(self.options.node_id, BasicNode::new(&self.options.address))]);
        self.raft
            .initialize(members)
            .await
            .map_err(|e| ConsensusError::Raft(e.to_string()))
    }

    /// The store the state machine applies to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Commits `command` through Raft (grouped with concurrent proposals) and returns what applying it produced.
    pub async fn propose(&self, command: Command) -> Result<Outcome, ConsensusError> {
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

    /// The leader's Raft address, if one is known.
    pub fn leader_address(&self) -> Option<String> {
        self.leadership.view().leader_address.clone()
    }

    /// The servers in the current Raft configuration.
    pub fn servers(&self) -> (u64, Vec<RaftServer>) {
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let voters: Vec<u64> = membership.voter_ids().collect();
        let servers = membership
            .nodes()
            .map(|(id, node)| RaftServer {
                id: *id,
                address: node.addr.clone(),
                leader: metrics.current_leader == Some(*id),
                voter: voters.contains(id),
            })
            .collect();
        let index = metrics
            .membership_config
            .log_id()
            .map(|l| l.index)
            .unwrap_or(0);
        (index, servers)
    }

    /// Stops Raft.
    pub async fn shutdown(&self) {
        if let Err(error) = self.raft.shutdown().await {
            tracing::warn!(%error, "Raft did not shut down cleanly");
        }
    }
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

fn raft_config(multiplier: u32) -> Result<Arc<Config>, ConsensusError> {
    let scale = u64::from(multiplier.clamp(1, 10));
    let config = Config {
        cluster_name: "senate".into(),
        heartbeat_interval: 50 * scale,
        election_timeout_min: 150 * scale,
        election_timeout_max: 300 * scale,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(SNAPSHOT_EVERY_ENTRIES),
        max_in_snapshot_log_to_keep: LOG_ENTRIES_KEPT_AFTER_SNAPSHOT,
        ..Config::default()
    };
    config
        .validate()
        .map(Arc::new)
        .map_err(|e| ConsensusError::Raft(e.to_string()))
}
