//! Who a gossip member is, as foca sees it: node name, advertised address, tags, and a
//! generation that lets a restarted or re-tagged node win over its previous identity.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A member's tags (Consul's serf tags: role, dc, port, ...).
pub(crate) type Tags = BTreeMap<String, String>;

/// One incarnation of a node in the cluster.
///
/// foca's `Identity::addr` is the node name: foca keeps one entry per name, and of two
/// identities with the same name the one with the higher generation wins. The generation
/// starts at the wall clock (in nanoseconds) when the process starts, so a restarted node
/// beats the identity it had before, and goes up by one on every renewal (being declared
/// down by mistake, changing tags).
///
/// Equality ignores the tags: a generation names one set of tags, and the datagram codec
/// sends the tags only where foca stores the identity (see `codec`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct NodeId {
    pub(crate) name: Arc<str>,
    pub(crate) addr: SocketAddr,
    pub(crate) generation: u64,
    pub(crate) tags: Arc<Tags>,
}

impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        self.generation == other.generation && self.addr == other.addr && self.name == other.name
    }
}

impl Eq for NodeId {}

impl NodeId {
    /// A first identity for a node starting now.
    pub(crate) fn new(name: &str, addr: SocketAddr, tags: Tags) -> NodeId {
        NodeId {
            name: Arc::from(name),
            addr,
            generation: clock_generation(),
            tags: Arc::new(tags),
        }
    }

    /// The identity that replaces this one when its tags change.
    pub(crate) fn with_tags(&self, tags: Tags) -> NodeId {
        NodeId {
            generation: self.generation.saturating_add(1),
            tags: Arc::new(tags),
            ..self.clone()
        }
    }

    /// The identity as the header's destination and message targets carry it: without tags.
    pub(crate) fn light(name: String, addr: SocketAddr, generation: u64) -> NodeId {
        NodeId {
            name: Arc::from(name),
            addr,
            generation,
            tags: Arc::default(),
        }
    }
}

impl foca::Identity for NodeId {
    type Addr = Arc<str>;

    fn renew(&self) -> Option<Self> {
        Some(NodeId {
            generation: self.generation.saturating_add(1),
            ..self.clone()
        })
    }

    fn addr(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        (self.generation, self.addr) > (adversary.generation, adversary.addr)
    }
}

/// Nanoseconds since the Unix epoch: later starts get larger generations.
fn clock_generation() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX / 2))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use foca::Identity;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_later_start_wins_over_the_old_identity() {
        let old = NodeId::new("a", addr(1), Tags::new());
        let restarted = NodeId::new("a", addr(2), Tags::new());
        assert!(restarted.generation > old.generation);
        assert!(restarted.win_addr_conflict(&old));
        assert!(!old.win_addr_conflict(&restarted));
        assert_eq!(old.addr(), restarted.addr());
    }

    #[test]
    fn renewal_and_new_tags_win_and_keep_the_name() {
        let id = NodeId::new("a", addr(1), Tags::new());
        let renewed = id.renew().expect("renews");
        assert!(renewed.win_addr_conflict(&id));
        let tagged = id.with_tags(Tags::from([("role".into(), "node".into())]));
        assert!(tagged.win_addr_conflict(&id));
        assert_ne!(tagged, id);
        assert_eq!(tagged.tags.get("role").map(String::as_str), Some("node"));
    }

    #[test]
    fn equality_ignores_tags() {
        let id = NodeId::new("a", addr(1), Tags::from([("k".into(), "v".into())]));
        let light = NodeId::light("a".into(), addr(1), id.generation);
        assert_eq!(id, light);
    }
}
