//! The nemeses: the faults a run injects, each applied for a while and then healed, in a loop,
//! with every fault's window recorded so recovery can be measured from its end.

use crate::cluster::{Cluster, ClusterError};
use crate::history::Clock;
use crate::http;
use rand::rngs::SmallRng;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum Nemesis {
    /// `kill -9` of the leader, restarted after the hold.
    KillLeader,
    /// `kill -9` of a random server, restarted after the hold.
    KillRandom,
    /// SIGSTOP of the leader for longer than its lease, then SIGCONT.
    PauseLeader,
    /// The leader cut off from every other server.
    PartitionLeader,
    /// A random minority cut off from the majority.
    PartitionRandom,
    /// Two sides that cannot talk and one server that talks to both.
    Bridge,
    /// Random partitions made and healed every half second.
    Flapping,
    /// 20% loss and 50 ms delay on every server's link.
    Loss,
    /// A follower leaves gracefully, loses its data and joins again as a new server.
    Membership,
    /// Every server killed at once, then all restarted.
    CrashAll,
}

impl Nemesis {
    pub fn needs_network(self) -> bool {
        matches!(
            self,
            Nemesis::PartitionLeader
                | Nemesis::PartitionRandom
                | Nemesis::Bridge
                | Nemesis::Flapping
                | Nemesis::Loss
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Nemesis::KillLeader => "kill-leader",
            Nemesis::KillRandom => "kill-random",
            Nemesis::PauseLeader => "pause-leader",
            Nemesis::PartitionLeader => "partition-leader",
            Nemesis::PartitionRandom => "partition-random",
            Nemesis::Bridge => "bridge",
            Nemesis::Flapping => "flapping",
            Nemesis::Loss => "loss",
            Nemesis::Membership => "membership",
            Nemesis::CrashAll => "crash-all",
        }
    }
}

/// When a fault was in place.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultWindow {
    pub nemesis: Nemesis,
    pub start: u64,
    pub end: u64,
    pub detail: String,
}

/// How long faults last and how long the cluster is left alone between them.
pub struct Schedule {
    pub hold: Duration,
    pub quiet: Duration,
}

/// Injects faults from `kinds` in turn until `until`, healing each before the next.
pub fn run(
    cluster: &mut Cluster,
    kinds: &[Nemesis],
    schedule: &Schedule,
    clock: Clock,
    until: Instant,
    rng: &mut SmallRng,
) -> Result<Vec<FaultWindow>, ClusterError> {
    let mut windows = Vec::new();
    let mut turn = 0usize;
    while Instant::now() + schedule.quiet < until {
        std::thread::sleep(schedule.quiet);
        let nemesis = kinds[turn % kinds.len()];
        turn += 1;
        let start = clock.now();
        let detail = inject(cluster, nemesis, schedule.hold, rng)?;
        heal(cluster)?;
        windows.push(FaultWindow {
            nemesis,
            start,
            end: clock.now(),
            detail,
        });
    }
    Ok(windows)
}

/// Applies `nemesis`, holds it, and undoes what only it can undo; says what it did.
fn inject(
    cluster: &mut Cluster,
    nemesis: Nemesis,
    hold: Duration,
    rng: &mut SmallRng,
) -> Result<String, ClusterError> {
    let size = cluster.size();
    let leader = current_leader(cluster);
    let random = rng.random_range(1..=size);
    let detail = match nemesis {
        Nemesis::KillLeader | Nemesis::KillRandom => {
            let victim = if nemesis == Nemesis::KillLeader {
                leader.unwrap_or(random)
            } else {
                random
            };
            cluster.kill(victim);
            std::thread::sleep(hold);
            cluster.start_server(victim)?;
            format!("killed {victim}")
        }
        Nemesis::PauseLeader => {
            let victim = leader.unwrap_or(random);
            cluster.pause(victim, true);
            std::thread::sleep(hold);
            cluster.pause(victim, false);
            format!("paused {victim}")
        }
        Nemesis::PartitionLeader => {
            let lone = leader.unwrap_or(random);
            network(cluster)?.isolate(lone)?;
            std::thread::sleep(hold);
            format!("isolated {lone}")
        }
        Nemesis::PartitionRandom => {
            let groups = random_split(size, rng);
            network(cluster)?.partition(&groups)?;
            std::thread::sleep(hold);
            format!("split {groups:?}")
        }
        Nemesis::Bridge => {
            let groups = bridge(size, rng);
            network(cluster)?.partition(&groups)?;
            std::thread::sleep(hold);
            format!("bridge {groups:?}")
        }
        Nemesis::Flapping => {
            let end = Instant::now() + hold;
            let mut flaps = 0;
            while Instant::now() < end {
                let groups = random_split(size, rng);
                network(cluster)?.partition(&groups)?;
                std::thread::sleep(Duration::from_millis(500));
                network(cluster)?.heal()?;
                std::thread::sleep(Duration::from_millis(250));
                flaps += 1;
            }
            format!("{flaps} flaps")
        }
        Nemesis::Loss => {
            for host in 1..=size {
                network(cluster)?.degrade(host, 20, 50)?;
            }
            std::thread::sleep(hold);
            "20% loss, 50 ms delay".to_string()
        }
        Nemesis::Membership => membership_change(cluster, leader, rng)?,
        Nemesis::CrashAll => {
            for index in 1..=size {
                cluster.kill(index);
            }
            std::thread::sleep(hold / 4);
            for index in 1..=size {
                cluster.start_server(index)?;
            }
            "crashed all".to_string()
        }
    };
    Ok(detail)
}

/// Undoes every fault: network healed, paused servers resumed, stopped servers started.
pub fn heal(cluster: &mut Cluster) -> Result<(), ClusterError> {
    if let Some(network) = cluster.network() {
        network.heal()?;
    }
    for index in 1..=cluster.size() {
        if cluster.is_paused(index) {
            cluster.pause(index, false);
        }
        if !cluster.is_running(index) {
            cluster.start_server(index)?;
        }
    }
    for client in 0..cluster.clients.len() {
        cluster.start_client(client)?;
    }
    Ok(())
}

fn network(cluster: &mut Cluster) -> Result<&mut crate::netns::Network, ClusterError> {
    cluster
        .network()
        .ok_or_else(|| ClusterError::Io("this nemesis needs network namespaces".to_string()))
}

/// The leader, as any running server names it.
fn current_leader(cluster: &mut Cluster) -> Option<usize> {
    let live: Vec<usize> = (1..=cluster.size())
        .filter(|&i| cluster.is_running(i) && !cluster.is_paused(i))
        .collect();
    live.into_iter().find_map(|i| cluster.leader_seen_by(i))
}

/// A random minority (fewer than half) against the rest.
fn random_split(size: usize, rng: &mut SmallRng) -> Vec<Vec<usize>> {
    let mut hosts: Vec<usize> = (1..=size).collect();
    shuffle(&mut hosts, rng);
    let minority = rng.random_range(1..=(size - 1) / 2);
    let majority = hosts.split_off(minority);
    vec![hosts, majority]
}

/// Two sides and one server (in no group) that talks to both.
fn bridge(size: usize, rng: &mut SmallRng) -> Vec<Vec<usize>> {
    let mut hosts: Vec<usize> = (1..=size).collect();
    shuffle(&mut hosts, rng);
    let _bridge = hosts.pop();
    let right = hosts.split_off(hosts.len() / 2);
    vec![hosts, right]
}

fn shuffle<T>(items: &mut [T], rng: &mut SmallRng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.random_range(0..=i));
    }
}

/// `kinds` in a random order, so short runs do not always inject the same first few.
pub fn shuffled(kinds: &[Nemesis], rng: &mut SmallRng) -> Vec<Nemesis> {
    let mut order = kinds.to_vec();
    shuffle(&mut order, rng);
    order
}

/// A follower leaves (`PUT /v1/agent/leave`), its data is wiped, and it starts again as a
/// new server that must be added back by autopilot.
fn membership_change(
    cluster: &mut Cluster,
    leader: Option<usize>,
    rng: &mut SmallRng,
) -> Result<String, ClusterError> {
    let followers: Vec<usize> = (1..=cluster.size())
        .filter(|&i| Some(i) != leader)
        .collect();
    let victim = followers[rng.random_range(0..followers.len())];
    let http_addr = cluster.server(victim).http;
    let _ = http::request(
        http_addr,
        "PUT",
        "/v1/agent/leave",
        b"",
        Duration::from_secs(10),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while cluster.is_running(victim) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.kill(victim);
    cluster.wipe(victim)?;
    cluster.start_server(victim)?;
    Ok(format!("{victim} left and rejoined with a fresh data dir"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn splits_leave_a_strict_majority_and_bridges_a_lone_server() {
        let mut rng = SmallRng::seed_from_u64(7);
        for size in [3, 5] {
            for _ in 0..20 {
                let split = random_split(size, &mut rng);
                assert!(split[0].len() * 2 < size && split[0].len() + split[1].len() == size);
                let sides = bridge(size, &mut rng);
                assert_eq!(sides[0].len() + sides[1].len(), size - 1);
                assert!(!sides[0].is_empty() && !sides[1].is_empty());
            }
        }
    }
}
