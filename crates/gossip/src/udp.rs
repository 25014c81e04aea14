//! The UDP receive loop: every datagram that arrives is opened (with encryption on) and goes
//! to the actor's inbox. One that cannot be opened, or finds the inbox full, is dropped with
//! a debug log rather than stalling the socket.

use crate::encryption::Envelope;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::{self, error::TrySendError};

/// How many datagrams may wait for the actor.
pub(crate) const INBOX: usize = 1024;

/// Larger than any UDP payload, so oversize datagrams arrive whole and foca rejects them.
const RECEIVE_BUFFER: usize = 64 * 1024;

/// Pause after a receive error, so a broken socket cannot spin the loop.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

pub(crate) async fn receive(
    socket: Arc<UdpSocket>,
    inbox: mpsc::Sender<Bytes>,
    envelope: Envelope,
) {
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
                match inbox.try_send(datagram) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        tracing::debug!(%from, "gossip inbox full; datagram dropped");
                    }
                    Err(TrySendError::Closed(_)) => return,
                }
            }
            Err(error) => {
                tracing::debug!(%error, "gossip UDP receive failed");
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
}
