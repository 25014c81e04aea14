//! Anti-entropy: makes the catalog's view of this node match the agent's own state — the node
//! record, its `serfHealth` check, and every local service and check — and repairs drift as soon
//! as the catalog's record of this node changes, and at least every second.

use crate::local::LocalState;
use crate::local_agent::LocalAgent;
use crate::member::advertise_ip;
use senate_state::{Command, Tables, Topic};
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
        let catalog_signal = strong
            .cluster
            .store()
            .subscribe(&Topic::Node(strong.config.node_name.clone()));
        let catalog_changed = catalog_signal.notified();
        let local_changed = shared.sync_needed.notified();
        tokio::pin!(catalog_changed, local_changed);
        catalog_changed.as_mut().enable();
        let synced = match strong.cluster.leadership().leader.is_some() {
            true => strong.sync_once(&mut output_synced_at).await,
            false => Ok(()),
        };
        let wait = match synced {
            Ok(()) => TICK,
            Err(error) => {
                tracing::warn!(%error, "anti-entropy sync failed; retrying");
                RETRY_AFTER
            }
        };
        drop(strong);
        tokio::select! {
            _ = &mut catalog_changed => {}
            _ = &mut local_changed => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

impl LocalAgent {
    /// Pushes every difference between local state and the catalog, in one Raft entry.
    pub(crate) async fn sync_once(
        &self,
        output_synced_at: &mut HashMap<String, Instant>,
    ) -> Result<(), senate_cluster::ClusterError> {
        let local = self.shared.lock().clone();
        let tables = self.cluster.store().snapshot();
        let commands = self.plan(&tables, &local, output_synced_at);
        if commands.is_empty() {
            return Ok(());
        }
        tracing::debug!(
            changes = commands.len(),
            "anti-entropy syncing this node to the catalog"
        );
        self.cluster
            .write(Command::Batch(commands))
            .await
            .map(|_| ())
    }

    /// Brings the catalog in line with this agent now (used at start-up, once Raft has a leader).
    pub async fn sync_now(&self) -> Result<(), senate_cluster::ClusterError> {
        self.sync_once(&mut HashMap::new()).await
    }

    fn plan(
        &self,
        tables: &Tables,
        local: &LocalState,
        output_synced_at: &mut HashMap<String, Instant>,
    ) -> Vec<Command> {
        let node_name = &self.config.node_name;
        let node = self.node_record();
        let mut commands = Vec::new();
        let registered = tables.node(node_name);
        let node_current = registered.is_some_and(|n| n.same_as(&node));
        let (_, catalog_checks) = tables.node_checks(node_name);
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
            match tables.node_services(node_name).1 {
                Some((_, services)) => services.into_iter().map(|s| (s.id.as_str(), s)).collect(),
                None => HashMap::new(),
            };
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
            .into_iter()
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
