//! Gossip configuration, and foca's SWIM configuration derived from its timings and the
//! cluster's size the way memberlist scales its LAN defaults.

use crate::error::GossipError;
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::{NonZeroU8, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

/// How long a failed or left member stays listed (Consul's reconnect_timeout default, 72 h).
pub const REAP_INTERVAL: Duration = Duration::from_secs(72 * 60 * 60);

/// How many members an unanswered probe is relayed through (memberlist's IndirectChecks).
const INDIRECT_PROBES: usize = 3;

/// How one agent takes part in LAN gossip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipConfig {
    /// This node's name, unique in the cluster.
    pub node_name: String,
    /// Where UDP and TCP are both bound (Consul's serf_lan port); port 0 picks a free one.
    pub bind: std::net::SocketAddr,
    /// The address others reach this node at; port 0 means the bound port, and an
    /// unspecified IP means the bind IP.
    pub advertise: std::net::SocketAddr,
    /// This node's tags, seen by every member.
    pub tags: BTreeMap<String, String>,
    /// Protocol timings.
    pub timing: GossipTiming,
    /// Gossip encryption; `None` (or no key anywhere) sends and accepts plaintext only.
    pub encryption: Option<EncryptionConfig>,
}

/// Gossip encryption as Consul configures it: `encrypt`, the keyring file serf keeps in the
/// data directory, and `encrypt_verify_incoming` / `encrypt_verify_outgoing`. Encryption is
/// on when the keyring file exists or `initial_key` is set; otherwise it is off.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionConfig {
    /// The gossip key (Consul's `encrypt`), standard base64 of 16, 24 or 32 bytes. Used when
    /// the keyring file does not exist yet, and then written to it.
    pub initial_key: Option<String>,
    /// Where the keyring is kept (Consul's `<data_dir>/serf/local.keyring`): a JSON array of
    /// base64 keys, the primary first. When it exists it wins over `initial_key`.
    pub keyring_file: Option<PathBuf>,
    /// Refuse plaintext input (default true); when false, both plaintext and encrypted
    /// input are accepted, as when turning encryption on in a running cluster.
    pub verify_incoming: bool,
    /// Encrypt output (default true).
    pub verify_outgoing: bool,
}

impl EncryptionConfig {
    /// Encryption with `key` and nothing persisted, verifying both ways.
    pub fn with_key(key: impl Into<String>) -> EncryptionConfig {
        EncryptionConfig {
            initial_key: Some(key.into()),
            ..EncryptionConfig::default()
        }
    }
}

impl Default for EncryptionConfig {
    fn default() -> Self {
        EncryptionConfig {
            initial_key: None,
            keyring_file: None,
            verify_incoming: true,
            verify_outgoing: true,
        }
    }
}

/// The key is a secret: it is never printed.
impl fmt::Debug for EncryptionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionConfig")
            .field(
                "initial_key",
                &self.initial_key.as_ref().map(|_| "<redacted>"),
            )
            .field("keyring_file", &self.keyring_file)
            .field("verify_incoming", &self.verify_incoming)
            .field("verify_outgoing", &self.verify_outgoing)
            .finish()
    }
}

/// SWIM timings, named as memberlist names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipTiming {
    /// How often a random member is probed.
    pub probe_interval: Duration,
    /// How long a direct probe waits before asking others to probe indirectly.
    pub probe_timeout: Duration,
    /// How often queued updates are gossiped to `gossip_nodes` members.
    pub gossip_interval: Duration,
    /// How many members each gossip round goes to (memberlist's GossipNodes).
    pub gossip_nodes: usize,
    /// Scales how often an update is re-sent with the cluster: `× ceil(log10(n + 1))`
    /// (memberlist's RetransmitMult).
    pub retransmit_multiplier: u32,
    /// Suspicion lasts `suspicion_multiplier × max(1, log10(n)) × probe_interval`.
    pub suspicion_multiplier: u32,
    /// How often a node exchanges its full state with a random member over TCP (memberlist's
    /// PushPullInterval; stretched for large pools by [`GossipTiming::push_pull_every`]).
    pub push_pull_interval: Duration,
    /// How long a failed member stays listed before it is reaped (Consul's `reconnect_timeout`).
    pub reconnect_timeout: Duration,
}

impl GossipTiming {
    /// Consul's LAN defaults (memberlist's DefaultLANConfig).
    pub fn lan() -> Self {
        GossipTiming {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            retransmit_multiplier: 4,
            suspicion_multiplier: 4,
            push_pull_interval: Duration::from_secs(30),
            reconnect_timeout: REAP_INTERVAL,
        }
    }

    /// Rejects timings foca cannot run with.
    pub fn validate(&self) -> Result<(), GossipError> {
        let bad = |why: &str| Err(GossipError::Config(why.to_string()));
        if self.probe_interval.is_zero() || self.gossip_interval.is_zero() {
            return bad("probe and gossip intervals must be above zero");
        }
        if self.probe_timeout.is_zero() || self.probe_timeout >= self.probe_interval {
            return bad("probe timeout must be above zero and below the probe interval");
        }
        if self.suspicion_multiplier == 0 {
            return bad("suspicion multiplier must be at least 1");
        }
        if self.gossip_nodes == 0 || self.retransmit_multiplier == 0 {
            return bad("gossip nodes and retransmit multiplier must be at least 1");
        }
        if self.push_pull_interval.is_zero() {
            return bad("push-pull interval must be above zero");
        }
        Ok(())
    }

    /// How often a member exchanges its full state with a random member in a pool of
    /// `cluster_size`: the push-pull interval, stretched above 32 members as memberlist's
    /// `pushPullScale` does (`× (ceil(log2 n − log2 32) + 1)`), so the pool's total push-pull
    /// traffic grows with `n log n` and not `n²`.
    pub fn push_pull_every(&self, cluster_size: usize) -> Duration {
        const SCALE_THRESHOLD: usize = 32;
        if cluster_size <= SCALE_THRESHOLD {
            return self.push_pull_interval;
        }
        let excess = (cluster_size as f64).log2() - (SCALE_THRESHOLD as f64).log2();
        let multiplier = excess.ceil() as u32 + 1;
        self.push_pull_interval.saturating_mul(multiplier)
    }

    /// How long a suspect member of a cluster of `cluster_size` has to refute suspicion.
    pub(crate) fn suspicion_timeout(&self, cluster_size: usize) -> Duration {
        let scale = log10(cluster_size).max(1.0);
        let secs = self.probe_interval.as_secs_f64() * f64::from(self.suspicion_multiplier) * scale;
        Duration::try_from_secs_f64(secs).unwrap_or(REAP_INTERVAL)
    }
}

impl Default for GossipTiming {
    fn default() -> Self {
        GossipTiming::lan()
    }
}

/// The address this node advertises: unspecified parts are filled from the bound socket. With
/// both IPs unspecified no reachable address is known; loopback is used (and a warning logged),
/// which serves a single agent but no cluster.
pub(crate) fn advertised(advertise: SocketAddr, bound: SocketAddr) -> SocketAddr {
    let ip = match (advertise.ip().is_unspecified(), bound.ip().is_unspecified()) {
        (false, _) => advertise.ip(),
        (true, false) => bound.ip(),
        (true, true) => {
            tracing::warn!(
                %advertise, %bound,
                "no advertise address for gossip; advertising loopback, which other agents cannot reach"
            );
            loopback(bound.ip())
        }
    };
    let port = match advertise.port() {
        0 => bound.port(),
        port => port,
    };
    SocketAddr::new(ip, port)
}

fn loopback(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

fn log10(n: usize) -> f64 {
    // Cluster sizes are far below 2^52, so the conversion is exact.
    (n.max(1) as f64).log10()
}

fn non_zero(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

/// How many times an update is piggybacked: `multiplier × ceil(log10(n + 1))`, as memberlist does.
fn max_transmissions(multiplier: u32, cluster_size: usize) -> NonZeroU8 {
    let times = f64::from(multiplier) * log10(cluster_size.saturating_add(1)).ceil();
    let times = u8::try_from(times.clamp(1.0, 255.0) as u32).unwrap_or(u8::MAX);
    NonZeroU8::new(times).unwrap_or(NonZeroU8::MIN)
}

/// foca's configuration for `timing` in a cluster of `cluster_size` live members (public so the
/// `pool_scale` simulation runs exactly what the actor runs).
pub fn foca_config(timing: &GossipTiming, cluster_size: usize) -> foca::Config {
    foca::Config {
        probe_period: timing.probe_interval,
        probe_rtt: timing.probe_timeout,
        num_indirect_probes: non_zero(INDIRECT_PROBES),
        max_transmissions: max_transmissions(timing.retransmit_multiplier, cluster_size),
        suspect_to_down_after: timing.suspicion_timeout(cluster_size),
        remove_down_after: Some(timing.reconnect_timeout),
        max_packet_size: non_zero(crate::codec::MAX_DATAGRAM),
        notify_down_members: true,
        // The full-state exchange is the TCP push-pull (`GossipTiming::push_pull_every`), not
        // foca's one-datagram announce.
        periodic_announce: None,
        periodic_announce_to_down_members: Some(foca::PeriodicParams {
            // Consul's serf retries failed members every 30 s; a third of the push-pull interval
            // (10 s at LAN timing) lets a healed partition reunite sooner.
            frequency: timing.push_pull_interval / 3,
            num_members: non_zero(2),
        }),
        periodic_gossip: Some(foca::PeriodicParams {
            frequency: timing.gossip_interval,
            num_members: non_zero(timing.gossip_nodes),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_timing_maps_onto_foca() {
        let timing = GossipTiming::lan();
        timing.validate().expect("LAN defaults are valid");
        let config = foca_config(&timing, 3);
        assert_eq!(config.probe_period, Duration::from_secs(1));
        assert_eq!(config.probe_rtt, Duration::from_millis(500));
        assert_eq!(config.suspect_to_down_after, Duration::from_secs(4));
        assert_eq!(config.max_transmissions.get(), 4);
        assert_eq!(config.remove_down_after, Some(REAP_INTERVAL));
        let gossip = config.periodic_gossip.expect("periodic gossip");
        assert_eq!(gossip.frequency, Duration::from_millis(200));
        assert_eq!(gossip.num_members.get(), 3);
        assert!(config.periodic_announce.is_none(), "push-pull replaces it");
        assert!(config.periodic_announce_to_down_members.is_some());
        assert!(config.notify_down_members);
    }

    #[test]
    fn suspicion_and_retransmits_grow_with_the_cluster() {
        let timing = GossipTiming::lan();
        assert_eq!(timing.suspicion_timeout(1), Duration::from_secs(4));
        assert_eq!(timing.suspicion_timeout(100), Duration::from_secs(8));
        assert_eq!(max_transmissions(4, 9).get(), 4);
        assert_eq!(max_transmissions(4, 10).get(), 8);
    }

    #[test]
    fn push_pull_stretches_above_32_members() {
        let timing = GossipTiming::lan();
        assert_eq!(timing.push_pull_every(3), Duration::from_secs(30));
        assert_eq!(timing.push_pull_every(32), Duration::from_secs(30));
        assert_eq!(timing.push_pull_every(33), Duration::from_secs(60));
        assert_eq!(timing.push_pull_every(1000), Duration::from_secs(180));
    }

    #[test]
    fn impossible_timings_are_refused() {
        let mut timing = GossipTiming::lan();
        timing.probe_timeout = timing.probe_interval;
        assert!(timing.validate().is_err());
        let mut timing = GossipTiming::lan();
        timing.suspicion_multiplier = 0;
        assert!(timing.validate().is_err());
    }

    #[test]
    fn encryption_verifies_both_ways_by_default_and_hides_the_key() {
        let config = EncryptionConfig::with_key("c2VjcmV0");
        assert!(config.verify_incoming && config.verify_outgoing);
        let printed = format!("{config:?}");
        assert!(!printed.contains("c2VjcmV0"), "{printed}");
    }

    #[test]
    fn advertise_fills_in_from_the_bound_socket() {
        let bound = SocketAddr::from(([127, 0, 0, 1], 4000));
        let any = SocketAddr::from(([0, 0, 0, 0], 0));
        assert_eq!(advertised(any, bound), bound);
        let explicit = SocketAddr::from(([10, 0, 0, 5], 0));
        assert_eq!(
            advertised(explicit, bound),
            SocketAddr::from(([10, 0, 0, 5], 4000))
        );
        assert_eq!(
            advertised(any, SocketAddr::from(([0, 0, 0, 0], 4000))),
            SocketAddr::from(([127, 0, 0, 1], 4000))
        );
    }
}
