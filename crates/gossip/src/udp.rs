//! The UDP receive loop: every datagram that arrives is opened (with encryption on) and goes
//! to the actor's inbox — or, for a coordinate ping or ack, to the prober's. One that cannot
//! be opened, or finds its inbox full, is dropped with a debug log rather than stalling the
//! socket.

use crate::encryption::Envelope;
use crate::ping::Ping;
use crate::prober;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::{self, error::TrySendError};

/// How many datagrams may wait for the actor.
pub(crate) const INBOX: usize = 1024;

/// How many coordinate datagrams may wait for the prober.
pub(crate) const PING_INBOX: usize = 64;

/// Larger than any UDP payload, so oversize datagrams arrive whole and foca rejects them.
const RECEIVE_BUFFER: usize = 64 * 1024;

/// Pause after a receive error, so a broken socket cannot spin the loop.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Where opened datagrams go.
pub(crate) struct Inboxes {
    /// foca's, to the actor.
    pub(crate) swim: mpsc::Sender<Bytes>,
    /// Coordinate pings and acks, to the prober.
    pub(crate) pings: mpsc::Sender<prober::Received>,
}

/// Whether an inbox still takes datagrams.
enum Offered {
    Open,
    Closed,
}

pub(crate) async fn receive(socket: Arc<UdpSocket>, inboxes: Inboxes, envelope: Envelope) {
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    loop {
        match socket.recv_from(&mut buffer).await {
            Ok((length, from)) => {
                let received = buffer.get(..length).unwrap_or_default();
                let datagram = match envelope.open(received) {
                    Ok(opened) => Bytes::copy_from_slice(opened.bytes()),
                    Err(error) => {
                        tracing::debug!(%from, %error, length, "gossip datagram dropped");
                        continue;
                    }
                };
                if Ping::is_ping(&datagram) {
                    // A stopped prober only means no coordinates: foca's datagrams still count.
                    let _offered = offer(&inboxes.pings, (datagram, from), from);
                } else if let Offered::Closed = offer(&inboxes.swim, datagram, from) {
                    return;
                }
            }
            Err(error) => {
                tracing::debug!(%error, "gossip UDP receive failed");
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
}

fn offer<T>(inbox: &mpsc::Sender<T>, item: T, from: SocketAddr) -> Offered {
    match inbox.try_send(item) {
        Ok(()) => Offered::Open,
        Err(TrySendError::Full(_)) => {
            tracing::debug!(%from, "gossip inbox full; datagram dropped");
            Offered::Open
        }
        Err(TrySendError::Closed(_)) => Offered::Closed,
    }
}
