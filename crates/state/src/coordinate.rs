//! The coordinate table: each node's network coordinate (per network segment), as agents
//! report them. An update for a node the catalog does not hold is ignored, as Consul ignores
//! it; deregistering a node forgets its coordinates.

use crate::command::Outcome;
use crate::tables::{Changes, Tables};
use crate::watch::Topic;
use imbl::OrdMap;
use senate_coordinate::Coordinate;
use serde::{Deserialize, Serialize};

/// One node's coordinate in one network segment, as `/v1/coordinate/nodes` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeCoordinate {
    pub node: String,
    pub segment: String,
    pub coord: Coordinate,
}

/// Coordinates by (node, segment), with the last index that changed any.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CoordinateTable {
    entries: OrdMap<(String, String), NodeCoordinate>,
    index: u64,
}

impl Tables {
    /// Every coordinate (in `segment`, or all segments when `None`), by node name.
    pub fn coordinates(&self, segment: Option<&str>) -> (u64, Vec<&NodeCoordinate>) {
        let table = &self.coordinates;
        let kept = table
            .entries
            .values()
            .filter(|c| segment.is_none_or(|s| c.segment == s))
            .collect();
        (Tables::at_least_one(table.index), kept)
    }

    /// One node's coordinates, one per segment.
    pub fn node_coordinates(&self, node: &str) -> (u64, Vec<&NodeCoordinate>) {
        let table = &self.coordinates;
        let kept = table.entries.values().filter(|c| c.node == node).collect();
        (Tables::at_least_one(table.index), kept)
    }

    /// A node's coordinate in the default segment, if it reported one.
    pub fn coordinate_of(&self, node: &str) -> Option<&Coordinate> {
        let key = (node.to_string(), String::new());
        self.coordinates.entries.get(&key).map(|c| &c.coord)
    }

    pub(crate) fn apply_coordinate_updates(
        &mut self,
        index: u64,
        updates: Vec<NodeCoordinate>,
        changes: &mut Changes,
    ) -> Outcome {
        let mut changed = false;
        for update in updates {
            if !self.nodes.contains_key(&update.node) {
                continue;
            }
            let key = (update.node.clone(), update.segment.clone());
            self.coordinates.entries.insert(key, update);
            changed = true;
        }
        if changed {
            self.coordinates.index = index;
            changes.touch(Topic::Coordinates);
        }
        Outcome::Done
    }

    /// Forgets a deregistered node's coordinates.
    pub(crate) fn forget_coordinates(&mut self, index: u64, node: &str, changes: &mut Changes) {
        let owned: Vec<(String, String)> = self
            .coordinates
            .entries
            .keys()
            .filter(|(owner, _)| owner == node)
            .cloned()
            .collect();
        for key in &owned {
            self.coordinates.entries.remove(key);
        }
        if !owned.is_empty() {
            self.coordinates.index = index;
            changes.touch(Topic::Coordinates);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Command;
    use crate::Store;
    use senate_coordinate::Config;
    use senate_types::catalog::{Deregistration, Node, Registration};

    fn register(node: &str) -> Command {
        Command::Register(Registration {
            node: Node {
                id: String::new(),
                node: node.into(),
                address: "10.0.0.1".into(),
                datacenter: "dc1".into(),
                tagged_addresses: Default::default(),
                meta: Default::default(),
                create_index: 0,
                modify_index: 0,
            },
            skip_node_update: false,
            service: None,
            checks: Vec::new(),
        })
    }

    fn update(node: &str, height: f64) -> NodeCoordinate {
        let mut coord = Coordinate::new(&Config::default());
        coord.height = height;
        NodeCoordinate {
            node: node.into(),
            segment: String::new(),
            coord,
        }
    }

    #[test]
    fn keeps_coordinates_of_known_nodes_until_they_are_deregistered() {
        let store = Store::default();
        store.apply_batch([(2, Some(register("a")))]);
        let updates = vec![update("a", 0.5), update("ghost", 0.5)];
        store.apply_batch([(3, Some(Command::CoordinateUpdate(updates)))]);
        let tables = store.snapshot();
        let (index, all) = tables.coordinates(None);
        assert_eq!(index, 3);
        assert_eq!(all.len(), 1, "an unknown node's coordinate is ignored");
        assert_eq!(tables.coordinate_of("a").map(|c| c.height), Some(0.5));

        let gone = Command::Deregister(Deregistration::Node("a".into()));
        store.apply_batch([(4, Some(gone))]);
        let tables = store.snapshot();
        assert_eq!(tables.coordinates(None), (4, Vec::new()));
    }

    #[test]
    fn coordinates_survive_a_snapshot_and_old_snapshots_still_decode() {
        let store = Store::default();
        store.apply_batch([(2, Some(register("a")))]);
        store.apply_batch([(3, Some(Command::CoordinateUpdate(vec![update("a", 0.25)])))]);
        let tables = store.snapshot();
        let restored = Tables::decode(&tables.encode().unwrap()).unwrap();
        assert_eq!(restored.coordinate_of("a").map(|c| c.height), Some(0.25));
        let without_coordinates = bincode::serialize(&*tables).unwrap();
        let old = Tables::decode(&without_coordinates).unwrap();
        assert_eq!(old.coordinates(None), (1, Vec::new()));
        assert!(old.node("a").is_some());
    }
}
