//! Catalog records — nodes, service instances and health checks — as stored and as Consul's
//! JSON shows them, plus the register/deregister requests `/v1/catalog/*` takes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The check every agent registers for its own node: the gossip layer's view of its liveness.
pub const SERF_HEALTH_CHECK: &str = "serfHealth";

/// A node in the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Node {
    #[serde(rename = "ID")]
    pub id: String,
    pub node: String,
    pub address: String,
    pub datacenter: String,
    pub tagged_addresses: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// The states a health check can be in.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Passing,
    Warning,
    #[default]
    Critical,
    Maintenance,
    Unknown,
}

impl CheckStatus {
    /// Reads a status name as Consul spells it.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "passing" => Some(CheckStatus::Passing),
            "warning" => Some(CheckStatus::Warning),
            "critical" => Some(CheckStatus::Critical),
            "maintenance" => Some(CheckStatus::Maintenance),
            "unknown" => Some(CheckStatus::Unknown),
            _ => None,
        }
    }

    /// The status name as Consul spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passing => "passing",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
            CheckStatus::Maintenance => "maintenance",
            CheckStatus::Unknown => "unknown",
        }
    }
}

/// A health check registered in the catalog, node-level when `service_id` is empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthCheck {
    pub node: String,
    #[serde(rename = "CheckID")]
    pub check_id: String,
    pub name: String,
    pub status: CheckStatus,
    pub notes: String,
    pub output: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    pub service_name: String,
    pub service_tags: Vec<String>,
    #[serde(rename = "Type")]
    pub check_type: String,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Load-balancing weights of a service instance by health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Weights {
    pub passing: u32,
    pub warning: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// One instance of a service on a node, as `/v1/catalog/node` and `/v1/health/service` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceInstance {
    #[serde(rename = "ID")]
    pub id: String,
    pub service: String,
    pub tags: Vec<String>,
    pub address: String,
    pub meta: BTreeMap<String, String>,
    pub port: u16,
    pub weights: Weights,
    pub enable_tag_override: bool,
    pub create_index: u64,
    pub modify_index: u64,
}

/// The `Service` block of a registration, every field optional as clients send it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceInput {
    #[serde(rename = "ID")]
    pub id: Option<String>,
    pub service: Option<String>,
    pub tags: Option<Vec<String>>,
    pub address: Option<String>,
    pub meta: Option<BTreeMap<String, String>>,
    pub port: Option<u16>,
    pub weights: Option<Weights>,
    pub enable_tag_override: Option<bool>,
}

/// A `Check` block of a catalog registration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckInput {
    pub node: Option<String>,
    #[serde(rename = "CheckID")]
    pub check_id: Option<String>,
    pub name: Option<String>,
    pub notes: Option<String>,
    pub status: Option<String>,
    pub output: Option<String>,
    #[serde(rename = "ServiceID")]
    pub service_id: Option<String>,
    #[serde(rename = "Type")]
    pub check_type: Option<String>,
}

/// The body of `PUT /v1/catalog/register`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegisterInput {
    pub datacenter: Option<String>,
    #[serde(rename = "ID")]
    pub id: Option<String>,
    pub node: Option<String>,
    pub address: Option<String>,
    pub tagged_addresses: Option<BTreeMap<String, String>>,
    pub node_meta: Option<BTreeMap<String, String>>,
    pub service: Option<ServiceInput>,
    pub check: Option<CheckInput>,
    pub checks: Option<Vec<CheckInput>>,
    pub skip_node_update: bool,
}

/// The body of `PUT /v1/catalog/deregister`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeregisterInput {
    pub datacenter: Option<String>,
    pub node: Option<String>,
    #[serde(rename = "ServiceID")]
    pub service_id: Option<String>,
    #[serde(rename = "CheckID")]
    pub check_id: Option<String>,
}

/// A validated registration, as carried in the Raft log: the node (unless only services and
/// checks are being added to an existing node), an optional service and its checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub node: Node,
    pub skip_node_update: bool,
    pub service: Option<ServiceInstance>,
    pub checks: Vec<HealthCheck>,
}

/// What a deregistration removes: a whole node, one service (with its checks), or one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deregistration {
    Node(String),
    Service { node: String, service_id: String },
    Check { node: String, check_id: String },
}

impl HealthCheck {
    /// The `serfHealth` check the leader keeps for a member: passing while gossip finds it
    /// alive, critical once it failed.
    pub fn serf_health(node: &str, alive: bool) -> HealthCheck {
        let (status, output) = match alive {
            true => (CheckStatus::Passing, "Agent alive and reachable"),
            false => (CheckStatus::Critical, "Agent not live or unreachable"),
        };
        HealthCheck {
            node: node.to_string(),
            check_id: SERF_HEALTH_CHECK.to_string(),
            name: "Serf Health Status".to_string(),
            status,
            notes: String::new(),
            output: output.to_string(),
            service_id: String::new(),
            service_name: String::new(),
            service_tags: Vec::new(),
            check_type: String::new(),
            create_index: 0,
            modify_index: 0,
        }
    }
}

impl Node {
    /// Whether two records say the same thing, whatever Raft indexes they carry.
    pub fn same_as(&self, other: &Node) -> bool {
        self.id == other.id
            && self.node == other.node
            && self.address == other.address
            && self.datacenter == other.datacenter
            && self.tagged_addresses == other.tagged_addresses
            && self.meta == other.meta
    }
}

impl ServiceInstance {
    /// Whether two records say the same thing, whatever Raft indexes they carry.
    pub fn same_as(&self, other: &ServiceInstance) -> bool {
        self.id == other.id
            && self.service == other.service
            && self.tags == other.tags
            && self.address == other.address
            && self.meta == other.meta
            && self.port == other.port
            && self.weights == other.weights
            && self.enable_tag_override == other.enable_tag_override
    }
}

impl HealthCheck {
    /// Whether two records say the same thing, whatever Raft indexes they carry.
    pub fn same_as(&self, other: &HealthCheck) -> bool {
        self.same_except_output(other)
            && self.output == other.output
            && self.service_name == other.service_name
            && self.service_tags == other.service_tags
    }

    /// Whether two records agree on what an agent sets — all but the output, the Raft indexes
    /// and the service name and tags the catalog copies from the service.
    pub fn same_except_output(&self, other: &HealthCheck) -> bool {
        self.node == other.node
            && self.check_id == other.check_id
            && self.name == other.name
            && self.status == other.status
            && self.notes == other.notes
            && self.service_id == other.service_id
            && self.check_type == other.check_type
    }
}
