//! LAN gossip membership for Senate: SWIM, as Consul's serf LAN pool does it, built on the
//! sans-IO `foca` core with a small tokio runtime around it.
//!
//! - [`gossip`]: the public handle — start, join, members, tags, leave, force-leave, keyring,
//!   user events, network coordinates.
//! - [`config`]: configuration (encryption included), and foca's configuration derived from
//!   the timings.
//! - [`member`]: members and statuses as Consul reports them; foca state → status.
//! - [`error`]: why an operation failed.
//! - `actor`: the one task that owns foca: datagrams, timers and commands in, datagrams out.
//! - `identity`: foca's identity — name, address, tags, and a generation that wins rejoins.
//! - `codec`: the datagram wire format, and the tagged form of broadcasts and coordinate pings.
//! - `frame` and `exchange`: framing of the TCP exchanges on the gossip port, their client,
//!   and the listener that answers them.
//! - `join`: the join exchange (hello, welcome or refusal).
//! - `push_pull`: the periodic full-state exchange (the join exchange) with a random member.
//! - `broadcasts`: foca's custom broadcasts, told apart by their first byte: leave intents
//!   and user events.
//! - `intents`: leave intents, broadcast so a left member reads Left and not Failed.
//! - [`event`]: user events (Consul's `/v1/event/fire`) as fired and as delivered, and their
//!   wire form.
//! - `events`: the Lamport event clock, the window that delivers each event once, and the
//!   broadcast handler for events.
//! - `ping`, `prober` and `coordinates`: network coordinates — coordinate pings and acks on
//!   the gossip socket, the task that sends and answers them, and the Vivaldi estimate (with
//!   the peers' last coordinates) the round-trip times refine.
//! - `shared`: the published member list and its change counter.
//! - `timers`, `udp`, `address`: foca's timers, the UDP receive loop (which routes coordinate
//!   pings to the prober and the rest to the actor), join address parsing.
//!
//! Gossip encryption, as Consul and serf have it:
//! - `cipher`: one AES-GCM key (16, 24 or 32 bytes, base64) sealing and opening messages.
//! - `keyring`: the primary and other installed keys, and the operations that change them.
//! - `keyring_file`: the keyring persisted as Consul's `serf/local.keyring`.
//! - `encryption`: the wire policy (verify incoming/outgoing) over the live keyring.
//! - `key_query`: keyring operations run across the pool, and their report.

mod actor;
mod address;
mod broadcasts;
mod cipher;
mod codec;
pub mod config;
mod coordinates;
mod encryption;
pub mod error;
pub mod event;
mod events;
mod exchange;
mod frame;
pub mod gossip;
mod identity;
mod intents;
mod join;
mod key_query;
mod keyring;
mod keyring_file;
pub mod member;
mod ping;
mod prober;
mod push_pull;
mod shared;
mod timers;
mod udp;

#[doc(hidden)]
pub use codec::fuzzing;

pub use address::DEFAULT_PORT;
pub use cipher::KeyError;
pub use config::{EncryptionConfig, GossipConfig, GossipTiming, REAP_INTERVAL};
pub use error::GossipError;
pub use event::{DeliveredEvent, UserEventMessage};
pub use gossip::{retry_join, Gossip, MAX_NODE_NAME, MAX_TAGS_SIZE};
pub use key_query::KeyringReport;
pub use keyring::KeyringOp;
pub use member::{Member, MemberStatus, DELEGATE, PROTOCOL};
