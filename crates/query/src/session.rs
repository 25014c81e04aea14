//! Session reads: one session, a node's sessions, or all of them.

use crate::query::Answer;
use crate::render::json_bytes;
use senate_state::Tables;

/// `[session]`, or `[]` when there is no such session (as Consul answers).
pub fn info(tables: &Tables, id: &str, pretty: bool) -> Answer {
    let (index, session) = tables.session_get(id);
    let found: Vec<_> = session.into_iter().collect();
    Answer::found(index, json_bytes(&found, pretty))
}

/// The sessions of `node`.
pub fn of_node(tables: &Tables, node: &str, pretty: bool) -> Answer {
    let (index, sessions) = tables.session_list_by_node(node);
    Answer::found(index, json_bytes(&sessions, pretty))
}

/// Every session.
pub fn list(tables: &Tables, pretty: bool) -> Answer {
    let (index, sessions) = tables.session_list();
    Answer::found(index, json_bytes(&sessions, pretty))
}
