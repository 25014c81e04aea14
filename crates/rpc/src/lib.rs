//! Senate's server RPC transport: many request/response calls multiplexed over one TCP
//! connection per peer, on the servers' RPC port (Consul's 8300). It carries Raft messages and
//! requests a follower forwards to the leader, including blocking queries that park for minutes.
//!
//! - [`frame`]: the wire format — length-delimited frames, each tagged with the protocol version.
//! - [`writer`]: the per-connection writer task that batches queued frames into one write.
//! - [`server`]: [`RpcServer`] accepts connections and runs every request's [`Handler`] as its
//!   own task.
//! - [`client`]: [`RpcClient`], a pool with one multiplexed connection per peer address.
//! - [`connection`]: one client connection — its in-flight calls and its response reader.
//! - [`error`]: [`RpcError`], what a call can fail with.
//!
//! Every frame on the wire:
//!
//! ```text
//! +-----------+---------+------+-----------+------+---------------+
//! | length    | version | type | stream id | kind | payload ...   |
//! | u32 BE    | u8      | u8   | u64 BE    | u8   | length-11     |
//! +-----------+---------+------+-----------+------+---------------+
//! ```
//!
//! `length` counts everything after itself (the 11 header bytes plus the payload). The first five
//! bytes (`length`, `version`) keep this layout in every protocol version, so a peer speaking
//! another version is recognised and told so.

pub mod client;
pub mod connection;
pub mod error;
pub mod frame;
pub mod server;
pub mod writer;

pub use client::{ClientOptions, RpcClient};
pub use error::RpcError;
pub use server::{Handler, RpcServer, ServerOptions};

/// The protocol version this build speaks; carried in every frame.
pub const PROTOCOL_VERSION: u8 = 1;

/// What a request is for; the payload's format belongs to the caller.
pub type Kind = u8;

/// The default largest frame (header plus payload) either side accepts: 128 MiB.
pub const DEFAULT_MAX_FRAME: usize = 128 * 1024 * 1024;
