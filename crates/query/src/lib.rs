//! Reads of the replicated state expressed as data. A [`Query`] names what it reads (and so
//! which watch topics wake it); it runs against one MVCC version of the state tables and
//! answers with its index and its rendered body. Being plain data, a query can be handed to
//! another server — the leader, or later a server of another datacenter — and run there.
//!
//! - [`query`]: the [`Query`] value and the topics it watches.
//! - [`options`]: the options every read takes ([`QueryOptions`], [`Consistency`]).
//! - [`run`]: runs a query against the tables, blocking as asked.
//! - [`kv`], [`catalog`], [`health`], [`session`], [`coordinate`]: each area's reads and JSON views
//!   (`?near=` orders catalog and health results by network coordinates).
//! - [`filters`]: `?node-meta=` and `?tag=` matching shared by catalog and health reads.
//! - [`render`]: JSON as Consul writes it (compact, or `?pretty`).
//! - [`cache`]: rendered bodies of large reads, shared by clients asking the same thing.

pub mod cache;
pub mod catalog;
pub mod coordinate;
pub mod filters;
pub mod health;
pub mod kv;
pub mod options;
pub mod query;
pub mod render;
pub mod run;
pub mod session;

pub use cache::ResponseCache;
pub use options::{Consistency, QueryOptions};
pub use query::{Answer, Query};
pub use run::{block_until_changed, run_blocking};
