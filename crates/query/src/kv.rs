//! KV reads: one entry (JSON or its raw value), a subtree, or the keys under a prefix.

use crate::query::Answer;
use crate::render::json_bytes;
use senate_state::Tables;
use senate_types::kv::KvPairJson;

/// One entry: `[{...}]`, or with `raw` the bare value; missing when there is no such key.
pub fn entry(tables: &Tables, key: &str, raw: bool, pretty: bool) -> Answer {
    let (index, entry) = tables.kv_get(key);
    match entry {
        None => Answer::missing(index),
        Some(entry) if raw => Answer::found(index, entry.value.clone()),
        Some(entry) => Answer::found(index, json_bytes(&[KvPairJson(entry)], pretty)),
    }
}

/// Every entry under `prefix`; missing when there is none.
pub fn tree(tables: &Tables, prefix: &str, pretty: bool) -> Answer {
    let (index, entries) = tables.kv_list(prefix);
    if entries.is_empty() {
        return Answer::missing(index);
    }
    let rendered: Vec<KvPairJson> = entries.into_iter().map(KvPairJson).collect();
    Answer::found(index, json_bytes(&rendered, pretty))
}

/// The keys under `prefix`, folded at `separator`; missing when there is none under a
/// non-empty prefix (the whole store answers `[]`).
pub fn keys(tables: &Tables, prefix: &str, separator: &str, pretty: bool) -> Answer {
    let (index, keys) = tables.kv_keys(prefix, separator);
    if keys.is_empty() && !prefix.is_empty() {
        return Answer::missing(index);
    }
    Answer::found(index, json_bytes(&keys, pretty))
}
