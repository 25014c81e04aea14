//! Sends this agent's network coordinate (estimated by gossip from round trips) to the
//! catalog, as Consul's agents do: soon after start, then periodically, only when it moved.

use crate::local_agent::LocalAgent;
use senate_coordinate::Coordinate;
use senate_state::coordinate::NodeCoordinate;
use senate_state::Command;
use std::sync::Weak;
use std::time::Duration;

/// The first update, once gossip has measured a few round trips.
const FIRST_SYNC: Duration = Duration::from_secs(2);
/// Later updates (Consul's agents send one every 15 s or more, by cluster size).
const SYNC_INTERVAL: Duration = Duration::from_secs(15);

/// Runs until the agent is dropped.
pub(crate) async fn run(agent: Weak<LocalAgent>) {
    let mut sent: Option<Coordinate> = None;
    tokio::time::sleep(FIRST_SYNC).await;
    loop {
        let Some(strong) = agent.upgrade() else {
            return;
        };
        let coordinate = strong.backend.gossip().coordinate();
        if sent.as_ref() != Some(&coordinate) {
            let update = NodeCoordinate {
                node: strong.config.node_name.clone(),
                segment: String::new(),
                coord: coordinate.clone(),
            };
            match strong
                .backend
                .write(Command::CoordinateUpdate(vec![update]))
                .await
            {
                Ok(_) => sent = Some(coordinate),
                Err(error) => tracing::debug!(%error, "could not send this node's coordinate"),
            }
        }
        drop(strong);
        tokio::time::sleep(SYNC_INTERVAL).await;
    }
}
