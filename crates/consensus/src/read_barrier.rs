//! Shared read barriers for `?consistent` reads: callers that arrive while no barrier is in
//! flight start one; everyone who arrived before it started is answered by it. Each caller
//! still gets a barrier that began after its own arrival, so linearizability holds.

use crate::node::ConsensusError;
use crate::type_config::TypeConfig;
use openraft::Raft;
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<Result<(), ConsensusError>>;

/// Queues read-barrier requests for the coalescing task.
#[derive(Clone)]
pub struct ReadBarrier {
    queue: mpsc::UnboundedSender<Reply>,
}

impl ReadBarrier {
    /// Starts the coalescing task in front of `raft`.
    pub fn start(raft: Raft<TypeConfig>) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(serve_barriers(raft, waiting));
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

async fn serve_barriers(raft: Raft<TypeConfig>, mut waiting: mpsc::UnboundedReceiver<Reply>) {
    let mut callers = Vec::new();
    while waiting.recv_many(&mut callers, usize::MAX).await > 0 {
        let confirmed = raft.ensure_linearizable().await.is_ok();
        for caller in callers.drain(..) {
            let outcome = if confirmed {
                Ok(())
            } else {
                Err(ConsensusError::NoLeader)
            };
            let _caller_may_be_gone = caller.send(outcome);
        }
    }
}
