//! This agent as a LAN gossip member: the address it advertises and the identity its tags carry.

use crate::config::AgentConfig;
use senate_cluster::members::{LocalIdentity, ServerRole};
use senate_types::version::CONSUL_API_VERSION;
use std::net::{IpAddr, Ipv4Addr};

/// The address other nodes reach this agent at: `advertise`, else `bind` unless it is unspecified.
pub fn advertise_ip(config: &AgentConfig) -> IpAddr {
    config
        .advertise_addr
        .or(Some(config.bind_addr).filter(|ip| !ip.is_unspecified()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// How this agent describes itself in gossip.
pub fn local_identity(config: &AgentConfig) -> LocalIdentity {
    LocalIdentity {
        node_id: config.node_id.clone().unwrap_or_default(),
        datacenter: config.datacenter.clone(),
        build: format!("{CONSUL_API_VERSION}:senate-{}", env!("CARGO_PKG_VERSION")),
        server: config.server.then(|| ServerRole {
            rpc_port: config.ports.server.unwrap_or(8300),
            bootstrap_expect: config.bootstrap_expect,
            bootstrap: config.bootstrap,
        }),
    }
}
