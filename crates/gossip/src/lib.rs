//! LAN gossip membership for Senate: SWIM, as Consul's serf LAN pool does it, built on the
//! sans-IO `foca` core with a small tokio runtime around it.
//!
//! - [`gossip`]: the public handle — start, join, members, tags, leave, force-leave.
//! - [`config`]: configuration, and foca's configuration derived from the timings.
//! - [`member`]: members and statuses as Consul reports them; foca state → status.
//! - [`error`]: why an operation failed.
//! - `actor`: the one task that owns foca: datagrams, timers and commands in, datagrams out.
//! - `identity`: foca's identity — name, address, tags, and a generation that wins rejoins.
//! - `codec`: the datagram wire format.
//! - `frame` and `join`: the TCP join exchange (hello, welcome or refusal).
//! - `intents`: leave intents, broadcast so a left member reads Left and not Failed.
//! - `shared`: the published member list and its change counter.
//! - `timers`, `udp`, `address`: foca's timers, the UDP receive loop, join address parsing.

mod actor;
mod address;
mod codec;
pub mod config;
pub mod error;
mod frame;
pub mod gossip;
mod identity;
mod intents;
mod join;
pub mod member;
mod shared;
mod timers;
mod udp;

pub use address::DEFAULT_PORT;
pub use config::{GossipConfig, GossipTiming, REAP_INTERVAL};
pub use error::GossipError;
pub use gossip::{retry_join, Gossip, MAX_NODE_NAME, MAX_TAGS_SIZE};
pub use member::{Member, MemberStatus, DELEGATE, PROTOCOL};
