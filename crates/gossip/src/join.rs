//! The join exchange: the joiner's hello to a node and what it answered, and the contacted
//! node's side, which asks the actor to admit the joiner (or refuse a name conflict).

use crate::actor::Command;
use crate::encryption::Envelope;
use crate::exchange;
use crate::frame::{Frame, Refusal, Roster};
use crate::identity::NodeId;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// What a contacted node answered.
pub(crate) enum Contact {
    Welcome { from: NodeId, roster: Roster },
    Refused(Refusal),
}

/// Says `hello` (an encoded frame) to `target`; the error says why it failed, in words.
pub(crate) async fn contact(
    target: SocketAddr,
    hello: &[u8],
    envelope: &Envelope,
) -> Result<Contact, String> {
    match exchange::request(target, hello, envelope).await {
        Ok(Frame::Welcome { from, roster }) => Ok(Contact::Welcome { from, roster }),
        Ok(Frame::Refused(refusal)) => Ok(Contact::Refused(refusal)),
        Ok(_) => Err("answered the join hello with something else than a welcome".to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// The contacted node's answer to a joiner's hello, from the actor.
pub(crate) async fn welcome(
    commands: &mpsc::UnboundedSender<Command>,
    from: NodeId,
    roster: Roster,
) -> Result<Frame, String> {
    let (reply, answer) = oneshot::channel();
    let stopped = || "gossip is shutting down".to_string();
    commands
        .send(Command::Hello {
            from,
            roster,
            reply,
        })
        .map_err(|_| stopped())?;
    answer.await.map_err(|_| stopped())
}
