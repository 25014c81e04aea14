//! Network coordinates from round-trip times, as Serf measures them on its pings (foca's own
//! probes are internal, so these are separate): every probe interval the next live member, in
//! a shuffled round, gets a coordinate ping; an ack with its nonce from that member within the
//! probe timeout gives an RTT that refines this node's coordinate. Pings from others are
//! answered with this node's coordinate; any other ack is ignored.

use crate::coordinates::Coordinates;
use crate::encryption::Envelope;
use crate::member::MemberStatus;
use crate::ping::{Ping, Report};
use crate::shared::Shared;
use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use senate_coordinate::Coordinate;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A coordinate datagram as received: its opened bytes and where it came from.
pub(crate) type Received = (Bytes, SocketAddr);

/// The one ping awaiting its ack.
struct Pending {
    nonce: u64,
    peer: String,
    sent: Instant,
}

impl Pending {
    fn answered_by(&self, ack: &Report) -> bool {
        ack.nonce == self.nonce && ack.from == self.peer
    }
}

pub(crate) struct Prober {
    socket: Arc<UdpSocket>,
    envelope: Envelope,
    shared: Arc<Shared>,
    coordinates: Arc<Coordinates>,
    interval: Duration,
    timeout: Duration,
    rng: SmallRng,
    /// Ticks when the member list changes.
    changes: watch::Receiver<u64>,
    /// The live members but this node, by name (none once this node leaves).
    peers: HashMap<String, SocketAddr>,
    /// The members still to ping in this round.
    round: Vec<(String, SocketAddr)>,
    pending: Option<Pending>,
}

impl Prober {
    pub(crate) fn new(
        socket: Arc<UdpSocket>,
        envelope: Envelope,
        shared: Arc<Shared>,
        coordinates: Arc<Coordinates>,
        (interval, timeout): (Duration, Duration),
        seed: u64,
    ) -> Prober {
        let changes = shared.subscribe();
        Prober {
            socket,
            envelope,
            shared,
            coordinates,
            interval,
            timeout,
            rng: SmallRng::seed_from_u64(seed),
            changes,
            peers: HashMap::new(),
            round: Vec::new(),
            pending: None,
        }
    }

    /// Pings and answers until `inbox` closes (or the task is aborted).
    pub(crate) async fn run(mut self, mut inbox: mpsc::Receiver<Received>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.probe().await,
                received = inbox.recv() => match received {
                    Some((datagram, from)) => self.receive(&datagram, from).await,
                    None => return,
                },
            }
        }
    }

    async fn probe(&mut self) {
        self.refresh();
        self.pending = None;
        let Some((peer, addr)) = self.next_peer() else {
            return;
        };
        let nonce = self.rng.random();
        let ping = Ping::Request(self.report(nonce));
        self.pending = Some(Pending {
            nonce,
            peer,
            sent: Instant::now(),
        });
        self.send(&ping, addr).await;
    }

    /// Re-reads the live members after a change, and forgets the peers no longer listed.
    fn refresh(&mut self) {
        if !self.changes.has_changed().unwrap_or(false) {
            return;
        }
        self.changes.borrow_and_update();
        let members = self.shared.members();
        let local = self.shared.local_name();
        let alive_here = members
            .iter()
            .any(|m| m.name == local && m.status == MemberStatus::Alive);
        self.peers = members
            .iter()
            .filter(|m| alive_here && m.name != local && m.status == MemberStatus::Alive)
            .map(|m| (m.name.clone(), SocketAddr::new(m.addr, m.port)))
            .collect();
        self.round.clear();
        self.coordinates
            .retain(|name| members.iter().any(|m| m.name == name));
    }

    /// The next member of the round; a new shuffled round starts when one ends.
    fn next_peer(&mut self) -> Option<(String, SocketAddr)> {
        if self.round.is_empty() {
            self.round = self
                .peers
                .iter()
                .map(|(name, addr)| (name.clone(), *addr))
                .collect();
            self.round.shuffle(&mut self.rng);
        }
        self.round.pop()
    }

    fn report(&self, nonce: u64) -> Report {
        Report {
            nonce,
            from: self.shared.local_name().to_string(),
            coordinate: self.coordinates.current(),
        }
    }

    async fn receive(&mut self, datagram: &[u8], from: SocketAddr) {
        match Ping::decode(datagram) {
            Ok(Ping::Request(ping)) => {
                self.note(ping.from, ping.coordinate, from);
                let ack = Ping::Ack(self.report(ping.nonce));
                self.send(&ack, from).await;
            }
            Ok(Ping::Ack(ack)) => self.acknowledged(ack, from),
            Err(error) => tracing::debug!(%from, %error, "coordinate datagram dropped"),
        }
    }

    /// Keeps the coordinate a ping reported when it came from a live member's own address.
    fn note(&self, name: String, coordinate: Coordinate, from: SocketAddr) {
        if self.peers.get(&name) != Some(&from) {
            return;
        }
        if let Err(error) = self.coordinates.record(&name, coordinate) {
            tracing::debug!(peer = %name, %error, "unusable coordinate in a ping ignored");
        }
    }

    fn acknowledged(&mut self, ack: Report, from: SocketAddr) {
        let Some(pending) = self.pending.take_if(|pending| pending.answered_by(&ack)) else {
            tracing::debug!(%from, peer = %ack.from, "unexpected coordinate ack ignored");
            return;
        };
        let rtt = pending.sent.elapsed();
        if rtt > self.timeout {
            tracing::debug!(peer = %ack.from, ?rtt, "late coordinate ack ignored");
            return;
        }
        if let Err(error) = self.coordinates.observe(&ack.from, ack.coordinate, rtt) {
            tracing::debug!(peer = %ack.from, %error, "coordinate update rejected");
        }
    }

    async fn send(&self, ping: &Ping, to: SocketAddr) {
        if let Err(error) = self.try_send(ping, to).await {
            tracing::debug!(%error, %to, "coordinate ping not sent");
        }
    }

    async fn try_send(&self, ping: &Ping, to: SocketAddr) -> std::io::Result<()> {
        let bytes = ping.encode().map_err(std::io::Error::other)?;
        let sealed = self.envelope.seal(&bytes).map_err(std::io::Error::other)?;
        self.socket.send_to(&sealed, to).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use senate_coordinate::Config;

    fn report(nonce: u64, from: &str) -> Report {
        Report {
            nonce,
            from: from.to_string(),
            coordinate: Coordinate::new(&Config::default()),
        }
    }

    #[test]
    fn only_the_pinged_member_with_the_nonce_answers() {
        let pending = Pending {
            nonce: 7,
            peer: "b".into(),
            sent: Instant::now(),
        };
        assert!(pending.answered_by(&report(7, "b")));
        assert!(!pending.answered_by(&report(8, "b")));
        assert!(!pending.answered_by(&report(7, "c")));
    }
}
