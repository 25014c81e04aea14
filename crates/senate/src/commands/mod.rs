//! The `senate` subcommands, one module each, and the dispatch from parsed arguments to them.

pub mod agent;
pub mod catalog;
pub mod kv;
pub mod maint;
pub mod members;
pub mod operator;
pub mod services;
mod table;
pub mod version;

use std::future::Future;
use std::process::ExitCode;

use crate::cli::Commands;

/// Runs the chosen command. An `Err` carries the complete message for stderr (exit status 1).
pub fn run(command: Commands) -> anyhow::Result<ExitCode> {
    match command {
        Commands::Agent(args) => agent::run(&args),
        Commands::Catalog { command } => catalog::run(command),
        Commands::Kv { command } => kv::run(command),
        Commands::Maint(args) => maint::run(args),
        Commands::Members(args) => members::run(args),
        Commands::Operator { command } => operator::run(command),
        Commands::Services { command } => services::run(command),
        Commands::Version => Ok(version::run()),
    }
}

/// Drives a client command's requests on a single-threaded runtime.
fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}
