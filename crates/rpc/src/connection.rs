//! One client connection to a peer: the table of calls in flight (keyed by stream id), the task
//! that reads responses and completes them, and the writer task that sends requests. When the
//! connection breaks, every call in flight fails at once.

use crate::frame::{Frame, FrameError, FrameReader, FrameType};
use crate::writer::{write_frames, Outgoing};
use crate::{ClientOptions, Kind, RpcError};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

type Reply = Result<Bytes, RpcError>;

/// How one call on a connection went.
pub enum Attempt {
    /// The request was sent; this is its outcome.
    Sent(Reply),
    /// The connection was already broken, so nothing was sent; a new connection may be tried.
    Broken(RpcError),
}

/// An open, multiplexed connection to one peer.
pub struct Connection {
    shared: Arc<Shared>,
    requests: UnboundedSender<Outgoing>,
    tasks: [AbortHandle; 2],
}

/// The part of a connection its reader task shares.
struct Shared {
    address: String,
    next_stream: AtomicU64,
    broken: AtomicBool,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    calls: HashMap<u64, oneshot::Sender<Reply>>,
    failure: Option<RpcError>,
}

impl Connection {
    /// Connects to `address` ("ip:port") within the connect timeout and starts its tasks.
    pub async fn open(address: &str, options: &ClientOptions) -> Result<Connection, RpcError> {
        let stream = connect(address, options).await?;
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(address, %error, "setting TCP_NODELAY failed");
        }
        let (read, write) = stream.into_split();
        let shared = Arc::new(Shared {
            address: address.to_string(),
            next_stream: AtomicU64::new(1),
            broken: AtomicBool::new(false),
            table: Mutex::new(Table::default()),
        });
        let (requests, queue) = unbounded_channel();
        let reader = FrameReader::new(read, options.max_frame);
        let reading = tokio::spawn(read_responses(reader, shared.clone()));
        let writer_shared = shared.clone();
        let writing = tokio::spawn(async move {
            if let Err(error) = write_frames(write, queue).await {
                tracing::debug!(address = %writer_shared.address, %error, "RPC write failed");
                writer_shared.fail(writer_shared.lost());
            }
        });
        Ok(Connection {
            shared,
            requests,
            tasks: [reading.abort_handle(), writing.abort_handle()],
        })
    }

    /// Whether the connection has failed and a new one is needed.
    pub fn is_broken(&self) -> bool {
        self.shared.broken.load(Ordering::Acquire)
    }

    /// How many calls are waiting for an answer on this connection.
    pub fn in_flight(&self) -> usize {
        self.shared.table().calls.len()
    }

    /// Sends one request and waits for its answer. If this future is dropped first, the call's
    /// entry is removed (the peer may still run the handler; its answer is then ignored).
    pub async fn call(&self, kind: Kind, payload: Bytes) -> Attempt {
        let stream = self.shared.next_stream.fetch_add(1, Ordering::Relaxed);
        let answer = match self.shared.register(stream) {
            Ok(answer) => answer,
            Err(failure) => return Attempt::Broken(failure),
        };
        let mut entry = Entry {
            shared: &self.shared,
            stream,
            armed: true,
        };
        let request = Frame {
            frame_type: FrameType::Request,
            stream,
            kind,
            payload,
        };
        if self.requests.send(Outgoing::Frame(request)).is_err() {
            // The writer is gone, so nothing was sent.
            return Attempt::Broken(self.shared.lost());
        }
        let reply = answer.await;
        // The reader removed the entry when it completed (or failed) the call.
        entry.armed = false;
        Attempt::Sent(reply.unwrap_or_else(|_| Err(self.shared.lost())))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Removes a call's entry from the table if its caller gives up before the answer.
struct Entry<'a> {
    shared: &'a Shared,
    stream: u64,
    armed: bool,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.table().calls.remove(&self.stream);
        }
    }
}

async fn connect(address: &str, options: &ClientOptions) -> Result<TcpStream, RpcError> {
    let unreachable = |reason: String| RpcError::Unreachable {
        address: address.to_string(),
        reason,
    };
    match tokio::time::timeout(options.connect_timeout, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(unreachable(error.to_string())),
        Err(_) => Err(unreachable(format!(
            "connect timed out after {:?}",
            options.connect_timeout
        ))),
    }
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lost(&self) -> RpcError {
        RpcError::ConnectionLost {
            address: self.address.clone(),
        }
    }

    /// Adds a call to the table, unless the connection has already failed.
    fn register(&self, stream: u64) -> Result<oneshot::Receiver<Reply>, RpcError> {
        let (sender, receiver) = oneshot::channel();
        let mut table = self.table();
        if let Some(failure) = &table.failure {
            return Err(failure.clone());
        }
        table.calls.insert(stream, sender);
        Ok(receiver)
    }

    /// Completes the call waiting on `stream`, if its caller is still there.
    fn complete(&self, stream: u64, reply: Reply) {
        let sender = self.table().calls.remove(&stream);
        match sender {
            Some(sender) => {
                let _ = sender.send(reply);
            }
            None => {
                tracing::trace!(address = %self.address, stream, "answer for an abandoned call")
            }
        }
    }

    /// Marks the connection failed and fails every call in flight with `failure`.
    fn fail(&self, failure: RpcError) {
        let calls = {
            let mut table = self.table();
            self.broken.store(true, Ordering::Release);
            if table.failure.is_none() {
                table.failure = Some(failure.clone());
            }
            std::mem::take(&mut table.calls)
        };
        for (_, sender) in calls {
            let _ = sender.send(Err(failure.clone()));
        }
    }

    /// Routes one frame from the peer; an error means the connection must close.
    fn deliver(&self, frame: Frame) -> Result<(), RpcError> {
        match frame.frame_type {
            FrameType::ResponseOk => self.complete(frame.stream, Ok(frame.payload)),
            FrameType::ResponseError => {
                let text = String::from_utf8_lossy(&frame.payload).into_owned();
                self.complete(frame.stream, Err(RpcError::Remote(text)));
            }
            FrameType::Goodbye => {
                let reason = String::from_utf8_lossy(&frame.payload).into_owned();
                tracing::warn!(address = %self.address, %reason, "RPC peer closed the connection");
                return Err(RpcError::Rejected {
                    address: self.address.clone(),
                    reason,
                });
            }
            FrameType::Request => {
                tracing::warn!(address = %self.address, "RPC server sent a request; closing");
                return Err(self.lost());
            }
        }
        Ok(())
    }

    /// What the calls in flight fail with when reading stopped with `error`.
    fn failure_from(&self, error: FrameError) -> RpcError {
        let address = self.address.clone();
        match error {
            FrameError::Version { theirs } => RpcError::VersionMismatch { address, theirs },
            FrameError::TooLarge { size, max } => RpcError::FrameTooLarge { address, size, max },
            FrameError::Io(error) => {
                tracing::debug!(%address, %error, "RPC connection failed");
                RpcError::ConnectionLost { address }
            }
            FrameError::Malformed(reason) => {
                tracing::warn!(%address, %reason, "malformed frame from RPC peer; closing");
                RpcError::ConnectionLost { address }
            }
        }
    }
}

/// Reads answers until the connection ends, then fails whatever is still in flight.
async fn read_responses(mut reader: FrameReader<OwnedReadHalf>, shared: Arc<Shared>) {
    let failure = loop {
        match reader.next().await {
            Ok(Some(frame)) => {
                if let Err(failure) = shared.deliver(frame) {
                    break failure;
                }
            }
            Ok(None) => break shared.lost(),
            Err(error) => break shared.failure_from(error),
        }
    };
    shared.fail(failure);
}
