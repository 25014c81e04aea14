//! foca's one custom-broadcast channel, shared by leave intents and user events: the first
//! byte of each item says which it is (and its version), and the item goes to the handler of
//! its kind. An item of no known kind is refused, as garbage.

use crate::codec::TaggedError;
use crate::events::{EventHandler, EventKey};
use crate::identity::NodeId;
use crate::intents::{IntentHandler, IntentKey};
use foca::{BroadcastHandler, Invalidates};

/// The first byte of a leave intent.
pub(crate) const LEAVE_INTENT: u8 = 1;

/// The first byte of a user event.
pub(crate) const USER_EVENT: u8 = 2;

/// foca's dissemination key: items only ever replace items of their own kind.
pub(crate) enum BroadcastKey {
    Intent(IntentKey),
    Event(EventKey),
}

impl Invalidates for BroadcastKey {
    fn invalidates(&self, other: &Self) -> bool {
        match (self, other) {
            (BroadcastKey::Intent(ours), BroadcastKey::Intent(theirs)) => ours.invalidates(theirs),
            (BroadcastKey::Event(ours), BroadcastKey::Event(theirs)) => ours.invalidates(theirs),
            _ => false,
        }
    }
}

/// The handler foca is built with: it passes each item on by its first byte.
pub(crate) struct Broadcasts {
    intents: IntentHandler,
    events: EventHandler,
}

impl Broadcasts {
    pub(crate) fn new(intents: IntentHandler, events: EventHandler) -> Broadcasts {
        Broadcasts { intents, events }
    }
}

impl BroadcastHandler<NodeId> for Broadcasts {
    type Key = BroadcastKey;
    type Error = TaggedError;

    fn receive_item(
        &mut self,
        data: &[u8],
        sender: Option<&NodeId>,
    ) -> Result<Option<BroadcastKey>, TaggedError> {
        match data.first() {
            Some(&LEAVE_INTENT) => Ok(self
                .intents
                .receive_item(data, sender)?
                .map(BroadcastKey::Intent)),
            Some(&USER_EVENT) => Ok(self
                .events
                .receive_item(data, sender)?
                .map(BroadcastKey::Event)),
            Some(&other) => Err(TaggedError::Unsupported(other)),
            None => Err(TaggedError::Empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::WireCodec;
    use crate::event::tests::event;
    use crate::event::DeliveredEvent;
    use crate::events::EventLog;
    use crate::identity::Tags;
    use crate::intents::LeaveIntent;
    use crate::member::{MemberStatus, Row};
    use crate::shared::Shared;
    use bytes::BufMut;
    use foca::{AccumulatingRuntime, Codec, Foca, Header, Message};
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use std::net::SocketAddr;
    use std::sync::Arc;

    fn node(name: &str, port: u16) -> NodeId {
        NodeId::new(name, SocketAddr::from(([127, 0, 0, 1], port)), Tags::new())
    }

    struct Harness {
        local: NodeId,
        foca: Foca<NodeId, WireCodec, SmallRng, Broadcasts>,
        shared: Arc<Shared>,
        events: Arc<EventLog>,
    }

    fn harness() -> Harness {
        let local = node("a", 1);
        let shared = Arc::new(Shared::new(Row::new(&local, MemberStatus::Alive)));
        let events = Arc::new(EventLog::new());
        let handler = Broadcasts::new(
            IntentHandler::new(Arc::clone(&shared)),
            EventHandler::new(Arc::clone(&events)),
        );
        let config = crate::config::foca_config(&crate::config::GossipTiming::lan(), 1);
        let foca = Foca::with_custom_broadcast(
            local.clone(),
            config,
            SmallRng::seed_from_u64(1),
            WireCodec,
            handler,
        );
        Harness {
            local,
            foca,
            shared,
            events,
        }
    }

    /// A broadcast message from `b` to `to` carrying `items`, as foca frames them.
    fn datagram(to: &NodeId, items: &[&[u8]]) -> Vec<u8> {
        let header = Header {
            src: node("b", 2),
            src_incarnation: 0,
            dst: to.clone(),
            message: Message::Broadcast,
        };
        let mut bytes = Vec::new();
        WireCodec
            .encode_header(&header, &mut bytes)
            .expect("encodes");
        for item in items {
            bytes.put_u16(u16::try_from(item.len()).expect("small"));
            bytes.put_slice(item);
        }
        bytes
    }

    #[test]
    fn items_reach_the_handler_of_their_kind() {
        let mut harness = harness();
        let mut delivered = harness.events.subscribe();
        let mut runtime = AccumulatingRuntime::new();
        let event = DeliveredEvent::encode(3, &event("e1")).expect("encodes");
        let leave = LeaveIntent {
            name: "c".into(),
            generation: 4,
            prune: false,
        }
        .encode()
        .expect("encodes");
        harness
            .foca
            .handle_data(&datagram(&harness.local, &[&event, &leave]), &mut runtime)
            .expect("handled");
        assert_eq!(delivered.try_recv().expect("delivered").ltime, 3);
        assert!(harness.shared.intents().contains_key("c"));
        assert_eq!(harness.foca.custom_broadcast_backlog(), 2, "both spread on");
    }

    #[test]
    fn malformed_event_broadcasts_are_dropped() {
        let mut harness = harness();
        let mut delivered = harness.events.subscribe();
        let mut runtime = AccumulatingRuntime::new();
        let good = DeliveredEvent::encode(3, &event("e1")).expect("encodes");
        for garbage in [
            &[USER_EVENT, 0xFF, 0xFF][..],
            &good[..good.len() - 2],
            &[0x7E, 1, 2][..],
        ] {
            assert!(harness
                .foca
                .handle_data(&datagram(&harness.local, &[garbage]), &mut runtime)
                .is_err());
        }
        assert!(delivered.try_recv().is_err(), "nothing delivered");
        assert_eq!(harness.foca.custom_broadcast_backlog(), 0, "nothing spread");
        harness
            .foca
            .handle_data(&datagram(&harness.local, &[&good]), &mut runtime)
            .expect("handled");
        assert_eq!(delivered.try_recv().expect("delivered").event.id, "e1");
    }

    #[test]
    fn keys_of_different_kinds_never_replace_each_other() {
        let mut harness = harness();
        let event = DeliveredEvent::encode(1000, &event("e1")).expect("encodes");
        let leave = LeaveIntent {
            name: "c".into(),
            generation: 4,
            prune: false,
        }
        .encode()
        .expect("encodes");
        assert!(harness.foca.add_broadcast(&leave).is_ok());
        assert!(harness.foca.add_broadcast(&event).is_ok());
        assert_eq!(harness.foca.custom_broadcast_backlog(), 2);
    }
}
