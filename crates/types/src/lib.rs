//! Wire types of Consul's HTTP API as Senate speaks them, plus the small parsers they need.
//!
//! Stored records (`KvEntry`, `Session`, ...) serialize the same way to the Raft log (bincode)
//! and to HTTP responses (JSON), so they carry no conditional serde attributes; where Consul's
//! JSON differs from the stored shape, a borrowed view type renders it.

pub mod catalog;
pub mod duration;
pub mod json;
pub mod kv;
pub mod operator;
pub mod session;
pub mod time;
pub mod version;
