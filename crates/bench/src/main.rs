//! `senate-bench` binary: parses flags, runs the chosen benchmarks, prints the report.

mod cli;
mod cluster_cmd;

use anyhow::{Context, Result};
use clap::Parser;
use senate_bench::catalog::{self, CatalogSpec};
use senate_bench::http1::Connection;
use senate_bench::kv::{self, Operation, ReadMode};
use senate_bench::load::{self, LevelResult};
use senate_bench::procfs::AgentProcess;
use senate_bench::report::{level_line, BenchReport, ModeLevel, PhaseMemory, Workload};
use senate_bench::target::Target;
use senate_bench::watch;

use cli::{Cli, Command, GlobalArgs, LoadArgs, WatchArgs};

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("warning: could not raise RLIMIT_NOFILE: {error}");
    }
    let runtime = build_runtime(cli.global.client_threads)?;
    let report = runtime.block_on(run(&cli))?;
    if cli.global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_markdown());
    }
    Ok(())
}

/// A current-thread runtime for one client thread (cheapest), multi-threaded otherwise.
fn build_runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut multi = tokio::runtime::Builder::new_multi_thread();
        multi.worker_threads(threads);
        multi
    };
    Ok(builder.enable_all().build()?)
}

async fn run(cli: &Cli) -> Result<BenchReport> {
    if let Command::Cluster(args) = &cli.command {
        return cluster_cmd::run(args, &cli.global).await;
    }
    let mut session = Session::open(&cli.global).await?;
    session.sample_memory("start")?;
    let outcome = session.run_command(&cli.command, &cli.global).await;
    if !cli.global.keep {
        session.cleanup().await;
    }
    outcome?;
    Ok(session.report)
}

/// State shared by the phases of one invocation.
struct Session {
    target: Target,
    server: Option<AgentProcess>,
    connect_parallelism: usize,
    report: BenchReport,
}

impl Session {
    async fn open(global: &GlobalArgs) -> Result<Self> {
        let target = Target::resolve(&global.addr, global.allow_remote)?;
        let mut probe = Connection::connect(&target)
            .await
            .with_context(|| format!("cannot connect to {}", target.url()))?;
        kv::preflight(&mut probe)
            .await
            .with_context(|| format!("{} is not a ready Consul-compatible agent", target.url()))?;
        Ok(Self {
            report: BenchReport::new(target.url()),
            target,
            server: global.pid.map(AgentProcess::new),
            connect_parallelism: global.connect_parallelism,
        })
    }

    async fn run_command(&mut self, command: &Command, global: &GlobalArgs) -> Result<()> {
        match command {
            Command::KvPut(load) => self.kv_put(load).await,
            Command::KvGet(args) => self.kv_get(&args.load, &args.modes.modes).await,
            Command::Watch(args) => self.watch(args).await,
            Command::Catalog(args) => self.catalog(&args.spec(global)).await,
            Command::Cluster(_) => Err(anyhow::anyhow!("cluster mode runs without a session")),
            Command::All(args) => {
                self.kv_put(&args.load).await?;
                self.kv_get(&args.load, &args.modes.modes).await?;
                self.watch(&args.watch).await?;
                match args.catalog_spec(global) {
                    Some(spec) => self.catalog(&spec).await,
                    None => Ok(()),
                }
            }
        }
    }

    async fn kv_put(&mut self, args: &LoadArgs) -> Result<()> {
        self.describe_workload(args);
        let spec = args.spec(self.connect_parallelism);
        let operation = Operation::put_of_size(args.value_size);
        for &concurrency in &args.concurrency {
            let level = load::run_level(&self.target, &operation, &spec, concurrency).await?;
            progress("kv-put", &level);
            self.report.kv_put.push(level);
        }
        self.sample_memory("kv-put")
    }

    async fn kv_get(&mut self, args: &LoadArgs, modes: &[ReadMode]) -> Result<()> {
        self.describe_workload(args);
        let spec = args.spec(self.connect_parallelism);
        eprintln!("kv-get: writing {} keys first", args.keys);
        load::populate(&self.target, args.value_size, &spec).await?;
        for &mode in modes {
            let operation = Operation::Get { mode };
            for &concurrency in &args.concurrency {
                let level = load::run_level(&self.target, &operation, &spec, concurrency).await?;
                progress(&format!("kv-get {mode}"), &level);
                self.report.kv_get.push(ModeLevel { mode, level });
            }
        }
        self.sample_memory("kv-get")
    }

    async fn watch(&mut self, args: &WatchArgs) -> Result<()> {
        eprintln!("watch: parking {} watchers", args.watchers);
        let spec = args.spec(self.connect_parallelism);
        let result = watch::run_watch(&self.target, &spec, self.server.as_ref()).await?;
        eprintln!(
            "watch: {} parked, {} released, {} early, {} still blocked; all released after {:.3} ms",
            result.parked,
            result.released,
            result.early_returns,
            result.not_released,
            result.release.max_us as f64 / 1000.0
        );
        self.report.watch = Some(result);
        self.sample_memory("watch")
    }

    async fn catalog(&mut self, spec: &CatalogSpec) -> Result<()> {
        eprintln!(
            "catalog: registering {} nodes × {} services at concurrency {}",
            spec.nodes, spec.services_per_node, spec.concurrency
        );
        let report =
            catalog::run_catalog(&self.target, spec, self.server.as_ref(), progress).await?;
        if report.register.errors > 0 || report.register.ok < spec.registrations() {
            eprintln!(
                "warning: only {} of {} registrations succeeded",
                report.register.ok,
                spec.registrations()
            );
        }
        if let Some(memory) = report.memory_registered {
            self.report.memory.push(PhaseMemory {
                phase: "catalog-register".to_string(),
                memory,
            });
        }
        self.report.catalog = Some(report);
        self.sample_memory("catalog")
    }

    fn describe_workload(&mut self, args: &LoadArgs) {
        self.report.workload = Some(Workload {
            value_size: args.value_size,
            keys: args.keys,
            per_level: args.spec(self.connect_parallelism).limit.to_string(),
        });
    }

    fn sample_memory(&mut self, phase: &str) -> Result<()> {
        if let Some(server) = &self.server {
            let memory = server.memory()?;
            self.report.memory.push(PhaseMemory {
                phase: phase.to_string(),
                memory,
            });
        }
        Ok(())
    }

    /// Best-effort removal of every key under the bench prefix.
    async fn cleanup(&self) {
        let deleted = match Connection::connect(&self.target).await {
            Ok(mut connection) => kv::delete_all(&mut connection).await,
            Err(error) => Err(error),
        };
        if let Err(error) = deleted {
            eprintln!("warning: could not delete {}*: {error}", kv::KEY_PREFIX);
        }
    }
}

fn progress(phase: &str, level: &LevelResult) {
    eprintln!("{}", level_line(phase, level));
}
