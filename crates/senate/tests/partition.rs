//! A network partition test: three `senate` servers, each in its own network namespace, form a
//! cluster; the leader is cut off from both followers with blackhole routes. The isolated leader
//! must stop acknowledging writes and default reads, the majority must elect a leader and serve,
//! and after healing no acknowledged write may be lost and no unacknowledged write from the
//! minority may appear. Needs root and `ip netns`; skips (with a message) without them.

#[path = "partition/hosts.rs"]
mod hosts;
#[path = "http_client/mod.rs"]
mod http;
#[path = "partition/probes.rs"]
mod probes;

use hosts::{Host, Scratch};
use senate_faults::netns::{self, Layout, Network};

/// How many test hosts the network has; hosts are numbered `1..=HOSTS`.
const HOSTS: usize = 3;

/// This test's namespaces and addresses (the fault runner uses 10.214).
pub const LAYOUT: Layout = Layout {
    prefix: "senate-pt-",
    link: "spt",
    subnet: 213,
};
use probes::{agreed_leader, voters, wait_for, MinorityReads, MinorityWrites};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long the servers may take to find each other and elect a first leader.
const FORM_DEADLINE: Duration = Duration::from_secs(40);
/// How long the majority may take to elect a leader after the cut.
const ELECTION_DEADLINE: Duration = Duration::from_secs(15);
/// How long after healing all three may take to agree on a leader again, acknowledge the
/// marker and show it everywhere. When the cut lasted long enough for both sides' gossip to
/// declare the other down (about 6 s; the isolated leader's default reads alone take 6 s to
/// fail), only Senate's periodic announce to down members, every 10 s (a third of the
/// push-pull interval), reunites gossip, and autopilot can re-add the old leader only then.
const REUNION_DEADLINE: Duration = Duration::from_secs(30);
/// The client timeout for writes the cluster is expected to acknowledge.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const KEYS_BEFORE: usize = 5;
const MAJORITY_KEYS: usize = 10;
const MARKER: &str = "healed/marker";

/// The network and the servers on it; the servers are killed before the network goes.
struct Cluster {
    hosts: Vec<Host>,
    network: Network,
    _scratch: Scratch,
}

impl Cluster {
    fn start() -> Cluster {
        let network = Network::build(LAYOUT, HOSTS).unwrap_or_else(|e| panic!("{e}"));
        let scratch = Scratch::new();
        let hosts = (1..=HOSTS)
            .map(|host| Host::start(host, network.namespace(host), scratch.path()))
            .collect();
        Cluster {
            hosts,
            network,
            _scratch: scratch,
        }
    }

    fn host(&self, host: usize) -> &Host {
        &self.hosts[host - 1]
    }

    /// Waits until every server names the same leader and it counts three voters.
    fn wait_until_formed(&self) -> usize {
        let everyone: Vec<&Host> = self.hosts.iter().collect();
        let formed = wait_for(FORM_DEADLINE, || {
            self.hosts.iter().for_each(Host::assert_running);
            let leader = agreed_leader(&everyone)?;
            (voters(self.host(leader))? == HOSTS).then_some(leader)
        });
        formed.unwrap_or_else(|| {
            panic!(
                "the three servers did not agree on a leader with {HOSTS} voters within \
                 {FORM_DEADLINE:?}\n{}",
                self.network.describe()
            )
        })
    }

    /// Waits until all of `hosts` name the same leader, one of them.
    fn wait_for_leader_among(&self, hosts: &[usize], deadline: Duration, what: &str) -> usize {
        let group: Vec<&Host> = hosts.iter().map(|&host| self.host(host)).collect();
        wait_for(deadline, || {
            group.iter().for_each(|host| host.assert_running());
            agreed_leader(&group)
        })
        .unwrap_or_else(|| {
            let named: Vec<String> = group
                .iter()
                .map(|host| format!("pt-{} names {}", host.host, probes::describe_leader(host)))
                .collect();
            panic!(
                "{what}: no agreed leader within {deadline:?}: {}",
                named.join(", ")
            )
        })
    }
}

/// Writes `key = value` through `host`; `Err` says how it was not acknowledged.
fn put(host: &Host, key: &str, value: &str) -> Result<(), String> {
    match http::put(host.http(), &format!("/v1/kv/{key}"), value, WRITE_TIMEOUT) {
        Ok(response) if response.is_true() => Ok(()),
        Ok(response) => Err(format!("{} {}", response.status, response.text().trim())),
        Err(error) => Err(error.to_string()),
    }
}

/// Writes `key = value` through `host`, panicking unless it is acknowledged.
fn put_acknowledged(host: &Host, key: &str, value: &str, ledger: &mut BTreeMap<String, String>) {
    if let Err(error) = put(host, key, value) {
        panic!(
            "PUT {key} through pt-{} was not acknowledged: {error}",
            host.host
        );
    }
    ledger.insert(key.to_string(), value.to_string());
}

/// Prints past the test harness's output capture, so a skip is visible in every run.
fn announce(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

#[test]
fn an_isolated_leader_stops_serving_and_the_majority_loses_no_acknowledged_write() {
    if let Some(reason) = netns::unsupported() {
        announce(&format!("SKIPPED partition test: {reason}"));
        return;
    }
    let started = Instant::now();
    let cluster = Cluster::start();
    run_scenario(cluster);
    let ours = format!("senate-pt-{}-", std::process::id());
    let left: Vec<String> = netns::namespaces_of(LAYOUT)
        .into_iter()
        .filter(|name| name.starts_with(&ours))
        .collect();
    assert!(left.is_empty(), "namespaces left after cleanup: {left:?}");
    println!("partition test took {:?}", started.elapsed());
}

fn run_scenario(mut cluster: Cluster) {
    let lone = cluster.wait_until_formed();
    let majority: Vec<usize> = (1..=HOSTS).filter(|&host| host != lone).collect();
    println!("formed: leader pt-{lone}, majority {majority:?}");
    let mut ledger = BTreeMap::new();
    for n in 0..KEYS_BEFORE {
        let value = format!("before-{n}");
        put_acknowledged(
            cluster.host(lone),
            &format!("before/{n}"),
            &value,
            &mut ledger,
        );
    }

    cluster
        .network
        .isolate(lone)
        .expect("cutting the leader off");
    let cut_at = Instant::now();
    let (writes, reads) = partitioned_phase(&cluster, lone, &majority, cut_at, &mut ledger);
    let named = probes::describe_leader(cluster.host(lone));
    println!("{}\n{}", writes.summary(), reads.summary());
    println!("the isolated server names as leader: {named}");
    reads.assert_refused_in_time();
    writes.assert_nothing_acknowledged_late();
    writes.assert_only_server_errors();
    ledger.extend(writes.acknowledged());

    cluster.network.heal().expect("healing the partition");
    let healed_at = Instant::now();
    let reunited_by = healed_at + REUNION_DEADLINE;
    let leader = cluster.wait_for_leader_among(&[1, 2, 3], left(reunited_by), "after healing");
    println!(
        "healed {:?} after the cut; all agree on pt-{leader} {:?} later",
        healed_at - cut_at,
        healed_at.elapsed()
    );
    write_marker(&cluster, leader, reunited_by);
    check_every_server(&cluster, &ledger, reunited_by);
    println!(
        "every server caught up {:?} after healing",
        healed_at.elapsed()
    );
    let configuration = probes::describe_configuration(cluster.host(leader));
    println!("Raft configuration after healing: {configuration}");
}

/// While `lone` is cut off: probes it with writes and reads on two threads, and meanwhile
/// waits for the majority's leader and writes through both majority servers.
fn partitioned_phase(
    cluster: &Cluster,
    lone: usize,
    majority: &[usize],
    cut_at: Instant,
    ledger: &mut BTreeMap<String, String>,
) -> (MinorityWrites, MinorityReads) {
    let isolated = cluster.host(lone).http();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| MinorityWrites::run(isolated, cut_at, &stop));
        let reader = scope.spawn(|| MinorityReads::run(isolated, cut_at, "before/0", "before-0"));
        let _stop_writer = StopOnDrop(&stop);
        let leader = cluster.wait_for_leader_among(majority, ELECTION_DEADLINE, "the majority");
        println!("majority leader pt-{leader} after {:?}", cut_at.elapsed());
        for n in 0..MAJORITY_KEYS {
            let through = cluster.host(majority[n % majority.len()]);
            put_acknowledged(
                through,
                &format!("majority/{n}"),
                &format!("majority-{n}"),
                ledger,
            );
        }
        let configuration = probes::describe_configuration(cluster.host(leader));
        println!("Raft configuration in the majority: {configuration}");
        let reads = reader.join().expect("the minority reader panicked");
        stop.store(true, Ordering::SeqCst);
        let writes = writer.join().expect("the minority writer panicked");
        (writes, reads)
    })
}

/// Sets the flag when dropped, so the writer thread ends even if the main thread panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Writes the marker through the healed cluster (retrying while leadership settles): once a
/// server shows it, it has applied every write acknowledged before it.
fn write_marker(cluster: &Cluster, leader: usize, by: Instant) {
    let acknowledged = wait_for(left(by), || {
        put(cluster.host(leader), MARKER, "healed").ok()
    });
    assert!(
        acknowledged.is_some(),
        "the healed cluster did not acknowledge {MARKER} within {REUNION_DEADLINE:?} of healing"
    );
}

/// The time left until `by` (zero once it passed, so a wait still probes once).
fn left(by: Instant) -> Duration {
    by.saturating_duration_since(Instant::now())
}

/// Checks on every server, with `?stale` once it has caught up to the marker, that every
/// acknowledged write is there with its value and no unacknowledged minority write is.
fn check_every_server(cluster: &Cluster, ledger: &BTreeMap<String, String>, by: Instant) {
    let mut problems = Vec::new();
    for host in &cluster.hosts {
        let caught_up = wait_for(left(by), || {
            let store = probes::stale_store(host)?;
            store.contains_key(MARKER).then_some(store)
        });
        let Some(store) = caught_up else {
            let configuration = probes::describe_configuration(host);
            problems.push(format!(
                "pt-{} did not show {MARKER} within {REUNION_DEADLINE:?} of healing \
                 (its Raft configuration: {configuration})",
                host.host
            ));
            continue;
        };
        problems.extend(probes::compare(host.host, &store, ledger));
    }
    for host in &cluster.hosts {
        if let Some(status) = host.exit_status() {
            problems.push(format!("pt-{} exited with {status}", host.host));
        }
    }
    assert!(
        problems.is_empty(),
        "after healing:\n{}",
        problems.join("\n")
    );
    println!(
        "all {HOSTS} servers hold all {} acknowledged keys",
        ledger.len()
    );
}
