//! The TCP side of joining, on the gossip port: the client that says hello to a node, and
//! the listener that answers hellos through the actor (which may refuse a name conflict).

use crate::actor::Command;
use crate::frame::{self, JoinFrame, Refusal, Roster};
use crate::identity::NodeId;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio::time::timeout;

/// How long a join waits for the TCP connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one hello-and-answer exchange may take, on either side.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Hellos answered at once; more connections are closed.
const MAX_CONCURRENT_HELLOS: usize = 64;

/// Pause after a failed accept (out of file descriptors, say).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// What a contacted node answered.
pub(crate) enum Contact {
    Welcome { from: NodeId, roster: Roster },
    Refused(Refusal),
}

/// Says `hello` (an encoded frame) to `target`; the error says why it failed, in words.
pub(crate) async fn contact(target: SocketAddr, hello: &[u8]) -> Result<Contact, String> {
    let mut stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Err(_elapsed) => {
            return Err(format!(
                "connection timed out after {}s",
                CONNECT_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(error)) => return Err(describe(&error)),
        Ok(Ok(stream)) => stream,
    };
    let exchange = async {
        frame::write(&mut stream, hello).await?;
        frame::read(&mut stream).await
    };
    match timeout(EXCHANGE_TIMEOUT, exchange).await {
        Err(_elapsed) => Err(format!(
            "no answer to the join hello within {}s",
            EXCHANGE_TIMEOUT.as_secs()
        )),
        Ok(Err(error)) => Err(format!("join exchange failed: {error}")),
        Ok(Ok(JoinFrame::Welcome { from, roster })) => Ok(Contact::Welcome { from, roster }),
        Ok(Ok(JoinFrame::Refused(refusal))) => Ok(Contact::Refused(refusal)),
        Ok(Ok(JoinFrame::Hello { .. })) => Err("answered with a hello, not a welcome".to_string()),
    }
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

/// Accepts join connections until the task is aborted (which also ends those in progress).
pub(crate) async fn serve(listener: TcpListener, commands: mpsc::UnboundedSender<Command>) {
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_HELLOS));
    let mut answering = JoinSet::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "gossip join accept failed");
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
        };
        while answering.try_join_next().is_some() {}
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::debug!(%peer, "too many joins in progress; connection closed");
            continue;
        };
        let commands = commands.clone();
        answering.spawn(async move {
            let _permit = permit;
            if let Err(why) = answer(stream, &commands).await {
                tracing::debug!(%peer, %why, "join connection not answered");
            }
        });
    }
}

/// Reads one hello, asks the actor, writes its answer.
async fn answer(
    mut stream: TcpStream,
    commands: &mpsc::UnboundedSender<Command>,
) -> Result<(), String> {
    let exchange = async {
        let request = frame::read(&mut stream)
            .await
            .map_err(|error| error.to_string())?;
        let reply = match request {
            JoinFrame::Hello { from, roster } => ask_actor(commands, from, roster).await?,
            _ => JoinFrame::Refused(Refusal::Other("expected a join hello".to_string())),
        };
        let bytes = frame::encode(&reply).map_err(|error| error.to_string())?;
        frame::write(&mut stream, &bytes)
            .await
            .map_err(|error| error.to_string())
    };
    timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .map_err(|_elapsed| "timed out".to_string())?
}

async fn ask_actor(
    commands: &mpsc::UnboundedSender<Command>,
    from: NodeId,
    roster: Roster,
) -> Result<JoinFrame, String> {
    let (reply, answer) = oneshot::channel();
    let stopped = |_| "gossip is shutting down".to_string();
    commands
        .send(Command::Hello {
            from,
            roster,
            reply,
        })
        .map_err(|_| "gossip is shutting down".to_string())?;
    answer.await.map_err(stopped)
}
