//! Periodic push-pull, as memberlist does it over TCP: every `GossipTiming::push_pull_every(n)`
//! (with jitter), a full-state exchange with one random live member — the join exchange, both
//! sides learning everything the other knows — so members that missed gossip (after a mass
//! join, a healed partition or a long pause) converge instead of waiting for chance.

use crate::config::GossipTiming;
use crate::gossip::WeakGossip;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::net::SocketAddr;
use std::time::Duration;

/// Runs until the gossip handle is dropped or shut down.
pub(crate) async fn run(gossip: WeakGossip, timing: GossipTiming, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    loop {
        let Some(live) = gossip.upgrade().map(|g| g.alive_peers().len() + 1) else {
            return;
        };
        tokio::time::sleep(jittered(timing.push_pull_every(live), &mut rng)).await;
        let Some(gossip) = gossip.upgrade() else {
            return;
        };
        let Some(peer) = random_peer(gossip.alive_peers(), &mut rng) else {
            continue;
        };
        if let Err(why) = gossip.push_pull(peer).await {
            tracing::debug!(%peer, %why, "push-pull failed");
        }
    }
}

/// `every` scaled by a random factor in [0.5, 1.5), so members do not exchange in lockstep.
fn jittered(every: Duration, rng: &mut SmallRng) -> Duration {
    every.mul_f64(rng.random_range(0.5..1.5))
}

fn random_peer(peers: Vec<(String, SocketAddr)>, rng: &mut SmallRng) -> Option<SocketAddr> {
    if peers.is_empty() {
        return None;
    }
    let pick = rng.random_range(0..peers.len());
    peers.get(pick).map(|(_, address)| *address)
}
