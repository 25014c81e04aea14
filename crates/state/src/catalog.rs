//! The catalog tables: nodes and their health checks.

use crate::command::Outcome;
use crate::tables::{Changes, Tables};
use crate::watch::Topic;
use senate_types::catalog::{CheckStatus, HealthCheck, Node};

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

    /// The checks registered on one node.
    pub fn node_checks(&self, node: &str) -> (u64, Vec<&HealthCheck>) {
        let checks = self
            .checks
            .iter()
            .filter(|((owner, _), _)| owner == node)
            .map(|(_, check)| check)
            .collect();
        (Self::at_least_one(self.check_index), checks)
    }

    pub(crate) fn apply_register_node(
        &mut self,
        index: u64,
        mut node: Node,
        checks: Vec<HealthCheck>,
        changes: &mut Changes,
    ) -> Outcome {
        match self.nodes.get(&node.node) {
            Some(existing) if same_node(existing, &node) => {}
            existing => {
                node.create_index = existing.map(|n| n.create_index).unwrap_or(index);
                node.modify_index = index;
                self.nodes.insert(node.node.clone(), node.clone());
                self.node_index = index;
                changes.touch(Topic::Nodes);
            }
        }
        for check in checks {
            self.upsert_check(index, &node.node, check, changes);
        }
        Outcome::Done
    }

    fn upsert_check(
        &mut self,
        index: u64,
        node: &str,
        mut check: HealthCheck,
        changes: &mut Changes,
    ) {
        check.node = node.to_string();
        let id = (node.to_string(), check.check_id.clone());
        let existing = self.checks.get(&id);
        if existing.is_some_and(|e| same_check(e, &check)) {
            return;
        }
        check.create_index = existing.map(|c| c.create_index).unwrap_or(index);
        check.modify_index = index;
        let went_critical = check.status == CheckStatus::Critical;
        let check_id = check.check_id.clone();
        self.checks.insert(id, check);
        self.check_index = index;
        changes.touch(Topic::Checks);
        if went_critical {
            self.invalidate_sessions_of_check(index, node, &check_id, changes);
        }
    }
}

fn same_node(a: &Node, b: &Node) -> bool {
    a.id == b.id
        && a.address == b.address
        && a.datacenter == b.datacenter
        && a.tagged_addresses == b.tagged_addresses
        && a.meta == b.meta
}

fn same_check(a: &HealthCheck, b: &HealthCheck) -> bool {
    HealthCheck {
        create_index: 0,
        modify_index: 0,
        ..a.clone()
    } == HealthCheck {
        create_index: 0,
        modify_index: 0,
        ..b.clone()
    }
}
