//! The gossip actor: the one task that owns the foca instance. It takes inbound datagrams,
//! API commands and its own timer events, hands them to foca, sends the datagrams foca asks
//! for, and publishes the member list whenever foca reports a change.

use crate::broadcasts::Broadcasts;
use crate::codec::{WireCodec, WireMember};
use crate::config::{foca_config, GossipTiming};
use crate::encryption::Envelope;
use crate::error::GossipError;
use crate::events::{EventHandler, EventLog};
use crate::frame::{Frame, Refusal, Roster};
use crate::identity::{NodeId, Tags};
use crate::intents::{IntentHandler, LeaveIntent};
use crate::member::{build_table, MemberStatus, Row};
use crate::shared::Shared;
use crate::timers::TimerQueue;
use bytes::Bytes;
use foca::{AccumulatingRuntime, Foca, OwnedNotification, Timer};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The tag carrying a member's node ID (Consul's `id`), which no two live members may share.
const NODE_ID_TAG: &str = "id";

/// How often the member list is rebuilt even without news (reaped members, stale intents).
const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// What the handles and the join listener ask of the actor.
pub(crate) enum Command {
    /// A joiner said hello over TCP: admit it (or refuse) and answer.
    Hello {
        from: NodeId,
        roster: Roster,
        reply: oneshot::Sender<Frame>,
    },
    /// A node we contacted welcomed us: learn what it knows and announce to it.
    Joined {
        remote: NodeId,
        roster: Roster,
        reply: oneshot::Sender<()>,
    },
    /// The hello this node sends when joining.
    OwnHello { reply: oneshot::Sender<Frame> },
    SetTags {
        tags: Tags,
        reply: oneshot::Sender<Result<(), GossipError>>,
    },
    Leave {
        reply: oneshot::Sender<Result<(), GossipError>>,
    },
    /// After a leave: gossip the pending updates once more.
    Regossip,
    /// Spread a leave intent recorded by `force_leave`.
    Broadcast { leave: LeaveIntent },
    /// Deliver and spread a user event, stamped and encoded by `fire_event`.
    FireEvent { event: Vec<u8> },
    /// Stop; the reply (if any) is sent once the sockets are closed.
    Shutdown { reply: Option<oneshot::Sender<()>> },
}

/// The actor's inputs.
pub(crate) struct Inbox {
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) datagrams: mpsc::Receiver<Bytes>,
}

type Core = Foca<NodeId, WireCodec, SmallRng, Broadcasts>;

pub(crate) struct Actor {
    foca: Core,
    runtime: AccumulatingRuntime<NodeId>,
    timers: TimerQueue,
    socket: Arc<UdpSocket>,
    /// Seals every datagram sent (with encryption on).
    envelope: Envelope,
    shared: Arc<Shared>,
    timing: GossipTiming,
    /// The live-member count foca's configuration was last scaled for.
    cluster_size: usize,
    /// This node's own status: Alive, then Leaving and Left once `leave` is called.
    status: MemberStatus,
    /// A change foca did not notify about (a reaped member) awaits publishing.
    stale: bool,
}

impl Actor {
    pub(crate) fn new(
        identity: NodeId,
        timing: GossipTiming,
        socket: Arc<UdpSocket>,
        envelope: Envelope,
        shared: Arc<Shared>,
        events: Arc<EventLog>,
    ) -> Actor {
        let rng = SmallRng::seed_from_u64(identity.generation ^ u64::from(identity.addr.port()));
        let handler = Broadcasts::new(
            IntentHandler::new(Arc::clone(&shared)),
            EventHandler::new(events),
        );
        let foca =
            Foca::with_custom_broadcast(identity, foca_config(&timing, 1), rng, WireCodec, handler);
        Actor {
            foca,
            runtime: AccumulatingRuntime::new(),
            timers: TimerQueue::default(),
            socket,
            envelope,
            shared,
            timing,
            cluster_size: 1,
            status: MemberStatus::Alive,
            stale: false,
        }
    }

    /// Runs until shut down; then stops `helpers` (the socket readers) and returns the
    /// shutdown reply for the caller to send once this actor, and its socket, are dropped.
    pub(crate) async fn run(
        mut self,
        mut inbox: Inbox,
        helpers: Vec<JoinHandle<()>>,
    ) -> Option<oneshot::Sender<()>> {
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let reply = loop {
            let deadline = self.timers.next_deadline();
            tokio::select! {
                biased;
                () = sleep_until(deadline) => self.fire_timers().await,
                command = inbox.commands.recv() => match command {
                    None => break None,
                    Some(Command::Shutdown { reply }) => break reply,
                    Some(command) => self.command(command).await,
                },
                Some(datagram) = inbox.datagrams.recv() => self.datagram(&datagram).await,
                _ = housekeeping.tick() => self.housekeeping(),
            }
        };
        for helper in &helpers {
            helper.abort();
        }
        for helper in helpers {
            // A cancelled helper reports a JoinError; it is the expected outcome.
            let _cancelled = helper.await;
        }
        tracing::debug!(node = %self.foca.identity().name, "gossip stopped");
        reply
    }

    async fn datagram(&mut self, data: &[u8]) {
        if self.status != MemberStatus::Alive {
            // After leaving, nothing may make foca rejoin (a "you are down" reply would).
            return;
        }
        if let Err(error) = self.foca.handle_data(data, &mut self.runtime) {
            tracing::debug!(%error, len = data.len(), "gossip datagram ignored");
        }
        self.drain().await;
    }

    async fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(timer) = self.timers.pop_due(now) {
            if self.status != MemberStatus::Alive {
                continue;
            }
            self.stale |= matches!(timer, Timer::RemoveDown(_));
            if let Err(error) = self.foca.handle_timer(timer, &mut self.runtime) {
                tracing::debug!(%error, "gossip timer event failed");
            }
        }
        self.drain().await;
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Hello {
                from,
                roster,
                reply,
            } => {
                let answer = self.hello(from, roster);
                // A joiner that gave up waiting is no error here.
                let _gone = reply.send(answer);
            }
            Command::Joined {
                remote,
                roster,
                reply,
            } => {
                self.joined(remote, roster);
                self.drain().await;
                let _gone = reply.send(());
            }
            Command::OwnHello { reply } => {
                let _gone = reply.send(Frame::Hello {
                    from: self.foca.identity().clone(),
                    roster: self.roster(),
                });
            }
            Command::SetTags { tags, reply } => {
                let outcome = self.set_tags(tags);
                self.drain().await;
                let _gone = reply.send(outcome);
            }
            Command::Leave { reply } => {
                let outcome = self.leave();
                self.drain().await;
                let _gone = reply.send(outcome);
            }
            Command::Regossip => {
                if let Err(error) = self.foca.gossip(&mut self.runtime) {
                    tracing::debug!(%error, "gossip round failed");
                }
            }
            Command::Broadcast { leave } => {
                self.broadcast(&leave);
                self.stale = true;
            }
            Command::FireEvent { event } => self.fire(&event),
            Command::Shutdown { .. } => {}
        }
        self.drain().await;
    }

    /// Answers a joiner's hello: refused while a live member holds its name at another
    /// address or its node ID under another name, else admitted — both sides learn each other's full membership.
    fn hello(&mut self, from: NodeId, roster: Roster) -> Frame {
        if self.status != MemberStatus::Alive {
            let name = &self.foca.identity().name;
            return Frame::Refused(Refusal::Other(format!("{name} is leaving the cluster")));
        }
        if let Some(existing) = self.conflicting_address(&from) {
            tracing::warn!(
                name = %from.name, joiner = %from.addr, %existing,
                "refused a joiner whose name a live member uses at another address"
            );
            return Frame::Refused(Refusal::NameConflict {
                name: from.name.to_string(),
                existing,
            });
        }
        if let Some(holder) = self.node_id_holder(&from) {
            let id = from.tags.get(NODE_ID_TAG).cloned().unwrap_or_default();
            tracing::warn!(
                name = %from.name, %id, %holder,
                "refused a joiner whose node ID a live member uses"
            );
            return Frame::Refused(Refusal::Other(format!(
                "Member '{}' has conflicting node ID '{id}' with member '{holder}'",
                from.name
            )));
        }
        let welcome = Frame::Welcome {
            from: self.foca.identity().clone(),
            roster: self.roster(),
        };
        if from != *self.foca.identity() {
            tracing::debug!(name = %from.name, addr = %from.addr, "admitted a joiner");
            self.absorb(from, roster);
        }
        welcome
    }

    /// The address of a live member (or this node) that holds `joiner`'s name elsewhere.
    fn conflicting_address(&self, joiner: &NodeId) -> Option<SocketAddr> {
        let local = self.foca.identity();
        if local.name == joiner.name {
            return (local.addr != joiner.addr).then_some(local.addr);
        }
        self.foca
            .iter_members()
            .map(foca::Member::id)
            .find(|id| id.name == joiner.name && id.addr != joiner.addr)
            .map(|id| id.addr)
    }

    /// The name of a live member (or this node) that carries `joiner`'s node ID under another name.
    fn node_id_holder(&self, joiner: &NodeId) -> Option<Arc<str>> {
        let id = joiner.tags.get(NODE_ID_TAG).filter(|id| !id.is_empty())?;
        std::iter::once(self.foca.identity())
            .chain(self.foca.iter_members().map(foca::Member::id))
            .find(|member| member.name != joiner.name && member.tags.get(NODE_ID_TAG) == Some(id))
            .map(|member| member.name.clone())
    }

    /// A node we joined welcomed us.
    fn joined(&mut self, remote: NodeId, roster: Roster) {
        if self.status != MemberStatus::Alive || remote == *self.foca.identity() {
            return;
        }
        self.outrank_old_self(&roster);
        self.absorb(remote.clone(), roster);
        if let Err(error) = self.foca.announce(remote, &mut self.runtime) {
            tracing::debug!(%error, "announce after join failed");
        }
    }

    /// When the cluster remembers an identity of ours at least as new as the current one (a
    /// restart after the clock went back), moves past it so the cluster takes the new one.
    fn outrank_old_self(&mut self, roster: &Roster) {
        let ours = self.foca.identity();
        let newest = roster
            .members
            .iter()
            .filter(|m| m.id.name == ours.name && m.id != *ours)
            .map(|m| m.id.generation)
            .max();
        let Some(old) = newest.filter(|old| *old >= ours.generation) else {
            return;
        };
        let next = NodeId {
            generation: old.saturating_add(1),
            ..ours.clone()
        };
        tracing::info!(node = %next.name, "the cluster knows a newer identity of this node; renewing past it");
        if let Err(error) = self.foca.change_identity(next, &mut self.runtime) {
            tracing::warn!(%error, "could not renew this node's identity");
        }
    }

    /// Learns a peer (alive: it just spoke) and the membership and leave intents it
    /// reported (intents first, so members it reports left are listed as Left).
    fn absorb(&mut self, peer: NodeId, roster: Roster) {
        for leave in roster.intents {
            if !self.shared.is_local_name(&leave.name) {
                self.shared.record_intent(&leave.name, leave.intent());
            }
        }
        let updates = std::iter::once(foca::Member::alive(peer))
            .chain(roster.members.into_iter().map(foca::Member::from));
        if let Err(error) = self.foca.apply_many(updates, true, &mut self.runtime) {
            tracing::debug!(%error, "could not apply a joined node's membership");
        }
    }

    /// Everything foca knows, down members included, and the leave intents, for a join.
    fn roster(&self) -> Roster {
        let intents = self
            .shared
            .intents()
            .into_iter()
            .map(|(name, intent)| LeaveIntent {
                name,
                generation: intent.generation,
                prune: intent.prune,
            })
            .collect();
        Roster {
            members: self
                .foca
                .iter_membership_state()
                .map(WireMember::from)
                .collect(),
            intents,
        }
    }

    /// New tags are a new identity: foca declares the old one down and spreads the new one,
    /// which wins the name; the others see the member stay alive with new tags.
    fn set_tags(&mut self, tags: Tags) -> Result<(), GossipError> {
        if self.status != MemberStatus::Alive {
            return Err(GossipError::Shutdown);
        }
        if *self.foca.identity().tags == tags {
            return Ok(());
        }
        let next = self.foca.identity().with_tags(tags);
        self.foca
            .change_identity(next, &mut self.runtime)
            .map_err(|error| GossipError::Protocol(error.to_string()))?;
        // foca waits to hear from the cluster before resuming its probes; it still knows
        // every member, so resume at once (this re-evaluates its connection state).
        self.foca
            .apply_many(std::iter::empty(), true, &mut self.runtime)
            .map_err(|error| GossipError::Protocol(error.to_string()))?;
        self.stale = true;
        Ok(())
    }

    /// A graceful leave: a leave intent rides along with foca's own "I am down" update.
    fn leave(&mut self) -> Result<(), GossipError> {
        if self.status != MemberStatus::Alive {
            return Ok(());
        }
        self.status = MemberStatus::Leaving;
        let identity = self.foca.identity().clone();
        self.broadcast(&LeaveIntent {
            name: identity.name.to_string(),
            generation: identity.generation,
            prune: false,
        });
        let outcome = self.foca.leave_cluster(&mut self.runtime);
        self.status = MemberStatus::Left;
        self.stale = true;
        tracing::info!(node = %identity.name, "left the gossip cluster");
        outcome.map_err(|error| GossipError::Protocol(error.to_string()))
    }

    fn broadcast(&mut self, leave: &LeaveIntent) {
        let queued = leave
            .encode()
            .map_err(|error| error.to_string())
            .and_then(|bytes| self.queue(&bytes));
        if let Err(error) = queued {
            tracing::warn!(%error, node = %leave.name, "could not broadcast a leave intent");
        }
    }

    /// A user event fired here: foca's handler delivers it locally as it queues it; then it
    /// goes at once to a few members rather than waiting for the next gossip round.
    fn fire(&mut self, event: &[u8]) {
        if self.status != MemberStatus::Alive {
            tracing::debug!("user event not fired: this node has left");
            return;
        }
        if let Err(error) = self.queue(event) {
            tracing::warn!(%error, "could not broadcast a user event");
            return;
        }
        if let Err(error) = self.foca.broadcast(&mut self.runtime) {
            tracing::debug!(%error, "user event broadcast failed");
        }
    }

    fn queue(&mut self, item: &[u8]) -> Result<(), String> {
        self.foca
            .add_broadcast(item)
            .map(drop)
            .map_err(|error| error.to_string())
    }

    /// Sends what foca produced, schedules its timers, and publishes after a change.
    async fn drain(&mut self) {
        while let Some((to, data)) = self.runtime.to_send() {
            let sent = match self.envelope.seal(&data) {
                Ok(sealed) => self.socket.send_to(&sealed, to.addr).await.map(drop),
                Err(error) => Err(std::io::Error::other(error)),
            };
            if let Err(error) = sent {
                tracing::debug!(%error, to = %to.addr, "gossip datagram not sent");
            }
        }
        let now = Instant::now();
        while let Some((after, timer)) = self.runtime.to_schedule() {
            self.timers.schedule(now, after, timer);
        }
        let mut changed = std::mem::take(&mut self.stale);
        while let Some(notification) = self.runtime.to_notify() {
            log_notification(&notification);
            changed = true;
        }
        if self.shared.take_dirty() || changed {
            self.publish();
        }
    }

    /// Rebuilds the member list from foca and the leave intents, and rescales foca to the
    /// number of live members.
    fn publish(&mut self) {
        let local = Row::new(self.foca.identity(), self.status);
        let intents = self.shared.intents();
        let members = self
            .foca
            .iter_membership_state()
            .map(|m| (m.id(), m.state()));
        let rows = build_table(local, members, &intents);
        let alive = rows
            .values()
            .filter(|row| row.member.status == MemberStatus::Alive)
            .count();
        self.shared.publish(rows);
        if alive.max(1) != self.cluster_size {
            self.cluster_size = alive.max(1);
            if let Err(error) = self
                .foca
                .set_config(foca_config(&self.timing, self.cluster_size))
            {
                tracing::debug!(%error, "could not rescale gossip to the cluster size");
            }
        }
    }

    fn housekeeping(&mut self) {
        let known: HashSet<&str> = self
            .foca
            .iter_membership_state()
            .map(|member| &*member.id().name)
            .collect();
        self.shared.retain_intents(|name| known.contains(name));
        self.publish();
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn log_notification(notification: &OwnedNotification<NodeId>) {
    match notification {
        OwnedNotification::MemberUp(id) => {
            tracing::debug!(name = %id.name, addr = %id.addr, "gossip member up");
        }
        OwnedNotification::MemberDown(id) => {
            tracing::info!(name = %id.name, addr = %id.addr, "gossip member down");
        }
        OwnedNotification::Rename(old, new) => {
            tracing::debug!(name = %new.name, from = %old.addr, to = %new.addr, "gossip member renewed");
        }
        OwnedNotification::Rejoin(id) => {
            tracing::info!(name = %id.name, "declared down by the cluster; rejoined with a renewed identity");
        }
        OwnedNotification::Idle => tracing::debug!("no live gossip members"),
        other => tracing::debug!(notification = ?other, "gossip notification"),
    }
}
