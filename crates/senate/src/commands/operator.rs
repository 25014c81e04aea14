//! `senate operator`: the operator command tree (`raft ...`, `autopilot ...`) and its dispatch.

use std::process::ExitCode;

use clap::Subcommand;

use super::autopilot::{self, AutopilotCommand};
use super::raft::{self, RaftCommand};

/// The `operator` subcommands.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Provides tools for modifying Autopilot configuration
    Autopilot {
        #[command(subcommand)]
        command: AutopilotCommand,
    },
    /// Provides cluster-level tools for Raft
    Raft {
        #[command(subcommand)]
        command: RaftCommand,
    },
}

/// Runs an `operator` subcommand.
pub fn run(command: OperatorCommand) -> anyhow::Result<ExitCode> {
    match command {
        OperatorCommand::Autopilot { command } => autopilot::run(command),
        OperatorCommand::Raft { command } => raft::run(command),
    }
}
