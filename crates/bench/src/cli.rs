//! Command-line flags of `senate-bench` (clap derive).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use senate_bench::catalog::CatalogSpec;
use senate_bench::clients::ClientSpec;
use senate_bench::cluster::ClusterSpec;
use senate_bench::failover::FailoverSpec;
use senate_bench::kv::ReadMode;
use senate_bench::load::{LoadSpec, RunLimit};
use senate_bench::units::parse_duration;
use senate_bench::watch::WatchSpec;

/// Benchmark a Consul-compatible HTTP API: KV writes, KV reads, blocking-query fan-out and
/// catalog registration/reads at scale.
///
/// Only loopback targets are accepted unless --allow-remote is given. Keys are written under
/// `senate-bench/` and catalog nodes are named `bench-node-<i>`; both are removed afterwards
/// (unless --keep).
///
/// `cluster` measures a 3-server cluster instead of one --addr: it starts the servers itself
/// (--start-cluster, with --clients N client agents) or takes --addrs (with --pids for
/// failover, and --client-addrs for existing client agents).
#[derive(Debug, Parser)]
#[command(name = "senate-bench", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted by every subcommand.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// HTTP address of the target agent.
    #[arg(
        long,
        global = true,
        env = "CONSUL_HTTP_ADDR",
        default_value = "http://127.0.0.1:8500"
    )]
    pub addr: String,
    /// Allow a target that does not resolve to a loopback address.
    #[arg(long, global = true)]
    pub allow_remote: bool,
    /// Server process id; its VmRSS/VmHWM is sampled at start and after each phase.
    #[arg(long = "pid", visible_alias = "server-pid", global = true)]
    pub pid: Option<u32>,
    /// Print the report as JSON instead of markdown tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Threads driving the load (1 keeps the bench off the server's second core).
    #[arg(long, global = true, default_value = "1", value_parser = parse_positive)]
    pub client_threads: usize,
    /// Maximum connects in flight while opening connections.
    #[arg(long, global = true, default_value = "256", value_parser = parse_positive)]
    pub connect_parallelism: usize,
    /// Keep the `senate-bench/` keys and `bench-node-*` catalog nodes instead of removing them.
    #[arg(long, global = true)]
    pub keep: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// KV PUT throughput and latency at each concurrency level.
    KvPut(LoadArgs),
    /// KV GET throughput and latency per consistency mode and concurrency level.
    KvGet(GetArgs),
    /// Blocking-query fan-out: park watchers on one key, PUT it, time their release.
    Watch(WatchArgs),
    /// Catalog at scale: register nodes × services, time big health/catalog reads, deregister.
    Catalog(CatalogArgs),
    /// kv-put, kv-get and watch (and catalog with --catalog) in sequence, reported as one
    /// markdown table set.
    All(AllArgs),
    /// A 3-server cluster: KV PUT/GET through the leader and through a follower, client agents'
    /// memory and KV GET through one of them (with --clients or --client-addrs), blocking
    /// fan-out through a follower, and failover (kill -9 of the leader). Either starts the
    /// servers (--start-cluster) or points at them (--addrs; --addr is ignored).
    Cluster(Box<ClusterArgs>),
}

/// Shape of the KV load.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Comma-separated concurrency levels (one keep-alive connection per worker).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256", value_parser = parse_positive)]
    pub concurrency: Vec<usize>,
    /// Time to run each level, e.g. 5s, 500ms, 1m.
    #[arg(long, default_value = "5s", value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Duration,
    /// Run each level for exactly this many requests instead of a duration.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Size of each written value in bytes.
    #[arg(long, default_value = "64")]
    pub value_size: usize,
    /// Number of distinct keys the load is spread over.
    #[arg(long, default_value = "1000", value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

/// Flags of `kv-get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub modes: ModeArgs,
}

/// Consistency modes to read with.
#[derive(Debug, Args)]
pub struct ModeArgs {
    /// Comma-separated read modes: default, stale, consistent.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "default,stale,consistent"
    )]
    pub modes: Vec<ReadMode>,
}

/// Flags of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Number of blocking watchers, each on its own TCP connection.
    #[arg(long, default_value = "10000", value_parser = parse_positive)]
    pub watchers: usize,
    /// Pause between the two checks that all watchers are still parked.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub settle: Duration,
    /// Bound on parking all watchers, and separately on their release after the PUT.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub watch_timeout: Duration,
}

/// Size of the catalog workload (shared by `catalog` and `all --catalog`).
#[derive(Debug, Args)]
pub struct CatalogShapeArgs {
    /// Nodes to register, named bench-node-<i>.
    #[arg(long, default_value = "10000", value_parser = clap::value_parser!(u64).range(1..))]
    pub nodes: u64,
    /// Services per node, named bench-svc-<j>; each name gets one instance per node.
    #[arg(long, default_value = "5", value_parser = clap::value_parser!(u64).range(1..))]
    pub services_per_node: u64,
    /// Concurrent readers (one connection each) per read endpoint.
    #[arg(long, default_value = "4", value_parser = parse_positive)]
    pub readers: usize,
}

/// Flags of `catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    #[command(flatten)]
    pub shape: CatalogShapeArgs,
    /// Workers (one keep-alive connection each) for registration and deregistration.
    #[arg(long, default_value = "16", value_parser = parse_positive)]
    pub concurrency: usize,
    /// Time to read each endpoint, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Per-request timeout.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

/// Flags of `all`.
#[derive(Debug, Args)]
pub struct AllArgs {
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub modes: ModeArgs,
    #[command(flatten)]
    pub watch: WatchArgs,
    /// Also run the (long) catalog benchmark after watch.
    #[arg(long)]
    pub catalog: bool,
    #[command(flatten)]
    pub catalog_shape: CatalogShapeArgs,
    /// Registration/deregistration workers of the catalog phase.
    #[arg(long, default_value = "16", value_parser = parse_positive)]
    pub catalog_concurrency: usize,
    /// Time to read each catalog endpoint.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub catalog_duration: Duration,
}

/// Flags of `cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Start 3 local senate servers on free loopback ports (temporary data dirs); they are
    /// killed when the run ends, fails or is interrupted.
    #[arg(long, conflicts_with = "addrs")]
    pub start_cluster: bool,
    /// The senate binary for --start-cluster [default: `senate` next to this binary].
    #[arg(long)]
    pub senate_bin: Option<PathBuf>,
    /// Keep the started cluster's data and log directory.
    #[arg(long, requires = "start_cluster")]
    pub keep_cluster_dir: bool,
    /// HTTP addresses of an existing cluster's servers (Consul or Senate), comma-separated.
    #[arg(long, value_delimiter = ',', required_unless_present = "start_cluster")]
    pub addrs: Vec<String>,
    /// Process ids of the --addrs servers, in the same order; needed for failover (and the
    /// follower's memory samples).
    #[arg(long, value_delimiter = ',', requires = "addrs")]
    pub pids: Vec<u32>,
    /// With --start-cluster: client agents (`senate agent` without -server) to start, joined
    /// to the servers; their memory is sampled and KV GET compared through the first of them.
    #[arg(long, default_value = "0", conflicts_with = "addrs")]
    pub clients: usize,
    /// HTTP addresses of an existing cluster's client agents (Consul or Senate), comma-separated;
    /// GETs are compared through the first.
    #[arg(long, value_delimiter = ',', conflicts_with = "start_cluster")]
    pub client_addrs: Vec<String>,
    /// Process ids of the --client-addrs agents, in the same order; needed for their memory.
    #[arg(
        long,
        value_delimiter = ',',
        requires = "client_addrs",
        conflicts_with = "start_cluster"
    )]
    pub client_pids: Vec<u32>,
    /// Read modes of the GETs compared through a client agent, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "default,stale")]
    pub client_modes: Vec<ReadMode>,
    /// Bound on waiting for every client agent to list itself and the servers alive and to know
    /// the leader.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub client_ready_timeout: Duration,
    /// Bound on waiting for one leader with every server a voter.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub settle_timeout: Duration,
    /// Comma-separated concurrency levels of the KV phases.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64", value_parser = parse_positive)]
    pub concurrency: Vec<usize>,
    /// Time to run each KV level (per role, operation and concurrency).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Size of each written value in bytes.
    #[arg(long, default_value = "64")]
    pub value_size: usize,
    /// Number of distinct keys the KV load is spread over.
    #[arg(long, default_value = "1000", value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Per-request timeout of the KV phases.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    #[command(flatten)]
    pub modes: ModeArgs,
    /// Blocking watchers parked on one key through a follower.
    #[arg(long, default_value = "1000", value_parser = parse_positive)]
    pub watchers: usize,
    /// Read modes of the fan-out's blocking queries, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "default,stale")]
    pub watch_modes: Vec<ReadMode>,
    /// Pause between the two checks that all watchers are still parked.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub settle: Duration,
    /// Bound on parking all watchers, and separately on their release after the PUT.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub watch_timeout: Duration,
    /// Skip the failover phase.
    #[arg(long)]
    pub no_failover: bool,
    /// Writes streamed to the follower before the leader is killed.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub failover_warmup: Duration,
    /// Bound on waiting for a new leader and the first acknowledged write after the kill.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub failover_timeout: Duration,
    /// Timeout of each failover write (a failed write is retried on the next survivor).
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub failover_write_timeout: Duration,
}

impl ClusterArgs {
    pub fn spec(&self, connect_parallelism: usize) -> ClusterSpec {
        ClusterSpec {
            concurrency: self.concurrency.clone(),
            load: LoadSpec {
                limit: RunLimit::Time(self.duration),
                keys: self.keys,
                request_timeout: self.request_timeout,
                connect_parallelism,
            },
            value_size: self.value_size,
            read_modes: self.modes.modes.clone(),
            watch: WatchSpec {
                watchers: self.watchers,
                mode: ReadMode::Default,
                connect_parallelism,
                settle: self.settle,
                timeout: self.watch_timeout,
            },
            watch_modes: self.watch_modes.clone(),
            failover: (!self.no_failover).then_some(FailoverSpec {
                warmup: self.failover_warmup,
                timeout: self.failover_timeout,
                request_timeout: self.failover_write_timeout,
                value_size: self.value_size,
            }),
            settle_timeout: self.settle_timeout,
            clients: ClientSpec {
                modes: self.client_modes.clone(),
                ready_timeout: self.client_ready_timeout,
            },
        }
    }
}

impl LoadArgs {
    pub fn spec(&self, connect_parallelism: usize) -> LoadSpec {
        LoadSpec {
            limit: match self.requests {
                Some(n) => RunLimit::Requests(n),
                None => RunLimit::Time(self.duration),
            },
            keys: self.keys,
            request_timeout: self.request_timeout,
            connect_parallelism,
        }
    }
}

impl WatchArgs {
    pub fn spec(&self, connect_parallelism: usize) -> WatchSpec {
        WatchSpec {
            watchers: self.watchers,
            mode: ReadMode::Default,
            connect_parallelism,
            settle: self.settle,
            timeout: self.watch_timeout,
        }
    }
}

impl CatalogArgs {
    pub fn spec(&self, global: &GlobalArgs) -> CatalogSpec {
        self.shape.spec(
            self.concurrency,
            self.duration,
            self.request_timeout,
            global,
        )
    }
}

impl AllArgs {
    /// The catalog phase's spec, when `--catalog` was given.
    pub fn catalog_spec(&self, global: &GlobalArgs) -> Option<CatalogSpec> {
        self.catalog.then(|| {
            self.catalog_shape.spec(
                self.catalog_concurrency,
                self.catalog_duration,
                self.load.request_timeout,
                global,
            )
        })
    }
}

impl CatalogShapeArgs {
    fn spec(
        &self,
        concurrency: usize,
        read_duration: Duration,
        request_timeout: Duration,
        global: &GlobalArgs,
    ) -> CatalogSpec {
        CatalogSpec {
            nodes: self.nodes,
            services_per_node: self.services_per_node,
            concurrency,
            readers: self.readers,
            read_duration,
            request_timeout,
            connect_parallelism: global.connect_parallelism,
            keep: global.keep,
        }
    }
}

fn parse_positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a positive integer, got {text:?}")),
    }
}
