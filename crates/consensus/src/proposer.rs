//! Group commit for proposals: openraft appends and fsyncs one client write at a time, so
//! concurrent proposals are queued here and committed together as one [`Command::Batch`]
//! entry — one log append and one fsync for the whole group, each caller answered with its own
//! outcome. A write that the quorum does not commit within the hold timeout fails rather than hangs.

use crate::node::ConsensusError;
use crate::type_config::TypeConfig;
use openraft::error::{ClientWriteError, RaftError};
use openraft::Raft;
use senate_state::{Command, Outcome};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The most proposals folded into one log entry.
const MAX_BATCH: usize = 1024;

type Reply = oneshot::Sender<Result<Outcome, ConsensusError>>;

/// Queues proposals for the batching task.
#[derive(Clone)]
pub struct Proposer {
    queue: mpsc::UnboundedSender<(Command, Reply)>,
}

impl Proposer {
    /// Starts the batching task in front of `raft`.
    pub fn start(raft: Raft<TypeConfig>, hold_timeout: Duration) -> Self {
        let (queue, proposals) = mpsc::unbounded_channel();
        tokio::spawn(commit_in_batches(raft, proposals, hold_timeout));
        Proposer { queue }
    }

    /// Commits `command` (possibly together with others) and returns its own outcome.
    pub async fn propose(&self, command: Command) -> Result<Outcome, ConsensusError> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send((command, reply))
            .map_err(|_| ConsensusError::Raft("Raft has stopped".into()))?;
        outcome
            .await
            .map_err(|_| ConsensusError::Raft("Raft has stopped".into()))?
    }
}

async fn commit_in_batches(
    raft: Raft<TypeConfig>,
    mut proposals: mpsc::UnboundedReceiver<(Command, Reply)>,
    hold_timeout: Duration,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while proposals.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (commands, replies): (Vec<Command>, Vec<Reply>) = batch.drain(..).unzip();
        let entry = match <[Command; 1]>::try_from(commands) {
            Ok([single]) => single,
            Err(commands) => Command::Batch(commands),
        };
        let result = tokio::time::timeout(hold_timeout, write(&raft, entry))
            .await
            .unwrap_or(Err(ConsensusError::Timeout));
        answer(replies, result);
    }
}

async fn write(raft: &Raft<TypeConfig>, command: Command) -> Result<Outcome, ConsensusError> {
    match raft.client_write(command).await {
        Ok(response) => Ok(response.data),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
            Err(ConsensusError::NotLeader {
                leader: forward.leader_node,
            })
        }
        Err(other) => Err(ConsensusError::Raft(other.to_string())),
    }
}

/// Hands each caller its outcome: the single outcome, or its element of a batch's outcomes.
fn answer(replies: Vec<Reply>, result: Result<Outcome, ConsensusError>) {
    match (result, replies.len()) {
        (Ok(Outcome::Batch(outcomes)), count) if count > 1 && outcomes.len() == count => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _caller_may_be_gone = reply.send(Ok(outcome));
            }
        }
        (Ok(outcome), 1) => send_all(replies, || Ok(outcome.clone())),
        (Ok(_), _) => send_all(replies, || {
            Err(ConsensusError::Raft("batch outcome mismatch".into()))
        }),
        (Err(error), _) => send_all(replies, || Err(error.duplicate())),
    }
}

fn send_all(replies: Vec<Reply>, outcome: impl Fn() -> Result<Outcome, ConsensusError>) {
    for reply in replies {
        let _caller_may_be_gone = reply.send(outcome());
    }
}
