//! Integration tests of Senate's Consul-compatible HTTP API: each test starts the real `senate`
//! binary on free loopback ports and checks its answers as a Consul client would see them.

mod agent_services;
mod anti_entropy;
mod bad_input;
mod blocking;
mod catalog;
mod checks;
mod client_agents;
mod cluster;
mod cluster_lifecycle;
mod coordinates;
mod durability;
mod events;
mod harness;
mod headers;
mod health;
#[path = "../http_client/mod.rs"]
mod http;
mod keyring;
mod kv;
mod locks;
mod ops;
mod sessions;
mod status;
