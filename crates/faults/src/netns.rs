//! The isolated network fault runs (and the partition test) use, built with `ip` alone: one
//! network namespace per host, joined to the root namespace by a veth pair, the root namespace
//! forwarding between the hosts and nowhere else. Partitions are blackhole routes inside the
//! namespaces; loss and delay are `tc netem` on a host's link. Everything is torn down on drop.

use std::collections::BTreeSet;
use std::fs;
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// Why the network could not be built or changed: the command that failed and its output.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NetError(String);

/// Which namespaces and addresses a network uses, so two users (the partition test and the
/// fault runner) never collide: namespaces `<prefix><pid>-<host>`, links `<link>{pid}r<host>`,
/// host `h` at `10.<subnet>.h.2`.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub prefix: &'static str,
    pub link: &'static str,
    pub subnet: u8,
}

impl Layout {
    /// Host `host`'s address inside its namespace.
    pub fn host_ip(&self, host: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, host as u8, 2)
    }
}

/// Why this machine cannot build namespaces (not root, no `ip netns`), or `None` when it can.
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

/// Why `tc netem` (loss and delay) cannot be used here — this kernel may lack `sch_netem` —
/// or `None` when it can. Tried on the loopback device of a scratch namespace.
pub fn netem_unsupported() -> Option<String> {
    let namespace = format!("senate-netem-probe-{}", std::process::id());
    if let Err(error) = ip(&["netns", "add", &namespace]) {
        return Some(error.0);
    }
    let tried = tc_in(
        &namespace,
        &["qdisc", "add", "dev", "lo", "root", "netem", "loss", "1%"],
    );
    let _ = ip(&["netns", "del", &namespace]);
    tried
        .err()
        .map(|error| format!("tc netem is not available: {error}"))
}

/// Whether the effective user is root, read from `/proc/self/status`.
fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}

struct HostLink {
    namespace: String,
    root_link: String,
    inner_link: String,
}

/// The built network; dropping it deletes everything it created and restores `ip_forward`.
pub struct Network {
    layout: Layout,
    links: Vec<HostLink>,
    /// Installed blackholes: (from host, to host).
    cuts: BTreeSet<(usize, usize)>,
    /// Hosts whose link has a netem qdisc.
    degraded: BTreeSet<usize>,
    forward_before: Option<String>,
}

impl Network {
    /// Builds namespaces, links, addresses and routes for hosts `1..=hosts`; whatever was
    /// built before a failing command is removed again.
    pub fn build(layout: Layout, hosts: usize) -> Result<Network, NetError> {
        remove_leftovers_of_dead_runs(layout);
        refuse_if_addresses_taken(layout)?;
        let mut network = Network {
            layout,
            links: Vec::new(),
            cuts: BTreeSet::new(),
            degraded: BTreeSet::new(),
            forward_before: None,
        };
        for host in 1..=hosts {
            network.add_host(host, hosts)?;
        }
        network.enable_forwarding()?;
        Ok(network)
    }

    /// How many hosts the network has.
    pub fn hosts(&self) -> usize {
        self.links.len()
    }

    /// The name of host `host`'s namespace.
    pub fn namespace(&self, host: usize) -> &str {
        &self.links[host - 1].namespace
    }

    /// Host `host`'s address inside its namespace.
    pub fn host_ip(&self, host: usize) -> Ipv4Addr {
        self.layout.host_ip(host)
    }

    fn gateway_ip(&self, host: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.layout.subnet, host as u8, 1)
    }

    fn add_host(&mut self, host: usize, hosts: usize) -> Result<(), NetError> {
        let pid = std::process::id();
        let namespace = format!("{}{pid}-{host}", self.layout.prefix);
        let root_link = format!("{}{pid}r{host}", self.layout.link);
        let inner_link = format!("{}{pid}n{host}", self.layout.link);
        ip(&["netns", "add", &namespace])?;
        self.links.push(HostLink {
            namespace: namespace.clone(),
            root_link: root_link.clone(),
            inner_link: inner_link.clone(),
        });
        let veth = ["link", "add", &root_link, "type", "veth", "peer", "name"];
        ip(&[&veth[..], &[&inner_link, "netns", &namespace]].concat())?;
        let gateway = format!("{}/24", self.gateway_ip(host));
        ip(&["addr", "add", &gateway, "dev", &root_link])?;
        ip(&["link", "set", &root_link, "up"])?;
        let address = format!("{}/24", self.host_ip(host));
        ip_in(&namespace, &["addr", "add", &address, "dev", &inner_link])?;
        ip_in(&namespace, &["link", "set", &inner_link, "up"])?;
        ip_in(&namespace, &["link", "set", "lo", "up"])?;
        self.route_to_peers_only(&namespace, host, hosts)
    }

    /// Routes to the other hosts through the root namespace and an unreachable default, so
    /// nothing a host sends can leave the test network.
    fn route_to_peers_only(
        &self,
        namespace: &str,
        host: usize,
        hosts: usize,
    ) -> Result<(), NetError> {
        let gateway = self.gateway_ip(host).to_string();
        for peer in (1..=hosts).filter(|&peer| peer != host) {
            let subnet = format!("10.{}.{peer}.0/24", self.layout.subnet);
            ip_in(namespace, &["route", "add", &subnet, "via", &gateway])?;
        }
        ip_in(namespace, &["route", "add", "unreachable", "default"])
    }

    fn enable_forwarding(&mut self) -> Result<(), NetError> {
        let failed = |error: std::io::Error| NetError(format!("{IP_FORWARD}: {error}"));
        let before = fs::read_to_string(IP_FORWARD).map_err(failed)?;
        if before.trim() != "1" {
            self.forward_before = Some(before);
            fs::write(IP_FORWARD, "1").map_err(failed)?;
        }
        Ok(())
    }

    /// Stops traffic from `from` to `to` (one direction).
    pub fn cut_one_way(&mut self, from: usize, to: usize) -> Result<(), NetError> {
        if from == to || !self.cuts.insert((from, to)) {
            return Ok(());
        }
        let route = format!("{}/32", self.host_ip(to));
        ip_in(self.namespace(from), &["route", "add", "blackhole", &route])
    }

    /// Stops traffic between `a` and `b` both ways.
    pub fn cut(&mut self, a: usize, b: usize) -> Result<(), NetError> {
        self.cut_one_way(a, b)?;
        self.cut_one_way(b, a)
    }

    /// Cuts host `lone` off from every other host.
    pub fn isolate(&mut self, lone: usize) -> Result<(), NetError> {
        for other in 1..=self.hosts() {
            self.cut(lone, other)?;
        }
        Ok(())
    }

    /// Splits the hosts into `groups`: hosts in different groups cannot talk; a host in no
    /// group keeps talking to everyone (a bridge).
    pub fn partition(&mut self, groups: &[Vec<usize>]) -> Result<(), NetError> {
        for (index, group) in groups.iter().enumerate() {
            for other in groups.iter().skip(index + 1) {
                for &a in group {
                    for &b in other {
                        self.cut(a, b)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds loss (percent) and delay to everything host `host` sends.
    pub fn degrade(
        &mut self,
        host: usize,
        loss_percent: u32,
        delay_ms: u32,
    ) -> Result<(), NetError> {
        let link = self.links[host - 1].inner_link.clone();
        let namespace = self.namespace(host).to_string();
        let verb = if self.degraded.insert(host) {
            "add"
        } else {
            "change"
        };
        let (loss, delay) = (format!("{loss_percent}%"), format!("{delay_ms}ms"));
        tc_in(
            &namespace,
            &[
                "qdisc", verb, "dev", &link, "root", "netem", "loss", &loss, "delay", &delay,
            ],
        )
    }

    /// Removes every cut and every netem qdisc.
    pub fn heal(&mut self) -> Result<(), NetError> {
        let mut first_error = None;
        for (from, to) in std::mem::take(&mut self.cuts) {
            let route = format!("{}/32", self.host_ip(to));
            if let Err(error) = ip_in(self.namespace(from), &["route", "del", "blackhole", &route])
            {
                first_error.get_or_insert(error);
            }
        }
        for host in std::mem::take(&mut self.degraded) {
            let link = self.links[host - 1].inner_link.clone();
            if let Err(error) = tc_in(
                self.namespace(host),
                &["qdisc", "del", "dev", &link, "root"],
            ) {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Whether any cut or degradation is in place.
    pub fn is_faulty(&self) -> bool {
        !self.cuts.is_empty() || !self.degraded.is_empty()
    }

    /// Every namespace's routes and the forwarding switch, for failure messages.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{IP_FORWARD} = {}",
            fs::read_to_string(IP_FORWARD).unwrap_or_default().trim()
        );
        for link in &self.links {
            let routes = run("ip", &["-n", &link.namespace, "route", "show"])
                .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
                .unwrap_or_else(|error| error.0);
            text.push_str(&format!(
                "\nroutes in {}:\n{}",
                link.namespace,
                routes.trim_end()
            ));
        }
        text
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for link in self.links.drain(..).rev() {
            // Deleting one end of a veth pair deletes both.
            let _ = run("ip", &["link", "del", &link.root_link]);
            if let Err(error) = run("ip", &["netns", "del", &link.namespace]) {
                eprintln!("network cleanup: {error}");
            }
        }
        if let Some(before) = self.forward_before.take() {
            if let Err(error) = fs::write(IP_FORWARD, before.trim()) {
                eprintln!("network cleanup: restoring {IP_FORWARD}: {error}");
            }
        }
    }
}

/// The namespaces of this layout that exist right now (this run's and older runs').
pub fn namespaces_of(layout: Layout) -> Vec<String> {
    let listing = run("ip", &["netns", "list"])
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.starts_with(layout.prefix))
        .map(str::to_string)
        .collect()
}

/// Deletes namespaces and links that a killed earlier run (its pid gone) left behind.
fn remove_leftovers_of_dead_runs(layout: Layout) {
    for namespace in namespaces_of(layout) {
        let Some((pid, host)) = parse_namespace(layout, &namespace) else {
            continue;
        };
        if fs::metadata(format!("/proc/{pid}")).is_ok() {
            continue;
        }
        eprintln!("removing {namespace}, left behind by an earlier run (pid {pid})");
        let _ = run(
            "ip",
            &["link", "del", &format!("{}{pid}r{host}", layout.link)],
        );
        let _ = run("ip", &["netns", "del", &namespace]);
    }
}

fn parse_namespace(layout: Layout, namespace: &str) -> Option<(u32, usize)> {
    let rest = namespace.strip_prefix(layout.prefix)?;
    let (pid, host) = rest.split_once('-')?;
    Some((pid.parse().ok()?, host.parse().ok()?))
}

/// Refuses when the root namespace already uses the layout's addresses (another run).
fn refuse_if_addresses_taken(layout: Layout) -> Result<(), NetError> {
    let range = format!("10.{}.0.0/16", layout.subnet);
    let taken = run("ip", &["-o", "addr", "show", "to", &range])
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    if taken.trim().is_empty() {
        Ok(())
    } else {
        Err(NetError(format!(
            "{range} is already in use in the root namespace (another run in progress?):\n{taken}"
        )))
    }
}

fn ip(args: &[&str]) -> Result<(), NetError> {
    run("ip", args).map(drop)
}

fn ip_in(namespace: &str, args: &[&str]) -> Result<(), NetError> {
    ip(&[&["-n", namespace][..], args].concat())
}

fn tc_in(namespace: &str, args: &[&str]) -> Result<(), NetError> {
    run(
        "ip",
        &[&["netns", "exec", namespace, "tc"][..], args].concat(),
    )
    .map(drop)
}

/// Runs `program` with `args`, or a message naming the command and its error output.
fn run(program: &str, args: &[&str]) -> Result<Output, NetError> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| NetError(format!("`{program} {}`: {error}", args.join(" "))))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(NetError(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
