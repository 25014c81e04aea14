//! Members as the rest of Senate sees them (Consul's `/v1/agent/members` shape), and the pure
//! mapping from foca's membership state plus leave intents to that list.

use crate::identity::NodeId;
use crate::intents::Intents;
use foca::State;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Serf protocol versions Consul reports (min, max, current).
pub const PROTOCOL: (u8, u8, u8) = (1, 5, 2);

/// Consul's delegate protocol versions (min, max, current).
pub const DELEGATE: (u8, u8, u8) = (2, 5, 4);

/// A member's status, with serf's numeric codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum MemberStatus {
    None = 0,
    Alive = 1,
    Leaving = 2,
    Left = 3,
    Failed = 4,
}

impl MemberStatus {
    /// Serf's status code, as `/v1/agent/members` reports it.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemberStatus::None => "none",
            MemberStatus::Alive => "alive",
            MemberStatus::Leaving => "leaving",
            MemberStatus::Left => "left",
            MemberStatus::Failed => "failed",
        })
    }
}

/// One gossip member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub addr: IpAddr,
    pub port: u16,
    pub tags: BTreeMap<String, String>,
    pub status: MemberStatus,
    pub protocol_min: u8,
    pub protocol_max: u8,
    pub protocol_cur: u8,
    pub delegate_min: u8,
    pub delegate_max: u8,
    pub delegate_cur: u8,
}

impl Member {
    pub(crate) fn from_id(id: &NodeId, status: MemberStatus) -> Member {
        Member {
            name: id.name.to_string(),
            addr: id.addr.ip(),
            port: id.addr.port(),
            tags: (*id.tags).clone(),
            status,
            protocol_min: PROTOCOL.0,
            protocol_max: PROTOCOL.1,
            protocol_cur: PROTOCOL.2,
            delegate_min: DELEGATE.0,
            delegate_max: DELEGATE.1,
            delegate_cur: DELEGATE.2,
        }
    }
}

/// A listed member and the generation of the identity it was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) member: Member,
    pub(crate) generation: u64,
}

impl Row {
    pub(crate) fn new(id: &NodeId, status: MemberStatus) -> Row {
        Row {
            member: Member::from_id(id, status),
            generation: id.generation,
        }
    }
}

/// What a remote member is listed as: foca's Up is Alive (suspects included, as in serf);
/// Down is Left when a leave intent covers that identity, Failed otherwise; `None` when a
/// pruning force-leave removed it from the list.
pub(crate) fn status_of(state: State, id: &NodeId, intents: &Intents) -> Option<MemberStatus> {
    match state {
        State::Alive | State::Suspect => Some(MemberStatus::Alive),
        State::Down => match intents.get(&*id.name) {
            Some(intent) if intent.generation >= id.generation => {
                (!intent.prune).then_some(MemberStatus::Left)
            }
            _ => Some(MemberStatus::Failed),
        },
    }
}

/// The member list: this node, then every remote member foca knows (down ones until foca
/// reaps them), keyed by name. foca keeps one identity per name, except that it may remember
/// an old identity of this node as down; this node's own row always wins.
pub(crate) fn build_table<'a>(
    local: Row,
    remotes: impl Iterator<Item = (&'a NodeId, State)>,
    intents: &Intents,
) -> BTreeMap<String, Row> {
    let mut table = BTreeMap::new();
    for (id, state) in remotes {
        if *id.name == *local.member.name {
            continue;
        }
        if let Some(status) = status_of(state, id, intents) {
            table.insert(id.name.to_string(), Row::new(id, status));
        }
    }
    table.insert(local.member.name.clone(), local);
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Tags;
    use crate::intents::Intent;
    use std::net::SocketAddr;

    fn id(name: &str, port: u16) -> NodeId {
        NodeId::new(name, SocketAddr::from(([127, 0, 0, 1], port)), Tags::new())
    }

    #[test]
    fn status_codes_and_names_are_serfs() {
        assert_eq!(MemberStatus::Alive.code(), 1);
        assert_eq!(MemberStatus::Left.code(), 3);
        assert_eq!(MemberStatus::Failed.code(), 4);
        assert_eq!(MemberStatus::Failed.to_string(), "failed");
        assert_eq!(MemberStatus::Leaving.to_string(), "leaving");
    }

    #[test]
    fn foca_states_map_to_statuses() {
        let node = id("b", 2);
        let none = Intents::new();
        assert_eq!(
            status_of(State::Alive, &node, &none),
            Some(MemberStatus::Alive)
        );
        assert_eq!(
            status_of(State::Suspect, &node, &none),
            Some(MemberStatus::Alive)
        );
        assert_eq!(
            status_of(State::Down, &node, &none),
            Some(MemberStatus::Failed)
        );
        let left = Intents::from([("b".to_string(), Intent::new(node.generation, false))]);
        assert_eq!(
            status_of(State::Down, &node, &left),
            Some(MemberStatus::Left)
        );
        assert_eq!(
            status_of(State::Alive, &node, &left),
            Some(MemberStatus::Alive)
        );
        let pruned = Intents::from([("b".to_string(), Intent::new(node.generation, true))]);
        assert_eq!(status_of(State::Down, &node, &pruned), None);
    }

    #[test]
    fn an_intent_for_an_older_identity_does_not_cover_a_newer_one() {
        let node = id("b", 2);
        let stale = Intents::from([("b".to_string(), Intent::new(node.generation - 1, true))]);
        assert_eq!(
            status_of(State::Down, &node, &stale),
            Some(MemberStatus::Failed)
        );
    }

    #[test]
    fn the_table_is_sorted_and_this_node_wins_its_name() {
        let local = id("m", 1);
        let (c, a, old_self) = (id("c", 3), id("a", 4), id("m", 5));
        let remotes = [
            (&c, State::Alive),
            (&a, State::Down),
            (&old_self, State::Down),
        ];
        let table = build_table(
            Row::new(&local, MemberStatus::Alive),
            remotes.iter().map(|(id, state)| (*id, *state)),
            &Intents::new(),
        );
        let names: Vec<&str> = table.keys().map(String::as_str).collect();
        assert_eq!(names, ["a", "c", "m"]);
        assert_eq!(table["m"].member.port, 1);
        assert_eq!(table["a"].member.status, MemberStatus::Failed);
        assert_eq!(table["m"].member.protocol_cur, 2);
        assert_eq!(table["m"].member.delegate_cur, 4);
    }
}
