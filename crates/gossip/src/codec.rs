//! The datagram wire format: foca's headers and membership updates as bincode, behind a
//! version byte. Identities travel whole (with tags) only where foca stores them — the
//! sender and the updates; the destination and probe targets are sent without tags, which
//! keeps a header with three identities inside one datagram. Smaller items (foca's custom
//! broadcasts, coordinate pings) are bincode behind a tag byte saying what they are.

use crate::identity::NodeId;
use bincode::Options;
use bytes::{Buf, BufMut};
use foca::{Header, Member, Message, State};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The first byte of every gossip datagram.
pub(crate) const DATAGRAM_VERSION: u8 = 1;

/// The largest datagram foca produces and accepts (memberlist's UDP buffer size).
pub(crate) const MAX_DATAGRAM: usize = 1400;

/// What foca adds around one custom broadcast beyond the header: the update tally of a
/// message that carries updates (empty here), and the item's length prefix.
const BROADCAST_FRAMING: usize = 2 + 2;

/// Why a datagram or update could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodecError {
    #[error("empty datagram")]
    Empty,
    #[error("unsupported datagram version {0} (this node speaks {DATAGRAM_VERSION})")]
    Version(u8),
    #[error("no room left in the datagram")]
    Full,
    #[error("bad encoding: {0}")]
    Bincode(#[from] bincode::Error),
}

/// Why a tagged item could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TaggedError {
    #[error("empty item")]
    Empty,
    #[error("unsupported item kind or version {0}")]
    Unsupported(u8),
    #[error("malformed item: {0}")]
    Malformed(#[from] bincode::Error),
}

/// `item` as bincode behind `tag`.
pub(crate) fn encode_tagged<T: Serialize>(tag: u8, item: &T) -> Result<Vec<u8>, bincode::Error> {
    let mut bytes = vec![tag];
    options().serialize_into(&mut bytes, item)?;
    Ok(bytes)
}

/// The item behind `tag` in `bytes`; any other first byte is refused.
pub(crate) fn decode_tagged<T: serde::de::DeserializeOwned>(
    tag: u8,
    bytes: &[u8],
) -> Result<T, TaggedError> {
    match bytes.split_first() {
        Some((&found, body)) if found == tag => Ok(options().deserialize(body)?),
        Some((&found, _)) => Err(TaggedError::Unsupported(found)),
        None => Err(TaggedError::Empty),
    }
}

/// How many bytes a custom broadcast may take so that it fits, next to the header, in a
/// message (a ping, ack or gossip round without updates) from `src` to any member: the
/// header is sized for the longest destination name and the widest numbers.
pub(crate) fn broadcast_room(src: &NodeId) -> usize {
    let widest = SocketAddr::from(([u16::MAX; 8], u16::MAX));
    let longest = "n".repeat(crate::gossip::MAX_NODE_NAME);
    let header = Header {
        src: NodeId {
            generation: u64::MAX,
            ..src.clone()
        },
        src_incarnation: u16::MAX,
        dst: NodeId::light(longest, widest, u64::MAX),
        message: Message::Ping(u8::MAX),
    };
    let mut bytes = Vec::new();
    match foca::Codec::encode_header(&mut WireCodec, &header, &mut bytes) {
        Ok(()) => MAX_DATAGRAM.saturating_sub(bytes.len() + BROADCAST_FRAMING),
        // A header that cannot be encoded leaves no room at all.
        Err(_) => 0,
    }
}

/// foca's `Codec` for [`NodeId`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WireCodec;

/// bincode with varints, a size limit (so a hostile length cannot allocate much) and room for
/// what follows the item in the same datagram.
pub(crate) fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_limit(crate::frame::MAX_FRAME as u64)
        .allow_trailing_bytes()
}

/// An identity without its tags.
#[derive(Serialize, Deserialize)]
struct Light<N> {
    name: N,
    addr: SocketAddr,
    generation: u64,
}

/// foca's `Message` with its identities in light form.
#[derive(Serialize, Deserialize)]
enum WireMessage<I> {
    Ping(u8),
    Ack(u8),
    PingReq { target: I, probe: u8 },
    IndirectPing { origin: I, probe: u8 },
    IndirectAck { target: I, probe: u8 },
    ForwardedAck { origin: I, probe: u8 },
    Announce,
    Feed,
    Gossip,
    Broadcast,
    TurnUndead,
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    src: &'a NodeId,
    incarnation: u16,
    dst: Light<&'a str>,
    message: WireMessage<Light<&'a str>>,
}

#[derive(Deserialize)]
struct HeaderIn {
    src: NodeId,
    incarnation: u16,
    dst: Light<String>,
    message: WireMessage<Light<String>>,
}

/// foca's member state on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireState {
    Alive,
    Suspect,
    Down,
}

/// One membership update: what a member is known as, at which incarnation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WireMember {
    pub(crate) id: NodeId,
    pub(crate) incarnation: u16,
    pub(crate) state: WireState,
}

#[derive(Serialize)]
struct WireMemberRef<'a> {
    id: &'a NodeId,
    incarnation: u16,
    state: WireState,
}

impl From<State> for WireState {
    fn from(state: State) -> WireState {
        match state {
            State::Alive => WireState::Alive,
            State::Suspect => WireState::Suspect,
            State::Down => WireState::Down,
        }
    }
}

impl From<WireState> for State {
    fn from(state: WireState) -> State {
        match state {
            WireState::Alive => State::Alive,
            WireState::Suspect => State::Suspect,
            WireState::Down => State::Down,
        }
    }
}

impl From<&Member<NodeId>> for WireMember {
    fn from(member: &Member<NodeId>) -> WireMember {
        WireMember {
            id: member.id().clone(),
            incarnation: member.incarnation(),
            state: member.state().into(),
        }
    }
}

impl From<WireMember> for Member<NodeId> {
    fn from(member: WireMember) -> Member<NodeId> {
        Member::new(member.id, member.incarnation, member.state.into())
    }
}

fn light(id: &NodeId) -> Light<&str> {
    Light {
        name: &id.name,
        addr: id.addr,
        generation: id.generation,
    }
}

fn heavy(light: Light<String>) -> NodeId {
    NodeId::light(light.name, light.addr, light.generation)
}

fn message_out(message: &Message<NodeId>) -> WireMessage<Light<&str>> {
    match message {
        Message::Ping(probe) => WireMessage::Ping(*probe),
        Message::Ack(probe) => WireMessage::Ack(*probe),
        Message::PingReq {
            target,
            probe_number,
        } => WireMessage::PingReq {
            target: light(target),
            probe: *probe_number,
        },
        Message::IndirectPing {
            origin,
            probe_number,
        } => WireMessage::IndirectPing {
            origin: light(origin),
            probe: *probe_number,
        },
        Message::IndirectAck {
            target,
            probe_number,
        } => WireMessage::IndirectAck {
            target: light(target),
            probe: *probe_number,
        },
        Message::ForwardedAck {
            origin,
            probe_number,
        } => WireMessage::ForwardedAck {
            origin: light(origin),
            probe: *probe_number,
        },
        Message::Announce => WireMessage::Announce,
        Message::Feed => WireMessage::Feed,
        Message::Gossip => WireMessage::Gossip,
        Message::Broadcast => WireMessage::Broadcast,
        Message::TurnUndead => WireMessage::TurnUndead,
    }
}

fn message_in(message: WireMessage<Light<String>>) -> Message<NodeId> {
    match message {
        WireMessage::Ping(probe) => Message::Ping(probe),
        WireMessage::Ack(probe) => Message::Ack(probe),
        WireMessage::PingReq { target, probe } => Message::PingReq {
            target: heavy(target),
            probe_number: probe,
        },
        WireMessage::IndirectPing { origin, probe } => Message::IndirectPing {
            origin: heavy(origin),
            probe_number: probe,
        },
        WireMessage::IndirectAck { target, probe } => Message::IndirectAck {
            target: heavy(target),
            probe_number: probe,
        },
        WireMessage::ForwardedAck { origin, probe } => Message::ForwardedAck {
            origin: heavy(origin),
            probe_number: probe,
        },
        WireMessage::Announce => Message::Announce,
        WireMessage::Feed => Message::Feed,
        WireMessage::Gossip => Message::Gossip,
        WireMessage::Broadcast => Message::Broadcast,
        WireMessage::TurnUndead => Message::TurnUndead,
    }
}

/// Writes `bytes` whole into `buf`, or nothing when they do not fit.
fn put_whole(bytes: &[u8], mut buf: impl BufMut) -> Result<(), CodecError> {
    if buf.remaining_mut() < bytes.len() {
        return Err(CodecError::Full);
    }
    buf.put_slice(bytes);
    Ok(())
}

/// Decodes one item from the front of `buf` and advances past exactly what it used.
fn take<T: serde::de::DeserializeOwned>(mut buf: impl Buf) -> Result<T, CodecError> {
    // foca hands the codec one contiguous slice, so the first chunk is all there is.
    let chunk = buf.chunk();
    let total = chunk.len();
    let mut rest = chunk;
    // Reading from `io::Read`, bincode allocates (and zeroes) a string's declared length
    // before reading it; a limit of the bytes at hand refuses a length they cannot hold
    // first, so a small datagram cannot make it allocate megabytes.
    let item = options()
        .with_limit(total as u64)
        .deserialize_from(&mut rest)?;
    let used = total - rest.len();
    buf.advance(used);
    Ok(item)
}

impl foca::Codec<NodeId> for WireCodec {
    type Error = CodecError;

    fn encode_header(
        &mut self,
        header: &Header<NodeId>,
        buf: impl BufMut,
    ) -> Result<(), CodecError> {
        let wire = HeaderOut {
            src: &header.src,
            incarnation: header.src_incarnation,
            dst: light(&header.dst),
            message: message_out(&header.message),
        };
        let mut bytes = vec![DATAGRAM_VERSION];
        options().serialize_into(&mut bytes, &wire)?;
        put_whole(&bytes, buf)
    }

    fn decode_header(&mut self, mut buf: impl Buf) -> Result<Header<NodeId>, CodecError> {
        if !buf.has_remaining() {
            return Err(CodecError::Empty);
        }
        let version = buf.get_u8();
        if version != DATAGRAM_VERSION {
            return Err(CodecError::Version(version));
        }
        let wire: HeaderIn = take(buf)?;
        Ok(Header {
            src: wire.src,
            src_incarnation: wire.incarnation,
            dst: heavy(wire.dst),
            message: message_in(wire.message),
        })
    }

    fn encode_member(
        &mut self,
        member: &Member<NodeId>,
        buf: impl BufMut,
    ) -> Result<(), CodecError> {
        let wire = WireMemberRef {
            id: member.id(),
            incarnation: member.incarnation(),
            state: member.state().into(),
        };
        let bytes = options().serialize(&wire)?;
        put_whole(&bytes, buf)
    }

    fn decode_member(&mut self, buf: impl Buf) -> Result<Member<NodeId>, CodecError> {
        let wire: WireMember = take(buf)?;
        Ok(wire.into())
    }
}

/// Entry points for the fuzz tests (`tests/fuzz_codec.rs`): what a node runs on the bytes of a
/// gossip datagram or TCP frame from the network, and valid messages to mutate. Not part of
/// the crate's API.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;
    use crate::broadcasts::Broadcasts;
    use crate::config::{foca_config, EncryptionConfig, GossipTiming};
    use crate::encryption::Envelope;
    use crate::event::{DeliveredEvent, UserEventMessage};
    use crate::events::{EventHandler, EventLog};
    use crate::frame::{self, Frame, Refusal, Roster};
    use crate::intents::{IntentHandler, LeaveIntent};
    use crate::key_query::KeyringReply;
    use crate::keyring::KeyringOp;
    use crate::member::{MemberStatus, Row};
    use crate::ping::{Ping, Report};
    use crate::shared::Shared;
    use foca::{AccumulatingRuntime, Codec, Foca};
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use std::sync::Arc;

    /// A node's receiving side: the envelope, the prober's decoder, and foca with the
    /// broadcast handlers, as the actor builds them.
    pub struct Node {
        local: NodeId,
        envelope: Envelope,
        foca: Foca<NodeId, WireCodec, SmallRng, Broadcasts>,
        runtime: AccumulatingRuntime<NodeId>,
    }

    fn node(name: &str, port: u16, generation: u64) -> NodeId {
        let tags = crate::identity::Tags::from([("role".to_string(), "node".to_string())]);
        NodeId {
            generation,
            ..NodeId::new(name, SocketAddr::from(([127, 0, 0, 1], port)), tags)
        }
    }

    impl Node {
        /// A node named "a", with encryption under `key` (base64) when given.
        pub fn new(key: Option<&str>) -> Node {
            let local = node("a", 1, 1);
            let config = key.map(EncryptionConfig::with_key);
            let envelope = Envelope::start(config.as_ref()).expect("a valid key");
            let shared = Arc::new(Shared::new(Row::new(&local, MemberStatus::Alive)));
            let handler = Broadcasts::new(
                IntentHandler::new(shared),
                EventHandler::new(Arc::new(EventLog::new())),
            );
            let foca = Foca::with_custom_broadcast(
                local.clone(),
                foca_config(&GossipTiming::lan(), 1),
                SmallRng::seed_from_u64(1),
                WireCodec,
                handler,
            );
            Node {
                local,
                envelope,
                foca,
                runtime: AccumulatingRuntime::new(),
            }
        }

        /// A datagram as the UDP loop and the actor take it: opened, then decoded as a
        /// coordinate ping, or handed to foca. Foca's replies are discarded.
        pub fn datagram(&mut self, data: &[u8]) -> Result<(), String> {
            let opened = self.envelope.open(data).map_err(|e| e.to_string())?;
            let datagram = opened.bytes();
            let result = if Ping::is_ping(datagram) {
                Ping::decode(datagram).map(drop).map_err(|e| e.to_string())
            } else {
                self.foca
                    .handle_data(datagram, &mut self.runtime)
                    .map_err(|e| e.to_string())
            };
            while self.runtime.to_send().is_some() {}
            while self.runtime.to_schedule().is_some() {}
            while self.runtime.to_notify().is_some() {}
            result
        }

        /// A TCP frame as the exchange listener reads it: length, body, opened, decoded.
        pub fn frame(&self, data: &[u8]) -> Result<(), String> {
            let mut reader = data;
            futures::executor::block_on(frame::read(&mut reader, &self.envelope))
                .map(drop)
                .map_err(|e| e.to_string())
        }

        /// Valid datagrams for this node, sealed as its envelope seals: coordinate pings, and
        /// foca messages from "b" with membership updates and custom broadcasts.
        pub fn datagrams(&self) -> Vec<Vec<u8>> {
            let from = node("b", 2, 5);
            let other = node("c", 3, 7);
            let report = |nonce| Report {
                nonce,
                from: "b".to_string(),
                coordinate: senate_coordinate::Coordinate::new(&Default::default()),
            };
            let event = UserEventMessage {
                id: "e1".into(),
                name: "deploy".into(),
                payload: vec![0, 1, 0xFF],
                node_filter: "web-.*".into(),
                ..Default::default()
            };
            let leave = LeaveIntent {
                name: "c".into(),
                generation: 7,
                prune: false,
            };
            let items = [
                DeliveredEvent::encode(3, &event).expect("encodes"),
                leave.encode().expect("encodes"),
            ];
            let messages = [
                Message::Ping(1),
                Message::Ack(2),
                Message::PingReq {
                    target: other.clone(),
                    probe_number: 3,
                },
                Message::IndirectPing {
                    origin: other.clone(),
                    probe_number: 4,
                },
                Message::IndirectAck {
                    target: other.clone(),
                    probe_number: 5,
                },
                Message::ForwardedAck {
                    origin: other.clone(),
                    probe_number: 6,
                },
                Message::Announce,
                Message::Feed,
                Message::Gossip,
                Message::Broadcast,
                Message::TurnUndead,
            ];
            let mut plain = vec![
                Ping::Request(report(1)).encode().expect("encodes"),
                Ping::Ack(report(u64::MAX)).encode().expect("encodes"),
            ];
            for message in messages {
                let broadcast = message == Message::Broadcast;
                let announce = message == Message::Announce;
                let header = Header {
                    src: from.clone(),
                    src_incarnation: 1,
                    dst: self.local.clone(),
                    message,
                };
                let mut bytes = Vec::new();
                WireCodec
                    .encode_header(&header, &mut bytes)
                    .expect("encodes");
                if !broadcast && !announce {
                    let members = [
                        Member::new(other.clone(), 2, State::Suspect),
                        Member::new(from.clone(), 1, State::Alive),
                    ];
                    bytes.put_u16(members.len() as u16);
                    for member in &members {
                        WireCodec
                            .encode_member(member, &mut bytes)
                            .expect("encodes");
                    }
                }
                if !announce {
                    for item in &items {
                        bytes.put_u16(item.len() as u16);
                        bytes.extend_from_slice(item);
                    }
                }
                plain.push(bytes);
            }
            plain
                .into_iter()
                .map(|bytes| self.envelope.seal(&bytes).expect("seals").into_owned())
                .collect()
        }

        /// `plain` sealed as this node's envelope seals (unchanged without encryption).
        pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
            self.envelope.seal(plain).expect("seals").into_owned()
        }

        /// Valid TCP frames for this node, sealed as its envelope seals.
        pub fn frames(&self) -> Vec<Vec<u8>> {
            let roster = Roster {
                members: vec![WireMember {
                    id: node("c", 3, 7),
                    incarnation: 2,
                    state: WireState::Down,
                }],
                intents: vec![LeaveIntent {
                    name: "c".into(),
                    generation: 7,
                    prune: true,
                }],
            };
            let frames = [
                Frame::Hello {
                    from: node("b", 2, 5),
                    roster: roster.clone(),
                },
                Frame::Welcome {
                    from: node("b", 2, 5),
                    roster,
                },
                Frame::Refused(Refusal::NameConflict {
                    name: "b".into(),
                    existing: SocketAddr::from(([10, 0, 0, 1], 8301)),
                }),
                Frame::Refused(Refusal::Other("no".into())),
                Frame::KeyringRequest(KeyringOp::List),
                Frame::KeyringRequest(KeyringOp::Install("k".repeat(44))),
                Frame::KeyringReply(KeyringReply {
                    keys: vec!["k".repeat(44)],
                    error: Some("bad".into()),
                }),
            ];
            frames
                .iter()
                .map(|frame| frame::encode(frame, &self.envelope).expect("encodes"))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Tags;
    use foca::Codec;

    fn node(name: &str, port: u16) -> NodeId {
        let tags = Tags::from([("role".to_string(), "node".to_string())]);
        NodeId::new(name, SocketAddr::from(([127, 0, 0, 1], port)), tags)
    }

    #[test]
    fn header_round_trips_with_light_targets() {
        let (a, b, c) = (node("a", 1), node("b", 2), node("c", 3));
        let header = Header {
            src: a.clone(),
            src_incarnation: 7,
            dst: b.clone(),
            message: Message::PingReq {
                target: c.clone(),
                probe_number: 9,
            },
        };
        let mut bytes = Vec::new();
        WireCodec
            .encode_header(&header, &mut bytes)
            .expect("encodes");
        bytes.extend_from_slice(&[0xAB, 0xCD]);
        let mut slice = &bytes[..];
        let decoded = WireCodec.decode_header(&mut slice).expect("decodes");
        assert_eq!(decoded, header);
        assert_eq!(decoded.src.tags, a.tags, "the sender keeps its tags");
        assert!(decoded.dst.tags.is_empty(), "the destination travels light");
        assert_eq!(slice, &[0xAB, 0xCD], "exactly the header was consumed");
    }

    #[test]
    fn member_round_trips() {
        let member = Member::new(node("a", 1), 3, State::Suspect);
        let mut bytes = Vec::new();
        WireCodec
            .encode_member(&member, &mut bytes)
            .expect("encodes");
        let decoded = WireCodec.decode_member(&bytes[..]).expect("decodes");
        assert_eq!(decoded, member);
        assert_eq!(decoded.id().tags, member.id().tags);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &[][..],
            &[DATAGRAM_VERSION][..],
            &[9, 1, 2, 3][..],
            &[
                DATAGRAM_VERSION,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
            ][..],
            &[
                DATAGRAM_VERSION,
                253,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0x7F,
            ][..],
        ] {
            assert!(WireCodec.decode_header(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn tagged_items_round_trip_and_refuse_other_tags() {
        let bytes = encode_tagged(7, &("a".to_string(), 9u64)).expect("encodes");
        assert_eq!(bytes[0], 7);
        let back: (String, u64) = decode_tagged(7, &bytes).expect("decodes");
        assert_eq!(back, ("a".to_string(), 9));
        let wrong = decode_tagged::<(String, u64)>(8, &bytes);
        assert!(matches!(wrong, Err(TaggedError::Unsupported(7))));
        assert!(matches!(
            decode_tagged::<u64>(7, &[]),
            Err(TaggedError::Empty)
        ));
        assert!(matches!(
            decode_tagged::<String>(7, &[7, 0xFF]),
            Err(TaggedError::Malformed(_))
        ));
    }

    #[test]
    fn broadcast_room_leaves_space_for_the_largest_header() {
        let small = broadcast_room(&node("a", 1));
        let tags = Tags::from([("k".to_string(), "v".repeat(400))]);
        let tagged = NodeId::new("a", SocketAddr::from(([127, 0, 0, 1], 1)), tags);
        let big = broadcast_room(&tagged);
        assert!(small > 1000, "{small}");
        assert!(big + 350 < small, "{big} vs {small}");
        // A ping from `a` to the longest name, plus the item, fits the datagram.
        let dst = node(&"n".repeat(crate::gossip::MAX_NODE_NAME), 2);
        let header = Header {
            src: node("a", 1),
            src_incarnation: 0,
            dst,
            message: Message::Ping(0),
        };
        let mut bytes = Vec::new();
        WireCodec
            .encode_header(&header, &mut bytes)
            .expect("encodes");
        assert!(bytes.len() + BROADCAST_FRAMING + small <= MAX_DATAGRAM);
    }

    #[test]
    fn encoding_never_overflows_the_buffer() {
        let member = Member::new(node("a", 1), 0, State::Alive);
        let mut small = Vec::new();
        let limited = (&mut small).limit(4);
        assert!(WireCodec.encode_member(&member, limited).is_err());
        assert!(small.is_empty(), "nothing was written");
    }
}
