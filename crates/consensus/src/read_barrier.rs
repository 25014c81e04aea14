//! Shared read barriers for `?consistent` reads: callers that arrive while no barrier is in
//! flight start one; everyone who arrived before it started is answered by it. Each caller
//! still gets a barrier that began after its own arrival, so linearizability holds.

use crate::node::ConsensusError;
use crate::type_config::TypeConfig;
use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::Raft;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<Result<(), ConsensusError>>;

/// Queues read-barrier requests for the coalescing task.
#[derive(Clone)]
pub struct ReadBarrier {
    queue: mpsc::UnboundedSender<Reply>,
}

impl ReadBarrier {
    /// Starts the coalescing task in front of `raft`.
    pub fn start(raft: Raft<TypeConfig>, timeout: Duration) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(serve_barriers(raft, waiting, timeout));
        ReadBarrier { queue }
    }

    /// Returns once this server has confirmed its leadership and applied all it had committed.
    pub async fn pass(&self) -> Result<(), ConsensusError> {
        let (reply, passed) = oneshot::channel();
        self.queue
            .send(reply)
            .map_err(|_| ConsensusError::NoLeader)?;
        passed.await.map_err(|_| ConsensusError::NoLeader)?
    }
}

async fn serve_barriers(
    raft: Raft<TypeConfig>,
    mut waiting: mpsc::UnboundedReceiver<Reply>,
    timeout: Duration,
) {
    let mut callers = Vec::new();
    while waiting.recv_many(&mut callers, usize::MAX).await > 0 {
        let outcome = match tokio::time::timeout(timeout, raft.ensure_linearizable()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward)))) => {
                Err(ConsensusError::NotLeader {
                    leader: forward.leader_node,
                })
            }
            Ok(Err(_)) => Err(ConsensusError::NoLeader),
            Err(_) => Err(ConsensusError::Timeout),
        };
        for caller in callers.drain(..) {
            let answer = outcome
                .as_ref()
                .map(|_| ())
                .map_err(ConsensusError::duplicate);
            let _caller_may_be_gone = caller.send(answer);
        }
    }
}
