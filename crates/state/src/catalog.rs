//! The catalog tables: nodes, service instances and health checks, with the per-node and
//! per-service indexes that let a blocking query wake only for what it reads.

use crate::command::Outcome;
use crate::tables::{Changes, Tables};
use crate::watch::Topic;
use imbl::OrdMap;
use senate_types::catalog::{
    CheckStatus, Deregistration, HealthCheck, Node, Registration, ServiceInstance,
};
use std::collections::BTreeMap;

/// One service instance with the node it runs on and every check bearing on its health,
/// borrowed from one version of the tables; serializes as a `/v1/health/service` entry.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceHealth<'a> {
    pub node: &'a Node,
    pub service: &'a ServiceInstance,
    pub checks: Vec<&'a HealthCheck>,
}

type InstanceKey = (String, String);

impl Tables {
    /// Every node, in name order.
    pub fn nodes(&self) -> (u64, Vec<&Node>) {
        (
            Self::at_least_one(self.node_index),
            self.nodes.values().collect(),
        )
    }

    /// One node by name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// The index a read of one node (record, services, checks) should see.
    pub fn node_read_index(&self, node: &str) -> u64 {
        self.node_change_index
            .get(node)
            .copied()
            .unwrap_or_else(|| {
                Self::at_least_one(
                    self.node_index
                        .max(self.service_index)
                        .max(self.check_index),
                )
            })
    }

    /// The index a read of one service name should see.
    pub fn service_read_index(&self, name: &str) -> u64 {
        self.service_name_index
            .get(name)
            .copied()
            .unwrap_or_else(|| Self::at_least_one(self.service_index))
    }

    /// Every service name with the union of its instances' tags.
    pub fn service_names(&self) -> (u64, BTreeMap<String, Vec<String>>) {
        let names = self
            .tags_by_name
            .iter()
            .map(|(name, tags)| (name.clone(), tags.keys().cloned().collect()))
            .collect();
        (Self::at_least_one(self.service_index), names)
    }

    /// The instances of one service name with their nodes, in (node, ID) order.
    pub fn service_instances(&self, name: &str) -> (u64, Vec<(&Node, &ServiceInstance)>) {
        let instances = self
            .instance_keys(name)
            .filter_map(|key| Some((self.nodes.get(&key.0)?, self.services.get(key)?)))
            .collect();
        (self.service_read_index(name), instances)
    }

    /// One node with its services, if the node exists.
    pub fn node_services(&self, node: &str) -> (u64, Option<(&Node, Vec<&ServiceInstance>)>) {
        let found = self
            .nodes
            .get(node)
            .map(|record| (record, self.services_on(node).collect()));
        (self.node_read_index(node), found)
    }

    /// The checks registered on one node.
    pub fn node_checks(&self, node: &str) -> (u64, Vec<&HealthCheck>) {
        (self.node_read_index(node), self.checks_on(node).collect())
    }

    /// The service-level checks of every instance of one service name.
    pub fn service_checks(&self, name: &str) -> (u64, Vec<&HealthCheck>) {
        let checks = self
            .instance_keys(name)
            .flat_map(|(node, id)| self.checks_on(node).filter(move |c| &c.service_id == id))
            .collect();
        (self.service_read_index(name), checks)
    }

    /// Every instance of one service name with its node and all checks bearing on it.
    pub fn service_health(&self, name: &str) -> (u64, Vec<ServiceHealth<'_>>) {
        let entries = self
            .instance_keys(name)
            .filter_map(|key| {
                let (node, service) = (self.nodes.get(&key.0)?, self.services.get(key)?);
                let checks = self
                    .checks_on(&key.0)
                    .filter(|c| c.service_id.is_empty() || c.service_id == key.1)
                    .collect();
                Some(ServiceHealth {
                    node,
                    service,
                    checks,
                })
            })
            .collect();
        (self.service_read_index(name), entries)
    }

    /// Every check in the given state (`None`: every check).
    pub fn checks_in_state(&self, state: Option<CheckStatus>) -> (u64, Vec<&HealthCheck>) {
        let checks = self
            .checks
            .values()
            .filter(|c| state.is_none_or(|wanted| c.status == wanted))
            .collect();
        (Self::at_least_one(self.check_index), checks)
    }

    fn instance_keys<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a InstanceKey> + 'a {
        self.instances_by_name
            .get(name)
            .into_iter()
            .flat_map(|keys| keys.iter())
    }

    fn services_on<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a ServiceInstance> + 'a {
        range_of_node(&self.services, node).map(|(_, service)| service)
    }

    fn checks_on<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a HealthCheck> + 'a {
        range_of_node(&self.checks, node).map(|(_, check)| check)
    }

    pub(crate) fn apply_register(
        &mut self,
        index: u64,
        registration: Registration,
        changes: &mut Changes,
    ) -> Outcome {
        if let Err(reason) = self.validate_registration(&registration) {
            return Outcome::Rejected(reason);
        }
        let node_name = registration.node.node.clone();
        if !registration.skip_node_update || !self.nodes.contains_key(&node_name) {
            self.upsert_node(index, registration.node, changes);
        }
        if let Some(service) = registration.service {
            self.upsert_service(index, &node_name, service, changes);
        }
        for check in registration.checks {
            self.upsert_check(index, &node_name, check, changes);
        }
        Outcome::Done
    }

    fn validate_registration(&self, registration: &Registration) -> Result<(), String> {
        let node = &registration.node.node;
        if registration.skip_node_update
            && !self.nodes.contains_key(node)
            && registration.node.address.is_empty()
        {
            return Err(format!("Node \"{node}\" is not registered"));
        }
        let new_service = registration.service.as_ref().map(|s| s.id.as_str());
        for check in &registration.checks {
            let known = check.service_id.is_empty()
                || new_service == Some(check.service_id.as_str())
                || self
                    .services
                    .contains_key(&(node.clone(), check.service_id.clone()));
            if !known {
                return Err(format!(
                    "Unknown service ID \"{}\" for check ID \"{}\"",
                    check.service_id, check.check_id
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn apply_deregister(
        &mut self,
        index: u64,
        deregistration: Deregistration,
        changes: &mut Changes,
    ) -> Outcome {
        match deregistration {
            Deregistration::Node(node) => self.remove_node(index, &node, changes),
            Deregistration::Service { node, service_id } => {
                self.remove_service(index, &node, &service_id, changes)
            }
            Deregistration::Check { node, check_id } => {
                self.remove_check(index, &node, &check_id, changes)
            }
        }
        Outcome::Done
    }

    fn upsert_node(&mut self, index: u64, mut node: Node, changes: &mut Changes) {
        let existing = self.nodes.get(&node.node);
        if existing.is_some_and(|e| e.same_as(&node)) {
            return;
        }
        node.create_index = existing.map(|n| n.create_index).unwrap_or(index);
        node.modify_index = index;
        let name = node.node.clone();
        self.nodes.insert(name.clone(), node);
        self.node_index = index;
        changes.touch(Topic::Nodes);
        self.node_touched(index, &name, changes);
    }

    fn upsert_service(
        &mut self,
        index: u64,
        node: &str,
        mut service: ServiceInstance,
        changes: &mut Changes,
    ) {
        let key = (node.to_string(), service.id.clone());
        let existing = self.services.get(&key).cloned();
        if existing.as_ref().is_some_and(|e| e.same_as(&service)) {
            return;
        }
        service.create_index = existing.as_ref().map(|s| s.create_index).unwrap_or(index);
        service.modify_index = index;
        if let Some(old) = &existing {
            self.unindex_service(&key, old);
            self.service_touched(index, &old.service, changes);
        }
        self.index_service(&key, &service);
        let name = service.service.clone();
        self.services.insert(key, service);
        self.service_index = index;
        changes.touch(Topic::Services);
        self.service_touched(index, &name, changes);
        self.node_change_index.insert(node.to_string(), index);
        changes.touch(Topic::Node(node.to_string()));
    }

    pub(crate) fn upsert_check(
        &mut self,
        index: u64,
        node: &str,
        mut check: HealthCheck,
        changes: &mut Changes,
    ) {
        check.node = node.to_string();
        if let Some(service) = self
            .services
            .get(&(node.to_string(), check.service_id.clone()))
        {
            check.service_name = service.service.clone();
            check.service_tags = service.tags.clone();
        }
        let key = (node.to_string(), check.check_id.clone());
        let existing = self.checks.get(&key);
        if existing.is_some_and(|e| e.same_as(&check)) {
            return;
        }
        check.create_index = existing.map(|c| c.create_index).unwrap_or(index);
        check.modify_index = index;
        let went_critical = check.status == CheckStatus::Critical;
        let (check_id, service_id) = (check.check_id.clone(), check.service_id.clone());
        self.checks.insert(key, check);
        self.check_touched(index, node, &service_id, changes);
        if went_critical {
            self.invalidate_sessions_of_check(index, node, &check_id, changes);
        }
    }

    fn remove_node(&mut self, index: u64, node: &str, changes: &mut Changes) {
        if self.nodes.remove(node).is_none() {
            return;
        }
        let service_ids: Vec<String> = self.services_on(node).map(|s| s.id.clone()).collect();
        for service_id in service_ids {
            self.remove_service(index, node, &service_id, changes);
        }
        let check_ids: Vec<String> = self.checks_on(node).map(|c| c.check_id.clone()).collect();
        for check_id in check_ids {
            self.remove_check(index, node, &check_id, changes);
        }
        let sessions: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.node == node)
            .map(|s| s.id.clone())
            .collect();
        for id in sessions {
            self.invalidate_session(index, &id, changes);
        }
        self.forget_coordinates(index, node, changes);
        self.node_index = index;
        changes.touch(Topic::Nodes);
        self.node_change_index.insert(node.to_string(), index);
        changes.touch(Topic::Node(node.to_string()));
    }

    fn remove_service(&mut self, index: u64, node: &str, service_id: &str, changes: &mut Changes) {
        let key = (node.to_string(), service_id.to_string());
        let Some(service) = self.services.remove(&key) else {
            return;
        };
        self.unindex_service(&key, &service);
        let check_ids: Vec<String> = self
            .checks_on(node)
            .filter(|c| c.service_id == service_id)
            .map(|c| c.check_id.clone())
            .collect();
        for check_id in check_ids {
            self.remove_check(index, node, &check_id, changes);
        }
        self.service_index = index;
        changes.touch(Topic::Services);
        self.service_touched(index, &service.service, changes);
        self.node_change_index.insert(node.to_string(), index);
        changes.touch(Topic::Node(node.to_string()));
    }

    fn remove_check(&mut self, index: u64, node: &str, check_id: &str, changes: &mut Changes) {
        let Some(check) = self
            .checks
            .remove(&(node.to_string(), check_id.to_string()))
        else {
            return;
        };
        self.check_touched(index, node, &check.service_id, changes);
        self.invalidate_sessions_of_check(index, node, check_id, changes);
    }

    /// Records that a node changed: its own topic, and every service running on it.
    fn node_touched(&mut self, index: u64, node: &str, changes: &mut Changes) {
        self.node_change_index.insert(node.to_string(), index);
        changes.touch(Topic::Node(node.to_string()));
        let names: Vec<String> = self.services_on(node).map(|s| s.service.clone()).collect();
        for name in names {
            self.service_touched(index, &name, changes);
        }
    }

    /// Records that a check changed: node-level checks bear on every service of the node.
    fn check_touched(&mut self, index: u64, node: &str, service_id: &str, changes: &mut Changes) {
        self.check_index = index;
        changes.touch(Topic::Checks);
        if service_id.is_empty() {
            self.node_touched(index, node, changes);
            return;
        }
        self.node_change_index.insert(node.to_string(), index);
        changes.touch(Topic::Node(node.to_string()));
        if let Some(name) = self
            .services
            .get(&(node.to_string(), service_id.to_string()))
            .map(|s| s.service.clone())
        {
            self.service_touched(index, &name, changes);
        }
    }

    fn service_touched(&mut self, index: u64, name: &str, changes: &mut Changes) {
        self.service_name_index.insert(name.to_string(), index);
        changes.touch(Topic::Service(name.to_string()));
    }

    fn index_service(&mut self, key: &InstanceKey, service: &ServiceInstance) {
        self.instances_by_name
            .entry(service.service.clone())
            .or_default()
            .insert(key.clone());
        let tags = self
            .tags_by_name
            .entry(service.service.clone())
            .or_default();
        for tag in unique(&service.tags) {
            *tags.entry(tag.clone()).or_insert(0) += 1;
        }
    }

    fn unindex_service(&mut self, key: &InstanceKey, service: &ServiceInstance) {
        let name = &service.service;
        let now_empty = self.instances_by_name.get_mut(name).map(|keys| {
            keys.remove(key);
            keys.is_empty()
        });
        if now_empty == Some(true) {
            self.instances_by_name.remove(name);
            self.tags_by_name.remove(name);
            return;
        }
        if let Some(tags) = self.tags_by_name.get_mut(name) {
            for tag in unique(&service.tags) {
                let remaining = tags.get(tag).copied().unwrap_or(1).saturating_sub(1);
                if remaining == 0 {
                    tags.remove(tag);
                } else {
                    tags.insert(tag.clone(), remaining);
                }
            }
        }
    }
}

fn unique(tags: &[String]) -> impl Iterator<Item = &String> {
    let mut seen = std::collections::HashSet::new();
    tags.iter().filter(move |tag| seen.insert(tag.as_str()))
}

/// The entries of a map keyed by (node, id) that belong to `node`.
fn range_of_node<'a, V: Clone>(
    map: &'a OrdMap<(String, String), V>,
    node: &str,
) -> impl Iterator<Item = (&'a (String, String), &'a V)> + 'a {
    let node = node.to_string();
    map.range((node.clone(), String::new())..)
        .take_while(move |((owner, _), _)| *owner == node)
}
