//! The public gossip handle: starts the sockets, the actor and the coordinate prober, and
//! offers join, the member list and its change counter, tags, leave, force-leave, keyring
//! operations, user events, network coordinates and shutdown.

use crate::actor::{Actor, Command, Inbox};
use crate::address;
use crate::codec::{broadcast_room, options};
use crate::config::{advertised, GossipConfig};
use crate::coordinates::Coordinates;
use crate::encryption::Envelope;
use crate::error::GossipError;
use crate::event::{DeliveredEvent, UserEventMessage};
use crate::events::EventLog;
use crate::exchange;
use crate::frame::{self, Refusal};
use crate::identity::{NodeId, Tags};
use crate::intents::LeaveIntent;
use crate::join::{self, Contact};
use crate::key_query::{self, KeyringReport};
use crate::keyring::KeyringOp;
use crate::member::{Member, MemberStatus, Row};
use crate::prober::Prober;
use crate::push_pull;
use crate::shared::{ForceLeave, Shared};
use crate::udp::{self, Inboxes};
use bincode::Options;
use senate_coordinate::Coordinate;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// The most bytes a node's tags may take encoded (memberlist's meta limit).
pub const MAX_TAGS_SIZE: usize = 512;

/// The longest node name gossip carries, in bytes.
pub const MAX_NODE_NAME: usize = 128;

/// With port 0, how many times to look for a port free for both UDP and TCP.
const BIND_ATTEMPTS: u32 = 16;

/// Extra gossip rounds after a leave, so the news reaches beyond the first few members.
const LEAVE_REGOSSIP_ROUNDS: u32 = 2;

/// A running gossip member; clones share it. It stops when `shutdown` or `leave` is called,
/// or when the last clone is dropped.
#[derive(Clone)]
pub struct Gossip {
    inner: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    events: Arc<EventLog>,
    coordinates: Arc<Coordinates>,
    commands: mpsc::UnboundedSender<Command>,
    envelope: Envelope,
    local_address: SocketAddr,
    gossip_interval: Duration,
    initial: Member,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // The last handle is gone: nobody can stop the actor any more, so stop it now.
        let _already_stopped = self.commands.send(Command::Shutdown { reply: None });
    }
}

/// How one join address went.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Joined,
    Conflict { name: String, existing: SocketAddr },
    Failed(String),
}

impl Gossip {
    /// Binds UDP and TCP on `config.bind` and starts gossiping (alone, until a join).
    pub async fn start(config: GossipConfig) -> Result<Gossip, GossipError> {
        config.timing.validate()?;
        check_name(&config.node_name)?;
        check_tags(&config.tags)?;
        let envelope = Envelope::start(config.encryption.as_ref())?;
        let (udp_socket, listener) = bind(config.bind).await?;
        let bound = udp_socket.local_addr()?;
        let local_address = advertised(config.advertise, bound);
        let identity = NodeId::new(&config.node_name, local_address, config.tags);
        let initial = Member::from_id(&identity, MemberStatus::Alive);
        let identity_seed = identity.generation;
        let shared = Arc::new(Shared::new(Row::new(&identity, MemberStatus::Alive)));
        let events = Arc::new(EventLog::new());
        let coordinates =
            Arc::new(Coordinates::new().map_err(|error| GossipError::Config(error.to_string()))?);
        let socket = Arc::new(udp_socket);
        let (commands, command_inbox) = mpsc::unbounded_channel();
        let (datagrams, datagram_inbox) = mpsc::channel(udp::INBOX);
        let (pings, ping_inbox) = mpsc::channel(udp::PING_INBOX);
        let prober = Prober::new(
            Arc::clone(&socket),
            envelope.clone(),
            Arc::clone(&shared),
            Arc::clone(&coordinates),
            (config.timing.probe_interval, config.timing.probe_timeout),
            !identity.generation,
        );
        let inboxes = Inboxes {
            swim: datagrams,
            pings,
        };
        let helpers = vec![
            tokio::spawn(udp::receive(Arc::clone(&socket), inboxes, envelope.clone())),
            tokio::spawn(exchange::serve(
                listener,
                commands.clone(),
                envelope.clone(),
            )),
            tokio::spawn(prober.run(ping_inbox)),
        ];
        let inbox = Inbox {
            commands: command_inbox,
            datagrams: datagram_inbox,
        };
        let actor = Actor::new(
            identity,
            config.timing.clone(),
            socket,
            envelope.clone(),
            Arc::clone(&shared),
            Arc::clone(&events),
        );
        tokio::spawn(async move {
            if let Some(reply) = actor.run(inbox, helpers).await {
                let _caller_gone = reply.send(());
            }
        });
        tracing::info!(node = %config.node_name, %bound, advertise = %local_address, "gossip started");
        let gossip = Gossip {
            inner: Arc::new(Handle {
                shared,
                events,
                coordinates,
                commands,
                envelope,
                local_address,
                gossip_interval: config.timing.gossip_interval,
                initial,
            }),
        };
        let seed = identity_seed ^ u64::from(local_address.port());
        tokio::spawn(push_pull::run(gossip.downgrade(), config.timing, seed));
        Ok(gossip)
    }

    /// A handle that does not keep gossip running.
    pub(crate) fn downgrade(&self) -> WeakGossip {
        WeakGossip(Arc::downgrade(&self.inner))
    }

    /// Every live member, this node included, by name and gossip address.
    fn alive_members(&self) -> Vec<(String, SocketAddr)> {
        self.members()
            .into_iter()
            .filter(|member| member.status == MemberStatus::Alive)
            .map(|member| (member.name, SocketAddr::new(member.addr, member.port)))
            .collect()
    }

    /// Every other live member, by name and gossip address.
    pub(crate) fn alive_peers(&self) -> Vec<(String, SocketAddr)> {
        let mut peers = self.alive_members();
        peers.retain(|(name, _)| !self.inner.shared.is_local_name(name));
        peers
    }

    /// One push-pull with `peer`: the join exchange, each side absorbing the other's roster.
    pub(crate) async fn push_pull(&self, peer: SocketAddr) -> Result<(), String> {
        let hello = self.own_hello().await.map_err(|error| error.to_string())?;
        match join::contact(peer, &hello, &self.inner.envelope).await? {
            Contact::Welcome { from, roster } => self
                .ask(|reply| Command::Joined {
                    remote: from,
                    roster,
                    reply,
                })
                .await
                .map_err(|error| error.to_string()),
            Contact::Refused(Refusal::NameConflict { name, existing }) => Err(format!(
                "refused: {name} is held by the member at {existing}"
            )),
            Contact::Refused(Refusal::Other(why)) => Err(format!("refused: {why}")),
        }
    }

    /// The address other members reach this node at.
    pub fn local_address(&self) -> SocketAddr {
        self.inner.local_address
    }

    /// Joins the cluster through each address ("host", "host:port", "[v6]:port"; port 8301
    /// by default). Returns how many were joined; fails, naming every address and why, when
    /// none was — with [`GossipError::NameConflict`] when a node refused this node's name.
    pub async fn join(&self, addresses: &[String]) -> Result<usize, GossipError> {
        if addresses.is_empty() {
            return Err(GossipError::Join("no addresses to join".to_string()));
        }
        let hello = self.own_hello().await?;
        let attempts = addresses
            .iter()
            .map(|address| self.join_one(address, &hello));
        let outcomes = futures::future::join_all(attempts).await;
        summarize(addresses, &outcomes, self.local_address())
    }

    async fn own_hello(&self) -> Result<Vec<u8>, GossipError> {
        let hello = self.ask(|reply| Command::OwnHello { reply }).await?;
        frame::encode(&hello, &self.inner.envelope)
            .map_err(|error| GossipError::Join(format!("cannot encode the join hello: {error}")))
    }

    async fn join_one(&self, address: &str, hello: &[u8]) -> Outcome {
        let targets = match address::resolve(address).await {
            Ok(targets) => targets,
            Err(why) => return Outcome::Failed(why),
        };
        let mut failures = Vec::new();
        for target in &targets {
            match join::contact(*target, hello, &self.inner.envelope).await {
                Ok(Contact::Welcome { from, roster }) => {
                    let remote = from;
                    return match self
                        .ask(|reply| Command::Joined {
                            remote,
                            roster,
                            reply,
                        })
                        .await
                    {
                        Ok(()) => Outcome::Joined,
                        Err(error) => Outcome::Failed(error.to_string()),
                    };
                }
                Ok(Contact::Refused(Refusal::NameConflict { name, existing })) => {
                    return Outcome::Conflict { name, existing }
                }
                Ok(Contact::Refused(Refusal::Other(why))) => {
                    failures.push((*target, format!("refused: {why}")))
                }
                Err(why) => failures.push((*target, why)),
            }
        }
        Outcome::Failed(describe_failures(address, &failures))
    }

    /// Every known member, this node included, failed and left ones too (until reaped or
    /// pruned), sorted by name.
    pub fn members(&self) -> Vec<Member> {
        self.inner.shared.members()
    }

    /// This node as the cluster sees it.
    pub fn local_member(&self) -> Member {
        self.inner
            .shared
            .local_member()
            .unwrap_or_else(|| self.inner.initial.clone())
    }

    /// A counter that goes up on every change to [`Gossip::members`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.shared.subscribe()
    }

    /// Re-announces this node with new tags.
    pub async fn set_tags(&self, tags: BTreeMap<String, String>) -> Result<(), GossipError> {
        check_tags(&tags)?;
        self.ask(|reply| Command::SetTags { tags, reply }).await?
    }

    /// Leaves gracefully: the others list this node as Left within a gossip round or two;
    /// then it stops answering and shuts down.
    pub async fn leave(&self) -> Result<(), GossipError> {
        self.ask(|reply| Command::Leave { reply }).await??;
        for _ in 0..LEAVE_REGOSSIP_ROUNDS {
            tokio::time::sleep(self.inner.gossip_interval).await;
            if self.inner.commands.send(Command::Regossip).is_err() {
                break;
            }
        }
        self.shutdown().await;
        Ok(())
    }

    /// Marks a failed member Left, cluster-wide (with `prune`, forgets it entirely). A live
    /// member is left alone, as in Consul; an unknown name is [`GossipError::UnknownMember`].
    pub fn force_leave(&self, node_name: &str, prune: bool) -> Result<(), GossipError> {
        match self.inner.shared.force_leave(node_name, prune) {
            ForceLeave::Unknown => Err(GossipError::UnknownMember(node_name.to_string())),
            ForceLeave::Alive => Ok(()),
            ForceLeave::Recorded(generation) => {
                let leave = LeaveIntent {
                    name: node_name.to_string(),
                    generation,
                    prune,
                };
                // Once shut down there is no one to tell; the local list has changed already.
                let _stopped = self.inner.commands.send(Command::Broadcast { leave });
                Ok(())
            }
        }
    }

    /// Fires a user event to every live member, this node included (Consul's
    /// `/v1/event/fire`), and returns the Lamport time it was given. Gossip carries it once
    /// through the pool; each node delivers it once to [`Gossip::subscribe_events`], filters
    /// untouched. An event larger than a datagram can carry next to this node's header is
    /// [`GossipError::EventTooLarge`]; after a leave or shutdown, [`GossipError::Shutdown`].
    pub fn fire_event(&self, event: UserEventMessage) -> Result<u64, GossipError> {
        let local = self.local_member();
        if local.status != MemberStatus::Alive {
            return Err(GossipError::Shutdown);
        }
        let src = NodeId::new(
            &local.name,
            SocketAddr::new(local.addr, local.port),
            local.tags,
        );
        let (ltime, event) = self.inner.events.stamp(&event, broadcast_room(&src))?;
        self.inner
            .commands
            .send(Command::FireEvent { event })
            .map_err(|_| GossipError::Shutdown)?;
        Ok(ltime)
    }

    /// Every user event this node delivers from now on — its own included — once each, in
    /// the order they arrive. A subscriber that falls far behind misses the oldest ones (the
    /// receiver reports how many as `Lagged`).
    pub fn subscribe_events(&self) -> broadcast::Receiver<DeliveredEvent> {
        self.inner.events.subscribe()
    }

    /// This node's network coordinate, as gossip round-trip times have refined it.
    pub fn coordinate(&self) -> Coordinate {
        self.inner.coordinates.current()
    }

    /// The coordinate each peer last reported, by node name (members no longer listed are
    /// forgotten).
    pub fn peer_coordinates(&self) -> BTreeMap<String, Coordinate> {
        self.inner.coordinates.peers()
    }

    /// Whether gossip is encrypted on this node.
    pub fn encryption_enabled(&self) -> bool {
        self.inner.envelope.encryption().is_some()
    }

    /// Runs a keyring operation (Consul's `/v1/operator/keyring`) on every live member, this
    /// node included, or with `local_only` on this node alone. Without encryption it is
    /// [`GossipError::KeyringDisabled`]; a malformed key is refused before anything is sent.
    /// What failed on a node, or a node that did not answer, is in the report's messages.
    pub async fn keyring(
        &self,
        op: KeyringOp,
        local_only: bool,
    ) -> Result<KeyringReport, GossipError> {
        let envelope = &self.inner.envelope;
        let encryption = envelope.encryption().ok_or(GossipError::KeyringDisabled)?;
        let _valid = op.change()?;
        if local_only {
            let reply = key_query::run_locally(encryption, &op).await;
            let local = self.inner.initial.name.clone();
            return Ok(KeyringReport::collect([(local, Ok(reply))]));
        }
        key_query::ask_all(self.alive_members(), &op, envelope).await
    }

    /// Stops every task and closes the sockets, without telling the cluster.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Shutdown { reply: Some(reply) })
            .is_ok()
        {
            // An error means another shutdown got there first; either way it is stopping.
            let _stopped = done.await;
        }
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, GossipError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .commands
            .send(command(reply))
            .map_err(|_| GossipError::Shutdown)?;
        answer.await.map_err(|_| GossipError::Shutdown)
    }
}

/// A [`Gossip`] that does not keep it running: for its own background tasks.
pub(crate) struct WeakGossip(Weak<Handle>);

impl WeakGossip {
    pub(crate) fn upgrade(&self) -> Option<Gossip> {
        self.0.upgrade().map(|inner| Gossip { inner })
    }
}

/// Joins until one attempt joins at least one address, waiting `interval` between attempts
/// and logging each failure; gives up after `max_attempts` (0: never).
pub async fn retry_join(
    gossip: &Gossip,
    addresses: &[String],
    interval: Duration,
    max_attempts: u32,
) -> Result<usize, GossipError> {
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        match gossip.join(addresses).await {
            Ok(joined) => return Ok(joined),
            Err(GossipError::Shutdown) => return Err(GossipError::Shutdown),
            Err(error) => {
                tracing::warn!(attempt, %error, "join attempt failed; retrying in {interval:?}");
                if max_attempts != 0 && attempt >= max_attempts {
                    return Err(error);
                }
                tokio::time::sleep(interval).await;
            }
        }
    }
}

/// Binds UDP, then TCP on the same address and port; with port 0, retries until one port
/// is free for both.
async fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), GossipError> {
    let mut attempt = 1;
    loop {
        let udp_socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| GossipError::Bind {
                addr,
                protocol: "UDP",
                source,
            })?;
        let bound = udp_socket.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(listener) => return Ok((udp_socket, listener)),
            Err(_) if addr.port() == 0 && attempt < BIND_ATTEMPTS => attempt += 1,
            Err(source) => {
                return Err(GossipError::Bind {
                    addr: bound,
                    protocol: "TCP",
                    source,
                })
            }
        }
    }
}

fn check_name(name: &str) -> Result<(), GossipError> {
    if name.is_empty() || name.len() > MAX_NODE_NAME {
        return Err(GossipError::Config(format!(
            "node name {name:?} must be 1 to {MAX_NODE_NAME} bytes long"
        )));
    }
    Ok(())
}

fn check_tags(tags: &Tags) -> Result<(), GossipError> {
    let size = options().serialized_size(tags).map_or(usize::MAX, |size| {
        usize::try_from(size).unwrap_or(usize::MAX)
    });
    if size > MAX_TAGS_SIZE {
        return Err(GossipError::TagsTooLarge {
            size,
            limit: MAX_TAGS_SIZE,
        });
    }
    Ok(())
}

/// One address's failures: just the reason when it stood for one socket address.
fn describe_failures(address: &str, failures: &[(SocketAddr, String)]) -> String {
    match failures {
        [] => format!("{address} resolves to no address"),
        [(_, why)] => why.clone(),
        _ => failures
            .iter()
            .map(|(target, why)| format!("{target}: {why}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The join's result: how many joined, or an error naming every address and why.
fn summarize(
    addresses: &[String],
    outcomes: &[Outcome],
    ours: SocketAddr,
) -> Result<usize, GossipError> {
    let joined = outcomes.iter().filter(|o| **o == Outcome::Joined).count();
    let mut failures = Vec::new();
    let mut conflict = None;
    for (address, outcome) in addresses.iter().zip(outcomes) {
        match outcome {
            Outcome::Joined => {}
            Outcome::Conflict { name, existing } => {
                failures.push(format!(
                    "{address}: Member '{name}' has conflicting address {existing}"
                ));
                conflict.get_or_insert((name.clone(), *existing));
            }
            Outcome::Failed(why) => failures.push(format!("{address}: {why}")),
        }
    }
    if joined > 0 {
        for failure in &failures {
            tracing::warn!(%failure, "could not join one of the addresses");
        }
        return Ok(joined);
    }
    if let Some((name, existing)) = conflict {
        return Err(GossipError::NameConflict {
            name,
            existing,
            ours,
        });
    }
    Err(GossipError::Join(format!(
        "failed to join any node: {}",
        failures.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9))
    }

    #[test]
    fn a_join_error_names_every_address_and_why() {
        let addresses = ["127.0.0.1:1".to_string(), "nowhere".to_string()];
        let outcomes = [
            Outcome::Failed("connection refused".into()),
            Outcome::Failed("cannot resolve \"nowhere\"".into()),
        ];
        let error = summarize(&addresses, &outcomes, ours())
            .unwrap_err()
            .to_string();
        assert!(error.contains("127.0.0.1:1: connection refused"), "{error}");
        assert!(error.contains("nowhere: cannot resolve"), "{error}");
    }

    #[test]
    fn one_success_is_enough() {
        let addresses = ["a".to_string(), "b".to_string()];
        let outcomes = [
            Outcome::Failed("connection refused".into()),
            Outcome::Joined,
        ];
        assert_eq!(summarize(&addresses, &outcomes, ours()).ok(), Some(1));
    }

    #[test]
    fn a_name_conflict_is_its_own_error() {
        let existing = SocketAddr::from(([127, 0, 0, 1], 7));
        let outcomes = [Outcome::Conflict {
            name: "x".into(),
            existing,
        }];
        match summarize(&["a".to_string()], &outcomes, ours()) {
            Err(error @ GossipError::NameConflict { .. }) => {
                assert!(error
                    .to_string()
                    .starts_with("Member 'x' has conflicting address 127.0.0.1:7"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn tags_and_names_are_bounded() {
        let big = Tags::from([("k".to_string(), "v".repeat(MAX_TAGS_SIZE))]);
        assert!(matches!(
            check_tags(&big),
            Err(GossipError::TagsTooLarge { .. })
        ));
        assert!(check_tags(&Tags::new()).is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(&"n".repeat(MAX_NODE_NAME + 1)).is_err());
        assert!(check_name("node-1").is_ok());
    }

    #[test]
    fn failures_read_naturally() {
        let one = [(ours(), "connection refused".to_string())];
        assert_eq!(describe_failures("x", &one), "connection refused");
        let two = [(ours(), "a".to_string()), (ours(), "b".to_string())];
        assert_eq!(
            describe_failures("x", &two),
            "127.0.0.1:9: a, 127.0.0.1:9: b"
        );
    }
}
