//! `senate-faults`: runs fault-injection runs against a real Senate cluster and prints one
//! summary line per run and `N passed, N failed` at the end (exit 1 if any failed).

use clap::Parser;
use senate_faults::nemesis::Nemesis;
use senate_faults::netns;
use senate_faults::run::{run_once, FaultFigures, RunConfig, RunReport, Workload};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Fault injection with linearizability checking for Senate (needs root for the network
/// nemeses, which run the servers in network namespaces).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The senate binary to test (default: `senate` next to this program).
    #[arg(long, env = "SENATE_BIN")]
    senate_bin: Option<PathBuf>,
    /// How many runs.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// How long each run injects faults.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Servers in the cluster (3 or 5).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(3..=7))]
    servers: u8,
    /// Client agents, each beside a server; the workloads send to them as well as to servers.
    #[arg(long, default_value_t = 2)]
    client_agents: usize,
    /// The faults to inject, in turn (comma-separated; default: every one).
    #[arg(long, value_enum, value_delimiter = ',')]
    nemesis: Vec<Nemesis>,
    /// The workloads to run (comma-separated; default: every one).
    #[arg(long, value_enum, value_delimiter = ',')]
    workload: Vec<Workload>,
    /// Register clients.
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Register keys.
    #[arg(long, default_value_t = 5)]
    keys: usize,
    /// How long each fault lasts.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    hold: Duration,
    /// The pause between faults.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    quiet: Duration,
    /// A request without an answer after this long has an unknown outcome.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where failing runs keep their data, logs and history.
    #[arg(long, default_value = "/tmp/senate-faults")]
    out: PathBuf,
    /// Run the servers side by side on 127.0.0.1 (no root needed; no network nemeses).
    #[arg(long)]
    loopback: bool,
    /// A negative control: check `?stale` reads as if linearizable. A partition must then
    /// produce anomalies; a run that finds none says the suite is not looking.
    #[arg(long)]
    stale_reads_linearizable: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len()),
    );
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" => value * 60.0,
        _ => return Err(format!("invalid duration {text:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("senate-faults: {error}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    let config = config(args)?;
    let mut passed = 0;
    let mut failed = 0;
    let mut figures = Vec::new();
    let mut overlaps = (0usize, Duration::ZERO, 0usize);
    for index in 1..=runs_of(&config) {
        let report = run_once(&config.0, index).map_err(|error| error.to_string())?;
        println!("{}", summary(index, config.1, &report));
        for anomaly in &report.anomalies {
            println!("    {anomaly}");
        }
        figures.extend(report.faults_figures.iter().copied());
        overlaps.0 += report.lock_overlaps.len();
        overlaps.1 += report
            .lock_overlaps
            .iter()
            .map(|o| Duration::from_nanos(o.nanos))
            .sum();
        overlaps.2 += report.lock_holds;
        if report.passed() {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    print_fault_table(&figures);
    println!(
        "lock: {} holds, {} overlapping pairs, {:.0} ms overlapping in all",
        overlaps.2,
        overlaps.0,
        overlaps.1.as_secs_f64() * 1000.0
    );
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn runs_of(config: &(RunConfig, usize)) -> usize {
    config.1
}

fn config(args: Args) -> Result<(RunConfig, usize), String> {
    let senate = match args.senate_bin {
        Some(path) => path,
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("senate"),
    };
    if !senate.is_file() {
        return Err(format!(
            "no senate binary at {} (give --senate-bin)",
            senate.display()
        ));
    }
    let nemeses = if args.nemesis.is_empty() {
        every_available_nemesis(args.loopback)
    } else {
        args.nemesis
    };
    if nemeses.contains(&Nemesis::Loss) {
        if let Some(why) = netns::netem_unsupported() {
            return Err(format!("loss needs tc netem: {why}"));
        }
    }
    let needs_network: Vec<&str> = nemeses
        .iter()
        .filter(|n| n.needs_network())
        .map(|n| n.name())
        .collect();
    if !needs_network.is_empty() {
        if args.loopback {
            return Err(format!(
                "{} cannot run with --loopback",
                needs_network.join(", ")
            ));
        }
        if let Some(why) = netns::unsupported() {
            return Err(format!(
                "{} need network namespaces, and {why}",
                needs_network.join(", ")
            ));
        }
    }
    if args.runs == 0 {
        return Err("--runs must be at least 1".to_string());
    }
    let workloads = if args.workload.is_empty() {
        all::<Workload>()
    } else {
        args.workload
    };
    let config = RunConfig {
        senate,
        servers: usize::from(args.servers),
        client_agents: args.client_agents,
        loopback: args.loopback,
        duration: args.duration,
        nemeses,
        workloads,
        clients: args.clients.max(1),
        keys: args.keys.max(1),
        seed: args.seed,
        out: args.out,
        hold: args.hold,
        quiet: args.quiet,
        request_timeout: args.request_timeout,
        check_time_limit: Duration::from_secs(120),
        stale_as_linearizable: args.stale_reads_linearizable,
    };
    Ok((config, args.runs))
}

/// Every nemesis this machine can run (without namespaces only the process faults; without
/// netem no loss), saying which are left out.
fn every_available_nemesis(loopback: bool) -> Vec<Nemesis> {
    let namespaces = !loopback && netns::unsupported().is_none();
    let netem = namespaces && netns::netem_unsupported().is_none();
    let (kept, skipped): (Vec<Nemesis>, Vec<Nemesis>) = all::<Nemesis>()
        .into_iter()
        .partition(|n| (namespaces || !n.needs_network()) && (netem || *n != Nemesis::Loss));
    if !skipped.is_empty() {
        let names: Vec<&str> = skipped.iter().map(|n| n.name()).collect();
        eprintln!(
            "senate-faults: leaving out {} (not available here)",
            names.join(", ")
        );
    }
    kept
}

fn all<T: clap::ValueEnum + Clone>() -> Vec<T> {
    T::value_variants().to_vec()
}

/// Per nemesis: how many, recovery (fault end to first acknowledged write) and the longest
/// write outage, median and max.
fn print_fault_table(figures: &[FaultFigures]) {
    println!("| nemesis | faults | recovery median | recovery max | outage median | outage max |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut kinds: Vec<Nemesis> = figures.iter().map(|f| f.nemesis).collect();
    kinds.sort_by_key(|n| n.name());
    kinds.dedup();
    for kind in kinds {
        let of_kind: Vec<&FaultFigures> = figures.iter().filter(|f| f.nemesis == kind).collect();
        let mut recoveries: Vec<Duration> = of_kind.iter().filter_map(|f| f.recovery).collect();
        let mut outages: Vec<Duration> = of_kind.iter().map(|f| f.outage).collect();
        recoveries.sort();
        outages.sort();
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            kind.name(),
            of_kind.len(),
            seconds(recoveries.get(recoveries.len() / 2)),
            seconds(recoveries.last()),
            seconds(outages.get(outages.len() / 2)),
            seconds(outages.last())
        );
    }
}

fn summary(index: usize, runs: usize, report: &RunReport) -> String {
    let mut recoveries: Vec<Duration> = report
        .faults_figures
        .iter()
        .filter_map(|f| f.recovery)
        .collect();
    recoveries.sort();
    let kinds: Vec<&str> = report.faults.iter().map(|f| f.nemesis.name()).collect();
    format!(
        "run {index}/{runs}: {} operations, {} faults [{}], {} anomalies, {} lost writes, recovery median {} max {}, {} lock overlaps -> {}{}",
        report.operations,
        report.faults.len(),
        kinds.join(" "),
        report.anomalies.len(),
        report.lost_writes,
        seconds(recoveries.get(recoveries.len() / 2)),
        seconds(recoveries.last()),
        report.lock_overlaps.len(),
        if report.passed() { "ok" } else { "FAILED" },
        report
            .saved
            .as_ref()
            .map(|path| format!(" (history: {})", path.display()))
            .unwrap_or_default()
    )
}

fn seconds(duration: Option<&Duration>) -> String {
    duration.map_or("-".to_string(), |d| format!("{:.2}s", d.as_secs_f64()))
}
