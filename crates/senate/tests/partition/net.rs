//! The isolated network the partition test runs on, built with `ip` alone: one network
//! namespace per test host, joined to the root namespace by a veth pair, with the root namespace
//! forwarding between the hosts and nowhere else. Partitions are blackhole routes inside the
//! namespaces. Everything is torn down on drop, also when the test panics.

use std::fs;
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};

/// How many test hosts the network has; hosts are numbered `1..=HOSTS`.
pub const HOSTS: usize = 3;

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";
const NAMESPACE_PREFIX: &str = "senate-pt-";

/// The address of host `host` inside its namespace.
pub fn host_ip(host: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 213, host as u8, 2)
}

/// The root namespace's address on host `host`'s link, the host's gateway.
fn gateway_ip(host: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 213, host as u8, 1)
}

/// Why this machine cannot run the test (not root, no `ip netns`), or `None` when it can.
pub fn unsupported() -> Option<String> {
    if !is_root() {
        return Some("it needs root to create network namespaces".to_string());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => Some(format!("`ip` (iproute2) cannot be run: {error}")),
    }
}

/// Whether the effective user is root, read from `/proc/self/status` (no libc needed).
fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}

/// One host's namespace and the root-side end of its veth pair.
struct HostLink {
    namespace: String,
    root_link: String,
}

/// A blackhole route installed in one namespace.
struct Blackhole {
    namespace: String,
    destination: Ipv4Addr,
}

/// The built network; dropping it deletes everything it created and restores `ip_forward`.
pub struct Network {
    links: Vec<HostLink>,
    blackholes: Vec<Blackhole>,
    forward_before: Option<String>,
}

impl Network {
    /// Builds the namespaces, links, addresses and routes for every host; panics naming the
    /// `ip` command that failed (whatever was built by then is removed again).
    pub fn build() -> Network {
        remove_leftovers_of_dead_runs();
        refuse_if_addresses_taken();
        let mut network = Network {
            links: Vec::new(),
            blackholes: Vec::new(),
            forward_before: None,
        };
        for host in 1..=HOSTS {
            network.add_host(host);
        }
        network.enable_forwarding();
        network
    }

    /// The name of host `host`'s network namespace.
    pub fn namespace(&self, host: usize) -> &str {
        &self.links[host - 1].namespace
    }

    fn add_host(&mut self, host: usize) {
        let pid = std::process::id();
        let namespace = format!("{NAMESPACE_PREFIX}{pid}-{host}");
        let root_link = format!("spt{pid}r{host}");
        let inner_link = format!("spt{pid}n{host}");
        ip(&["netns", "add", &namespace]);
        self.links.push(HostLink {
            namespace: namespace.clone(),
            root_link: root_link.clone(),
        });
        let veth = ["link", "add", &root_link, "type", "veth", "peer", "name"];
        ip(&[&veth[..], &[&inner_link, "netns", &namespace]].concat());
        let gateway = format!("{}/24", gateway_ip(host));
        ip(&["addr", "add", &gateway, "dev", &root_link]);
        ip(&["link", "set", &root_link, "up"]);
        let address = format!("{}/24", host_ip(host));
        ip_in(&namespace, &["addr", "add", &address, "dev", &inner_link]);
        ip_in(&namespace, &["link", "set", &inner_link, "up"]);
        ip_in(&namespace, &["link", "set", "lo", "up"]);
        route_to_peers_only(&namespace, host);
    }

    /// Turns on forwarding in the root namespace, remembering the old value for [`Drop`].
    fn enable_forwarding(&mut self) {
        let before = fs::read_to_string(IP_FORWARD)
            .unwrap_or_else(|error| panic!("reading {IP_FORWARD}: {error}"));
        if before.trim() != "1" {
            self.forward_before = Some(before);
            fs::write(IP_FORWARD, "1")
                .unwrap_or_else(|error| panic!("writing {IP_FORWARD}: {error}"));
        }
    }

    /// Cuts host `lone` off from every other host, in both directions.
    pub fn isolate(&mut self, lone: usize) {
        for other in (1..=HOSTS).filter(|&other| other != lone) {
            self.add_blackhole(lone, host_ip(other));
            self.add_blackhole(other, host_ip(lone));
        }
    }

    /// Removes every blackhole route, reconnecting all hosts.
    pub fn heal(&mut self) {
        for blackhole in std::mem::take(&mut self.blackholes) {
            let destination = format!("{}/32", blackhole.destination);
            ip_in(
                &blackhole.namespace,
                &["route", "del", "blackhole", &destination],
            );
        }
    }

    fn add_blackhole(&mut self, host: usize, destination: Ipv4Addr) {
        let namespace = self.namespace(host).to_string();
        let route = format!("{destination}/32");
        ip_in(&namespace, &["route", "add", "blackhole", &route]);
        self.blackholes.push(Blackhole {
            namespace,
            destination,
        });
    }

    /// The routing tables of every namespace and the root's forwarding switch, for failure
    /// messages about hosts that cannot reach each other.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{IP_FORWARD} = {}",
            fs::read_to_string(IP_FORWARD).unwrap_or_default().trim()
        );
        for link in &self.links {
            let routes = run(&["-n", &link.namespace, "route", "show"])
                .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
                .unwrap_or_else(|error| error);
            text.push_str(&format!(
                "\nroutes in {}:\n{}",
                link.namespace,
                routes.trim_end()
            ));
        }
        text
    }
}

/// Gives host `host` routes to the other hosts through the root namespace and an unreachable
/// default, so nothing it sends can leave the test network.
fn route_to_peers_only(namespace: &str, host: usize) {
    let gateway = gateway_ip(host).to_string();
    for peer in (1..=HOSTS).filter(|&peer| peer != host) {
        let subnet = format!("10.213.{peer}.0/24");
        ip_in(namespace, &["route", "add", &subnet, "via", &gateway]);
    }
    ip_in(namespace, &["route", "add", "unreachable", "default"]);
}

impl Drop for Network {
    fn drop(&mut self) {
        for link in self.links.drain(..).rev() {
            // Deleting one end of a veth pair deletes both, even while the namespace lingers.
            let _ = run(&["link", "del", &link.root_link]);
            if let Err(error) = run(&["netns", "del", &link.namespace]) {
                eprintln!("partition test cleanup: {error}");
            }
        }
        if let Some(before) = self.forward_before.take() {
            if let Err(error) = fs::write(IP_FORWARD, before.trim()) {
                eprintln!("partition test cleanup: restoring {IP_FORWARD}: {error}");
            }
        }
    }
}

/// The namespaces of this test that exist right now (this run's and older runs').
pub fn namespaces_of_this_test() -> Vec<String> {
    let listing = run(&["netns", "list"])
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.starts_with(NAMESPACE_PREFIX))
        .map(str::to_string)
        .collect()
}

/// Deletes the namespaces and links a killed earlier run left behind (its pid is gone), so
/// their addresses do not block this run.
fn remove_leftovers_of_dead_runs() {
    for namespace in namespaces_of_this_test() {
        let Some((pid, host)) = parse_namespace(&namespace) else {
            continue;
        };
        if fs::metadata(format!("/proc/{pid}")).is_ok() {
            continue;
        }
        eprintln!("removing {namespace}, left behind by an earlier run (pid {pid})");
        let _ = run(&["link", "del", &format!("spt{pid}r{host}")]);
        let _ = run(&["netns", "del", &namespace]);
    }
}

/// The pid and host number in a name made by [`Network::add_host`].
fn parse_namespace(namespace: &str) -> Option<(u32, usize)> {
    let rest = namespace.strip_prefix(NAMESPACE_PREFIX)?;
    let (pid, host) = rest.split_once('-')?;
    Some((pid.parse().ok()?, host.parse().ok()?))
}

/// Panics if the root namespace already uses the test's addresses (another run in progress).
fn refuse_if_addresses_taken() {
    let taken = run(&["-o", "addr", "show", "to", "10.213.0.0/16"])
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        taken.trim().is_empty(),
        "10.213.0.0/16 is already in use in the root namespace (another partition test \
         running?):\n{taken}"
    );
}

/// Runs `ip` with `args`; panics with its error output if it fails.
fn ip(args: &[&str]) {
    if let Err(error) = run(args) {
        panic!("building the test network failed: {error}");
    }
}

/// Runs `ip -n namespace` with `args`; panics with its error output if it fails.
fn ip_in(namespace: &str, args: &[&str]) {
    ip(&[&["-n", namespace][..], args].concat());
}

/// Runs `ip` with `args`, returning its output, or a message naming the command if it failed.
fn run(args: &[&str]) -> Result<Output, String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("`ip {}`: {error}", args.join(" ")))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
