//! Anti-entropy: makes the catalog's view of this node match the agent's own state — the node
//! record, its `serfHealth` check, and every local service and check — and repairs drift as soon
//! as the catalog's record of this node changes, and at least every second. The catalog's record
//! is read as a query through the backend, so a client agent (which holds no replica) does it
//! through a server exactly as a server does it locally.

use crate::local::LocalState;
use crate::local_agent::LocalAgent;
use crate::member::advertise_ip;
use senate_cluster::{Backend, ClusterError};
use senate_query::catalog::NodeRecord;
use senate_query::{Consistency, Query, QueryOptions};
use senate_state::Command;
use senate_types::catalog::{
    Deregistration, HealthCheck, Node, Registration, ServiceInstance, SERF_HEALTH_CHECK,
};
use std::collections::HashMap;
use std::sync::Weak;
use std::time::{Duration, Instant};

/// How often the agent compares its state with the catalog (and looks for services whose
/// checks stayed critical too long) even when nothing seemed to change.
const TICK: Duration = Duration::from_secs(1);
/// How long to wait before retrying a failed sync.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Runs anti-entropy until the agent is dropped.
pub(crate) async fn run(agent: Weak<LocalAgent>) {
    let mut output_synced_at: HashMap<String, Instant> = HashMap::new();
    loop {
        let Some(strong) = agent.upgrade() else {
            return;
        };
        strong.reap_critical_services();
        let shared = strong.shared.clone();
        let local_changed = shared.sync_needed.notified();
        tokio::pin!(local_changed);
        local_changed.as_mut().enable();
        let (index, wait) = match strong.sync_once(&mut output_synced_at, true).await {
            Ok(index) => (index, TICK),
            Err(error) => {
                tracing::warn!(%error, "anti-entropy sync failed; retrying");
                (0, RETRY_AFTER)
            }
        };
        let (backend, node) = (strong.backend.clone(), strong.config.node_name.clone());
        drop(strong);
        tokio::select! {
            _ = catalog_changed(&backend, node, index, wait) => {}
            _ = &mut local_changed => {}
        }
    }
}

/// Returns once the catalog's record of `node` moves past `index`, or after about `wait`.
async fn catalog_changed(backend: &Backend, node: String, index: u64, wait: Duration) {
    let started = Instant::now();
    let watched = node_record(backend, node, index, wait).await;
    if watched.is_err() || index == 0 {
        tokio::time::sleep(wait.saturating_sub(started.elapsed())).await;
    }
}

/// The catalog's record of `node` (from any server's replica), blocking while its index is
/// `min_index` (0: at once).
async fn node_record(
    backend: &Backend,
    node: String,
    min_index: u64,
    wait: Duration,
) -> Result<(u64, bool, NodeRecord), ClusterError> {
    let options = QueryOptions {
        consistency: Consistency::Stale,
        min_index,
        wait,
        ..QueryOptions::default()
    };
    let reply = backend.read(&Query::NodeRecord { node }, &options).await?;
    let body = reply.answer.body.unwrap_or_default();
    let record = NodeRecord::decode(&body)
        .map_err(|e| ClusterError::Remote(format!("reading this node's catalog record: {e}")))?;
    Ok((reply.answer.index, reply.known_leader, record))
}

impl LocalAgent {
    /// Pushes every difference between local state and the catalog, in one Raft entry (with
    /// `only_with_leader`, only once the replica that answered knows a leader); returns the
    /// index of the catalog record it compared with.
    pub(crate) async fn sync_once(
        &self,
        output_synced_at: &mut HashMap<String, Instant>,
        only_with_leader: bool,
    ) -> Result<u64, ClusterError> {
        let node = self.config.node_name.clone();
        let (index, known_leader, record) = node_record(&self.backend, node, 0, TICK).await?;
        if only_with_leader && !known_leader {
            return Ok(index);
        }
        let local = self.shared.lock().clone();
        let commands = self.plan(&record, &local, output_synced_at);
        if commands.is_empty() {
            return Ok(index);
        }
        tracing::debug!(
            changes = commands.len(),
            "anti-entropy syncing this node to the catalog"
        );
        self.backend.write(Command::Batch(commands)).await?;
        Ok(index)
    }

    /// Brings the catalog in line with this agent now (used at start-up, once Raft has a leader).
    pub async fn sync_now(&self) -> Result<(), ClusterError> {
        self.sync_once(&mut HashMap::new(), false).await.map(|_| ())
    }

    fn plan(
        &self,
        record: &NodeRecord,
        local: &LocalState,
        output_synced_at: &mut HashMap<String, Instant>,
    ) -> Vec<Command> {
        let node_name = &self.config.node_name;
        let node = self.node_record();
        let mut commands = Vec::new();
        let node_current = record.node.as_ref().is_some_and(|n| n.same_as(&node));
        let catalog_checks = &record.checks;
        // The leader owns serfHealth from gossip; the agent only seeds it for a new node.
        let has_serf_health = catalog_checks
            .iter()
            .any(|c| c.check_id == SERF_HEALTH_CHECK);
        if !has_serf_health {
            let check = HealthCheck::serf_health(node_name, true);
            commands.push(register(node.clone(), None, vec![check]));
        } else if !node_current {
            commands.push(register(node.clone(), None, Vec::new()));
        }
        let catalog_services: HashMap<&str, &ServiceInstance> =
            record.services.iter().map(|s| (s.id.as_str(), s)).collect();
        let wanted_services: HashMap<&str, &ServiceInstance> = local
            .services
            .values()
            .map(|s| &s.instance)
            .chain(self.server_service.as_ref())
            .map(|s| (s.id.as_str(), s))
            .collect();
        for (id, service) in &wanted_services {
            let current = catalog_services.get(id).is_some_and(|c| c.same_as(service));
            if !current {
                commands.push(register(node.clone(), Some((*service).clone()), Vec::new()));
            }
        }
        for id in catalog_services
            .keys()
            .filter(|id| !wanted_services.contains_key(**id))
        {
            commands.push(Command::Deregister(Deregistration::Service {
                node: node_name.clone(),
                service_id: id.to_string(),
            }));
        }
        let catalog_checks: HashMap<&str, &HealthCheck> = catalog_checks
            .iter()
            .map(|c| (c.check_id.as_str(), c))
            .collect();
        for (id, local_check) in &local.checks {
            let wanted = &local_check.check;
            let push = match catalog_checks.get(id.as_str()) {
                None => true,
                Some(current) if !current.same_except_output(wanted) => true,
                Some(current) if current.output != wanted.output => {
                    self.output_sync_due(id, output_synced_at)
                }
                Some(_) => false,
            };
            if push {
                output_synced_at.insert(id.clone(), Instant::now());
                commands.push(register(node.clone(), None, vec![wanted.clone()]));
            }
        }
        for id in catalog_checks
            .keys()
            .filter(|id| **id != SERF_HEALTH_CHECK && !local.checks.contains_key(**id))
        {
            commands.push(Command::Deregister(Deregistration::Check {
                node: node_name.clone(),
                check_id: id.to_string(),
            }));
        }
        commands
    }

    /// Output-only changes are written at most once per `check_update_interval`, as in Consul.
    fn output_sync_due(&self, check_id: &str, output_synced_at: &HashMap<String, Instant>) -> bool {
        output_synced_at
            .get(check_id)
            .is_none_or(|at| at.elapsed() >= self.config.check_update_interval)
    }

    /// This node's catalog record as the agent's configuration describes it.
    pub fn node_record(&self) -> Node {
        let config = &self.config;
        let address = advertise_ip(config).to_string();
        let tagged_addresses = ["lan", "lan_ipv4", "wan", "wan_ipv4"]
            .into_iter()
            .map(|kind| (kind.to_string(), address.clone()))
            .collect();
        let mut meta = config.node_meta.clone();
        meta.entry("consul-network-segment".to_string())
            .or_default();
        Node {
            id: config.node_id.clone().unwrap_or_default(),
            node: config.node_name.clone(),
            address,
            datacenter: config.datacenter.clone(),
            tagged_addresses,
            meta,
            create_index: 0,
            modify_index: 0,
        }
    }
}

fn register(node: Node, service: Option<ServiceInstance>, checks: Vec<HealthCheck>) -> Command {
    Command::Register(Registration {
        node,
        skip_node_update: false,
        service,
        checks,
    })
}
