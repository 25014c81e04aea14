//! Sessions as stored and returned by `/v1/session/*`, and the create request clients send.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The session's behaviour when it is invalidated: release its locks, or delete the keys it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Behavior {
    #[default]
    Release,
    Delete,
}

/// A service-level health check a session is tied to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceCheckRef {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub namespace: String,
}

/// One session, in Consul's JSON shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Session {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub node: String,
    /// Every check the session depends on, node-level and service-level (the pre-1.7 field).
    pub checks: Vec<String>,
    pub node_checks: Vec<String>,
    pub service_checks: Vec<ServiceCheckRef>,
    /// Lock delay in nanoseconds, as Consul reports it.
    pub lock_delay: u64,
    pub behavior: Behavior,
    #[serde(rename = "TTL")]
    pub ttl: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Session {
    /// The lock delay as a duration.
    pub fn lock_delay(&self) -> Duration {
        Duration::from_nanos(self.lock_delay)
    }
}

/// The body of `PUT /v1/session/create`; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SessionCreateRequest {
    pub name: Option<String>,
    pub node: Option<String>,
    pub checks: Option<Vec<String>>,
    pub node_checks: Option<Vec<String>>,
    pub service_checks: Option<Vec<ServiceCheckRef>>,
    /// A duration string ("15s") or a number: seconds when small, nanoseconds otherwise.
    pub lock_delay: Option<serde_json::Value>,
    pub behavior: Option<String>,
    #[serde(rename = "TTL")]
    pub ttl: Option<String>,
}
