//! Key/value entries as stored, and their JSON rendering in Consul's `KVPair` shape.

use base64::Engine as _;
use bytes::Bytes;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// Consul's limit on the size of one value.
pub const MAX_VALUE_BYTES: usize = 512 * 1024;

/// One key as the state store holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    pub key: String,
    pub value: Bytes,
    pub flags: u64,
    /// The session holding this key's lock, if any.
    pub session: Option<String>,
    pub lock_index: u64,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Renders a [`KvEntry`] as Consul's JSON `KVPair`: base64 `Value` (null when empty), `Session` only when held.
pub struct KvPairJson<'a>(pub &'a KvEntry);

impl Serialize for KvPairJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entry = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("LockIndex", &entry.lock_index)?;
        map.serialize_entry("Key", &entry.key)?;
        map.serialize_entry("Flags", &entry.flags)?;
        let value = (!entry.value.is_empty())
            .then(|| base64::engine::general_purpose::STANDARD.encode(&entry.value));
        map.serialize_entry("Value", &value)?;
        if let Some(session) = &entry.session {
            map.serialize_entry("Session", session)?;
        }
        map.serialize_entry("CreateIndex", &entry.create_index)?;
        map.serialize_entry("ModifyIndex", &entry.modify_index)?;
        map.end()
    }
}
