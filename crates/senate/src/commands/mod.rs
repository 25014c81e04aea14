//! The `senate` subcommands, one module each, and the dispatch from parsed arguments to them.

pub mod agent;
pub mod autopilot;
pub mod catalog;
pub mod event;
pub mod info;
pub mod join;
pub mod keyring;
pub mod kv;
pub mod leave;
pub mod maint;
pub mod members;
pub mod monitor;
pub mod operator;
pub mod raft;
pub mod rtt;
pub mod services;
mod table;
pub mod version;
pub mod watch;

use std::future::Future;
use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::CommandFactory;

use crate::cli::{Cli, Commands};

/// Runs the chosen command. An `Err` carries the complete message for stderr (exit status 1).
pub fn run(command: Commands) -> anyhow::Result<ExitCode> {
    match command {
        Commands::Agent(args) => agent::run(&args),
        Commands::Catalog { command } => catalog::run(command),
        Commands::ForceLeave(args) => leave::force_leave(args),
        Commands::Info(args) => info::run(args),
        Commands::Join(args) => join::run(args),
        Commands::Keygen => Ok(keyring::keygen()),
        Commands::Keyring(args) => keyring::run(args),
        Commands::Kv { command } => kv::run(command),
        Commands::Leave(args) => leave::leave(args),
        Commands::Maint(args) => maint::run(args),
        Commands::Event(args) => event::run(args),
        Commands::Members(args) => members::run(args),
        Commands::Monitor(args) => monitor::run(args),
        Commands::Operator { command } => operator::run(command),
        Commands::Rtt(args) => rtt::run(args),
        Commands::Services { command } => services::run(command),
        Commands::Version => Ok(version::run()),
        Commands::Watch(args) => watch::run(args),
    }
}

/// Drives a client command's requests on a single-threaded runtime.
fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

/// Writes a command's output to stdout. A reader that has gone away (`senate info | head`) ends
/// the output quietly instead of panicking as `print!` would.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() != ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}

/// A usage error as Consul's CLI reports one: the message, a blank line, then the help of the
/// command at `path` (such as `["force-leave"]`) from its `Usage:` line on.
fn usage_error(path: &[&str], message: &str) -> anyhow::Error {
    let mut command = Cli::command();
    command.build();
    let help = path
        .iter()
        .try_fold(&mut command, |command, name| {
            command.find_subcommand_mut(name)
        })
        .map(|command| command.render_help().to_string())
        .unwrap_or_default();
    let usage = help.find("Usage:").map_or(help.as_str(), |at| &help[at..]);
    anyhow!("{message}\n\n{}", usage.trim_end())
}
