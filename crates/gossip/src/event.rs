//! User events as Senate fires them (Consul's `/v1/event/fire`, Serf's user events): what the
//! caller fires, what every node delivers — the same event stamped with its Lamport time —
//! and the wire form that carries one inside a foca broadcast.

use crate::broadcasts::USER_EVENT;
use crate::codec::{decode_tagged, encode_tagged, TaggedError};
use serde::{Deserialize, Serialize};

/// A user event to fire. Gossip carries the filters as they are; each agent applies them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEventMessage {
    /// The event's ID (Consul's UUID), unique per event.
    pub id: String,
    pub name: String,
    pub payload: Vec<u8>,
    /// A regular expression for the node names that should act on the event.
    pub node_filter: String,
    /// A regular expression for the services whose nodes should act on the event.
    pub service_filter: String,
    /// A regular expression for the tags of those services.
    pub tag_filter: String,
}

/// A user event as every node delivers it: once, with the Lamport time it was fired at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveredEvent {
    /// The firing node's event clock when it fired: an event fired after another one
    /// was delivered there has a larger time.
    pub ltime: u64,
    pub event: UserEventMessage,
}

impl DeliveredEvent {
    /// The broadcast item for `event` at `ltime`.
    pub(crate) fn encode(ltime: u64, event: &UserEventMessage) -> Result<Vec<u8>, bincode::Error> {
        encode_tagged(USER_EVENT, &(ltime, event))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<DeliveredEvent, TaggedError> {
        let (ltime, event) = decode_tagged(USER_EVENT, bytes)?;
        Ok(DeliveredEvent { ltime, event })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn event(id: &str) -> UserEventMessage {
        UserEventMessage {
            id: id.to_string(),
            name: "deploy".to_string(),
            payload: vec![0, 1, 2, 0xFF],
            node_filter: "web-.*".to_string(),
            service_filter: "api".to_string(),
            tag_filter: "v2".to_string(),
        }
    }

    #[test]
    fn events_round_trip_with_their_time() {
        let bytes = DeliveredEvent::encode(42, &event("e1")).expect("encodes");
        assert_eq!(bytes[0], USER_EVENT);
        let delivered = DeliveredEvent::decode(&bytes).expect("decodes");
        assert_eq!(
            delivered,
            DeliveredEvent {
                ltime: 42,
                event: event("e1")
            }
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = DeliveredEvent::encode(7, &event("e1")).expect("encodes");
        for bytes in [
            &[][..],
            &[USER_EVENT][..],
            &[USER_EVENT, 0xFF, 0xFF, 0xFF][..],
            &[
                USER_EVENT, 1, 253, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
            ][..],
            &good[..good.len() - 1],
            &[9, 1, 2][..],
        ] {
            assert!(DeliveredEvent::decode(bytes).is_err(), "{bytes:?}");
        }
    }
}
