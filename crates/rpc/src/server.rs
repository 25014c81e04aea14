//! The server side: [`RpcServer`] accepts connections on the RPC port; each connection has a
//! reader (this module) that spawns every request's [`Handler`] call as its own task, and a
//! writer task that sends the answers in whatever order they complete.

use crate::frame::{Frame, FrameError, FrameReader, FrameType, HEADER_LEN};
use crate::writer::{write_frames, Outgoing};
use crate::{Kind, DEFAULT_MAX_FRAME};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::{JoinHandle, JoinSet};

/// How long to wait after a failed accept (e.g. out of file descriptors) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a farewell frame may take to write before the connection is dropped anyway.
const GOODBYE_GRACE: Duration = Duration::from_secs(1);

/// Answers requests. One handler serves every connection; each call runs as its own task, so a
/// call that parks (a blocking query) delays no other.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request; Err(text) travels back as [`crate::RpcError::Remote`]`(text)`.
    fn handle(&self, kind: Kind, payload: Bytes) -> BoxFuture<'static, Result<Bytes, String>>;
}

/// Limits a server applies to its connections.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The largest frame (header plus payload) accepted; a peer sending more is disconnected.
    pub max_frame: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

/// The RPC server. Run it with [`RpcServer::serve`] (usually inside `tokio::spawn`).
pub struct RpcServer;

impl RpcServer {
    /// Serves `listener` with `handler` until `shutdown` completes, with default options.
    ///
    /// On shutdown the listener is closed, every open connection is closed (calls in flight on
    /// them fail at their callers with `ConnectionLost`) and their handler tasks are cancelled;
    /// the returned future completes once all of that is done, so the port can be bound again.
    pub async fn serve(
        listener: TcpListener,
        handler: Arc<dyn Handler>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        Self::serve_with(listener, handler, ServerOptions::default(), shutdown).await;
    }

    /// [`RpcServer::serve`] with explicit options.
    pub async fn serve_with(
        listener: TcpListener,
        handler: Arc<dyn Handler>,
        options: ServerOptions,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let connection = serve_connection(stream, peer, handler.clone(), options.max_frame);
                        connections.spawn(connection);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "accepting an RPC connection failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        connections.shutdown().await;
    }
}

/// Aborts a task when dropped, so a connection's writer never outlives it.
struct AbortOnDrop(JoinHandle<std::io::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one accepted connection until the peer leaves, breaks the protocol, or the task is
/// aborted by shutdown.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<dyn Handler>,
    max_frame: usize,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "setting TCP_NODELAY failed");
    }
    let (read, write) = stream.into_split();
    let (tx, rx) = unbounded_channel();
    let mut writer = AbortOnDrop(tokio::spawn(write_frames(write, rx)));
    let reader = FrameReader::new(read, max_frame);
    match read_requests(reader, &tx, &handler).await {
        Ok(()) => tracing::debug!(%peer, "RPC peer closed its connection"),
        Err(FrameError::Io(error)) => tracing::debug!(%peer, %error, "RPC connection failed"),
        Err(violation) => {
            tracing::warn!(%peer, error = %violation, "closing RPC connection: protocol violation");
            say_goodbye(&tx, &violation.to_string(), &mut writer).await;
        }
    }
}

/// Queues a farewell frame and gives the writer a moment to send it before the connection drops.
async fn say_goodbye(tx: &UnboundedSender<Outgoing>, reason: &str, writer: &mut AbortOnDrop) {
    let _ = tx.send(Outgoing::Frame(Frame::goodbye(reason)));
    let _ = tx.send(Outgoing::Close);
    let _ = tokio::time::timeout(GOODBYE_GRACE, &mut writer.0).await;
}

/// Reads requests and dispatches each to its own handler task.
async fn read_requests(
    mut reader: FrameReader<OwnedReadHalf>,
    tx: &UnboundedSender<Outgoing>,
    handler: &Arc<dyn Handler>,
) -> Result<(), FrameError> {
    while let Some(frame) = reader.next().await? {
        if frame.frame_type != FrameType::Request {
            return Err(FrameError::Malformed(format!(
                "a server accepts only requests, got {:?}",
                frame.frame_type
            )));
        }
        dispatch(frame, handler.clone(), tx.clone(), reader.max_frame());
    }
    Ok(())
}

/// Runs one request's handler as its own task and queues its answer. The task is cancelled if the
/// connection closes first.
fn dispatch(
    request: Frame,
    handler: Arc<dyn Handler>,
    tx: UnboundedSender<Outgoing>,
    max_frame: usize,
) {
    tokio::spawn(async move {
        let call = AssertUnwindSafe(async { handler.handle(request.kind, request.payload).await });
        let outcome = tokio::select! {
            biased;
            outcome = call.catch_unwind() => outcome,
            _ = tx.closed() => return,
        };
        let answer = match outcome {
            Ok(answer) => answer,
            Err(_) => {
                tracing::error!(kind = request.kind, "RPC handler panicked");
                Err(format!("handler for RPC kind {} panicked", request.kind))
            }
        };
        let frame = response(request.stream, request.kind, answer, max_frame);
        let _ = tx.send(Outgoing::Frame(frame));
    });
}

/// The frame answering `stream`; an answer too large for one frame becomes an error answer.
fn response(stream: u64, kind: Kind, answer: Result<Bytes, String>, max_frame: usize) -> Frame {
    let (frame_type, payload) = match answer {
        Ok(payload) if HEADER_LEN + payload.len() > max_frame => {
            let text = format!(
                "answer of {} bytes exceeds the frame limit of {max_frame} bytes",
                payload.len()
            );
            tracing::warn!(kind, "{text}");
            (FrameType::ResponseError, Bytes::from(text.into_bytes()))
        }
        Ok(payload) => (FrameType::ResponseOk, payload),
        Err(text) => (FrameType::ResponseError, Bytes::from(text.into_bytes())),
    };
    Frame {
        frame_type,
        stream,
        kind,
        payload,
    }
}
