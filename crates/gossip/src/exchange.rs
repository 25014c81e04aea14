//! TCP exchanges on the gossip port, one frame each way: the client that sends a request and
//! reads the answer, and the listener that answers hellos (through the actor) and keyring
//! requests (from the keyring). A frame that cannot be read — garbled, or not decryptable —
//! gets no answer: the connection is closed.

use crate::actor::Command;
use crate::cipher::CryptoError;
use crate::encryption::Envelope;
use crate::frame::{self, Frame, FrameError, Received, Refusal};
use crate::{join, key_query};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::timeout;

/// How long a client waits for the TCP connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one request-and-answer may take, on either side.
pub(crate) const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests answered at once; more connections are closed.
const MAX_CONCURRENT_REQUESTS: usize = 64;

/// Pause after a failed accept (out of file descriptors, say).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Why a request got no usable answer, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    #[error("connection timed out after {}s", CONNECT_TIMEOUT.as_secs())]
    ConnectTimeout,
    #[error("{}", describe(.0))]
    Connect(io::Error),
    #[error("no answer within {}s", EXCHANGE_TIMEOUT.as_secs())]
    NoAnswer,
    #[error(
        "the remote node closed the connection without answering: most likely it could not \
         decrypt our messages, or gossip encryption is on at one end only: check that \
         `encrypt` is the cluster's gossip key"
    )]
    Closed,
    #[error(
        "we could not decrypt the remote node's answer ({0}): check that `encrypt` is the \
         cluster's gossip key"
    )]
    Undecryptable(CryptoError),
    #[error("exchange failed: {0}")]
    Frame(FrameError),
}

impl From<FrameError> for ExchangeError {
    fn from(error: FrameError) -> ExchangeError {
        match error {
            FrameError::Io(io) if closed_early(&io) => ExchangeError::Closed,
            FrameError::Crypto(crypto) => ExchangeError::Undecryptable(crypto),
            other => ExchangeError::Frame(other),
        }
    }
}

/// The peer hung up instead of answering.
fn closed_early(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

/// Connection errors the way an operator reads them.
fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::TimedOut => "connection timed out".to_string(),
        io::ErrorKind::HostUnreachable => "host unreachable".to_string(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".to_string(),
        _ => error.to_string(),
    }
}

/// Sends `request` (an encoded frame) to `target` and reads its answer.
pub(crate) async fn request(
    target: SocketAddr,
    request: &[u8],
    envelope: &Envelope,
) -> Result<Frame, ExchangeError> {
    let mut stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Err(_elapsed) => return Err(ExchangeError::ConnectTimeout),
        Ok(connected) => connected.map_err(ExchangeError::Connect)?,
    };
    let exchange = async {
        frame::write(&mut stream, request).await?;
        frame::read(&mut stream, envelope).await
    };
    match timeout(EXCHANGE_TIMEOUT, exchange).await {
        Err(_elapsed) => Err(ExchangeError::NoAnswer),
        Ok(answer) => Ok(answer?.frame),
    }
}

/// Accepts connections until the task is aborted (which also ends those in progress).
pub(crate) async fn serve(
    listener: TcpListener,
    commands: mpsc::UnboundedSender<Command>,
    envelope: Envelope,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS));
    let mut answering = JoinSet::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "gossip TCP accept failed");
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        while answering.try_join_next().is_some() {}
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::debug!(%peer, "too many gossip TCP requests in progress; connection closed");
            continue;
        };
        let commands = commands.clone();
        let envelope = envelope.clone();
        answering.spawn(async move {
            let _permit = permit;
            if let Err(why) = answer(stream, &commands, &envelope).await {
                tracing::debug!(%peer, %why, "gossip TCP connection not answered");
            }
        });
    }
}

/// Reads one request, answers it, writes the answer.
async fn answer(
    mut stream: TcpStream,
    commands: &mpsc::UnboundedSender<Command>,
    envelope: &Envelope,
) -> Result<(), String> {
    let exchange = async {
        let received = frame::read(&mut stream, envelope)
            .await
            .map_err(|error| error.to_string())?;
        let reply = respond(received, commands, envelope).await?;
        let bytes = frame::encode(&reply, envelope).map_err(|error| error.to_string())?;
        frame::write(&mut stream, &bytes)
            .await
            .map_err(|error| error.to_string())
    };
    timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .map_err(|_elapsed| "timed out".to_string())?
}

async fn respond(
    received: Received,
    commands: &mpsc::UnboundedSender<Command>,
    envelope: &Envelope,
) -> Result<Frame, String> {
    match received.frame {
        Frame::Hello { from, roster } => join::welcome(commands, from, roster).await,
        Frame::KeyringRequest(op) => Ok(Frame::KeyringReply(
            key_query::answer(envelope, &op, received.sealed).await,
        )),
        _ => Ok(Frame::Refused(Refusal::Other(
            "expected a join hello or a keyring request".to_string(),
        ))),
    }
}
