//! The UDP receive loop: every datagram that arrives goes to the actor's inbox, and is
//! dropped (with a debug log) when the inbox is full rather than stalling the socket.

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

pub(crate) async fn receive(socket: Arc<UdpSocket>, inbox: mpsc::Sender<Bytes>) {
    let mut buffer = vec![0u8; RECEIVE_BUFFER];
    loop {
        match socket.recv_from(&mut buffer).await {
            Ok((length, from)) => {
                let datagram = Bytes::copy_from_slice(buffer.get(..length).unwrap_or_default());
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
