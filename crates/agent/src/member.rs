//! This agent as a LAN gossip member, in the shape `/v1/agent/members` and `/v1/agent/self` report.

use crate::config::AgentConfig;
use senate_types::version::CONSUL_API_VERSION;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

/// Serf's status code for a live member.
pub const MEMBER_ALIVE: u8 = 1;

/// One gossip member.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Member {
    pub name: String,
    pub addr: String,
    pub port: u16,
    pub tags: BTreeMap<String, String>,
    pub status: u8,
    pub protocol_min: u8,
    pub protocol_max: u8,
    pub protocol_cur: u8,
    pub delegate_min: u8,
    pub delegate_max: u8,
    pub delegate_cur: u8,
}

/// The address other nodes reach this agent at: `advertise`, else `bind` unless it is unspecified.
pub fn advertise_ip(config: &AgentConfig) -> IpAddr {
    config
        .advertise_addr
        .or(Some(config.bind_addr).filter(|ip| !ip.is_unspecified()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// This agent's own member record.
pub fn local_member(config: &AgentConfig) -> Member {
    let mut tags = BTreeMap::from([
        ("build".to_string(), format!("{CONSUL_API_VERSION}:senate")),
        ("dc".to_string(), config.datacenter.clone()),
        ("segment".to_string(), String::new()),
        ("vsn".to_string(), "2".to_string()),
        ("vsn_min".to_string(), "2".to_string()),
        ("vsn_max".to_string(), "3".to_string()),
    ]);
    if let Some(id) = &config.node_id {
        tags.insert("id".to_string(), id.clone());
    }
    if config.server {
        tags.insert("role".to_string(), "consul".to_string());
        tags.insert("raft_vsn".to_string(), "3".to_string());
        tags.insert(
            "port".to_string(),
            config.ports.server.unwrap_or(8300).to_string(),
        );
        if config.bootstrap {
            tags.insert("bootstrap".to_string(), "1".to_string());
        }
        if config.bootstrap_expect > 1 {
            tags.insert("expect".to_string(), config.bootstrap_expect.to_string());
        }
    } else {
        tags.insert("role".to_string(), "node".to_string());
    }
    Member {
        name: config.node_name.clone(),
        addr: advertise_ip(config).to_string(),
        port: config.ports.serf_lan.unwrap_or(8301),
        tags,
        status: MEMBER_ALIVE,
        protocol_min: 1,
        protocol_max: 5,
        protocol_cur: 2,
        delegate_min: 2,
        delegate_max: 5,
        delegate_cur: 4,
    }
}
