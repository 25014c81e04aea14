//! Senate's replicated state: the tables every server holds, how Raft commands change them,
//! and the watches that wake blocking queries.
//!
//! - [`command`]: the typed commands carried in the Raft log and their outcomes.
//! - [`tables`]: the immutable, cheaply cloned [`tables::Tables`] value (one MVCC version).
//! - [`kv`], [`session`], [`catalog`], [`coordinate`], [`operator`]: reads and writes of each table.
//! - [`watch`]: topic subscriptions, so a blocking query wakes only when what it read may have changed.
//! - [`store`]: the [`store::Store`] that publishes versions lock-free and applies command batches.

pub mod catalog;
pub mod command;
pub mod coordinate;
pub mod kv;
pub mod operator;
pub mod session;
pub mod store;
pub mod tables;
pub mod watch;

pub use command::{Command, Outcome};
pub use store::Store;
pub use tables::Tables;
pub use watch::Topic;
