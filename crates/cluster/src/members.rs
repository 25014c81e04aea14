//! What gossip tags say about a member, as Consul's tags say it: `role` (`consul` for a server,
//! `node` for a client agent), `dc`, `id` (the node ID), `port` (a server's RPC port) and
//! `expect` (its `-bootstrap-expect`).

use senate_consensus::ServerNode;
use senate_gossip::{Member, MemberStatus};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Consul's protocol version tags, which clients such as Consul's CLI read.
const VERSION_TAGS: [(&str, &str); 4] = [
    ("vsn", "2"),
    ("vsn_min", "2"),
    ("vsn_max", "3"),
    ("raft_vsn", "3"),
];

/// How this agent describes itself in gossip.
#[derive(Clone, Debug)]
pub struct LocalIdentity {
    pub node_id: String,
    pub datacenter: String,
    pub build: String,
    /// A server's RPC port and `-bootstrap-expect`; `None` on a client agent.
    pub server: Option<ServerRole>,
}

/// A server's gossip facts.
#[derive(Clone, Copy, Debug)]
pub struct ServerRole {
    pub rpc_port: u16,
    pub bootstrap_expect: u32,
    pub bootstrap: bool,
}

impl LocalIdentity {
    /// The gossip tags for this agent.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags: BTreeMap<String, String> = VERSION_TAGS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tags.insert("dc".into(), self.datacenter.clone());
        tags.insert("id".into(), self.node_id.clone());
        tags.insert("build".into(), self.build.clone());
        tags.insert("segment".into(), String::new());
        match self.server {
            Some(role) => {
                tags.insert("role".into(), "consul".into());
                tags.insert("port".into(), role.rpc_port.to_string());
                if role.bootstrap_expect > 0 {
                    tags.insert("expect".into(), role.bootstrap_expect.to_string());
                }
                if role.bootstrap {
                    tags.insert("bootstrap".into(), "1".into());
                }
            }
            None => {
                tags.insert("role".into(), "node".into());
            }
        }
        tags
    }
}

/// A server as gossip sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipServer {
    pub node: ServerNode,
    pub datacenter: String,
    pub status: MemberStatus,
    /// Its `-bootstrap-expect`, 0 if it gave none.
    pub expect: u32,
}

/// The server a member is, if it is one with readable tags.
pub fn as_server(member: &Member) -> Option<GossipServer> {
    if member.tags.get("role").map(String::as_str) != Some("consul") {
        return None;
    }
    let port: u16 = member.tags.get("port")?.parse().ok()?;
    let id = member.tags.get("id")?.clone();
    Some(GossipServer {
        node: ServerNode {
            id,
            name: member.name.clone(),
            address: SocketAddr::new(member.addr, port).to_string(),
        },
        datacenter: member.tags.get("dc").cloned().unwrap_or_default(),
        status: member.status,
        expect: member
            .tags
            .get("expect")
            .and_then(|e| e.parse().ok())
            .unwrap_or(0),
    })
}

/// The servers of `datacenter` among `members`.
pub fn servers_in(members: &[Member], datacenter: &str) -> Vec<GossipServer> {
    members
        .iter()
        .filter_map(as_server)
        .filter(|server| server.datacenter == datacenter)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, tags: BTreeMap<String, String>) -> Member {
        Member {
            name: name.into(),
            addr: "127.0.0.1".parse().unwrap(),
            port: 8301,
            tags,
            status: MemberStatus::Alive,
            protocol_min: 1,
            protocol_max: 5,
            protocol_cur: 2,
            delegate_min: 2,
            delegate_max: 5,
            delegate_cur: 4,
        }
    }

    fn identity(server: Option<ServerRole>) -> LocalIdentity {
        LocalIdentity {
            node_id: "id-1".into(),
            datacenter: "dc1".into(),
            build: "0.1.0".into(),
            server,
        }
    }

    #[test]
    fn a_server_reads_back_from_its_own_tags() {
        let role = ServerRole {
            rpc_port: 8300,
            bootstrap_expect: 3,
            bootstrap: false,
        };
        let server = as_server(&member("s1", identity(Some(role)).tags())).unwrap();
        assert_eq!(server.node.address, "127.0.0.1:8300");
        assert_eq!(server.node.id, "id-1");
        assert_eq!((server.expect, server.datacenter.as_str()), (3, "dc1"));
    }

    #[test]
    fn clients_and_other_datacenters_are_not_our_servers() {
        let members = [member("c1", identity(None).tags())];
        assert!(servers_in(&members, "dc1").is_empty());
        let role = ServerRole {
            rpc_port: 8300,
            bootstrap_expect: 0,
            bootstrap: false,
        };
        let members = [member("s1", identity(Some(role)).tags())];
        assert!(servers_in(&members, "dc2").is_empty());
        assert_eq!(servers_in(&members, "dc1").len(), 1);
    }
}
