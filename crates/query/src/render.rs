//! JSON as Consul writes it: compact, or indented by four spaces with `?pretty`.

use serde::Serialize;

/// Serializes `value`, compact or pretty.
pub fn json_bytes<T: Serialize>(value: &T, pretty: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let written = if pretty {
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        value.serialize(&mut serializer)
    } else {
        serde_json::to_writer(&mut out, value)
    };
    if let Err(error) = written {
        tracing::error!(%error, "could not serialize a response");
    }
    if pretty {
        out.push(b'\n');
    }
    out
}
