//! The `senate` command tree, and the argv rewrite that lets clap read Consul's single-dash long flags.

use std::collections::HashSet;
use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand};
use senate_agent::config::AgentArgs;

use crate::commands::catalog::CatalogCommand;
use crate::commands::event::EventArgs;
use crate::commands::info::InfoArgs;
use crate::commands::join::JoinArgs;
use crate::commands::keyring::KeyringArgs;
use crate::commands::kv::KvCommand;
use crate::commands::leave::{ForceLeaveArgs, LeaveArgs};
use crate::commands::maint::MaintArgs;
use crate::commands::members::MembersArgs;
use crate::commands::monitor::MonitorArgs;
use crate::commands::operator::OperatorCommand;
use crate::commands::rtt::RttArgs;
use crate::commands::services::ServicesCommand;
use crate::commands::watch::WatchArgs;

/// Senate: a Consul-compatible service catalog and key-value store.
#[derive(Debug, Parser)]
#[command(name = "senate")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Commands,
}

/// The subcommands, named as Consul's.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Runs a Senate agent
    Agent(Box<AgentArgs>),
    /// Interact with the catalog
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Fires a new user event
    Event(EventArgs),
    /// Forces a member of the cluster to enter the "left" state
    ForceLeave(ForceLeaveArgs),
    /// Provides debugging information for operators
    Info(InfoArgs),
    /// Tell the agent to join a cluster
    Join(JoinArgs),
    /// Generates a new encryption key
    Keygen,
    /// Manages gossip layer encryption keys
    Keyring(KeyringArgs),
    /// Interact with the key-value store
    Kv {
        #[command(subcommand)]
        command: KvCommand,
    },
    /// Gracefully leaves the cluster and shuts the agent down
    Leave(LeaveArgs),
    /// Controls node or service maintenance mode
    Maint(MaintArgs),
    /// Lists the members of a Senate cluster
    Members(MembersArgs),
    /// Streams logs from a Senate agent
    Monitor(MonitorArgs),
    /// Provides cluster-level tools for operators
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Estimates network round trip time between nodes
    Rtt(RttArgs),
    /// Interact with services
    Services {
        #[command(subcommand)]
        command: ServicesCommand,
    },
    /// Prints the Senate version
    Version,
    /// Watches for changes (user events)
    Watch(WatchArgs),
}

/// Parses a `key=value` flag value (such as `-meta` or `-node-meta`), split at the first `=`.
pub fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .ok_or_else(|| format!("Missing \"=\" value in argument: {text}"))
}

/// Rewrites Consul-style arguments for clap: a known long flag written with one dash
/// (`-data-dir=x`, `-dev`, `-help`) gets a second dash; everything else (values such as `-1`,
/// `-` for stdin, short flags like `-h`, anything after `--`) is left alone. A leading
/// `-v`/`-version` becomes the `version` command, as in Consul.
pub fn normalize_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut known = HashSet::from(["help".to_string()]);
    collect_long_flags(&Cli::command(), &mut known);
    let mut args = normalize_with(args, &known);
    if let Some(first) = args.get_mut(1) {
        if matches!(first.to_str(), Some("-v" | "-version" | "--version")) {
            *first = OsString::from("version");
        }
    }
    args
}

fn collect_long_flags(command: &clap::Command, names: &mut HashSet<String>) {
    names.extend(
        command
            .get_arguments()
            .filter_map(|arg| arg.get_long())
            .map(str::to_string),
    );
    for sub in command.get_subcommands() {
        collect_long_flags(sub, names);
    }
}

fn normalize_with(
    args: impl IntoIterator<Item = OsString>,
    known: &HashSet<String>,
) -> Vec<OsString> {
    let mut past_terminator = false;
    args.into_iter()
        .map(|arg| {
            if past_terminator {
                return arg;
            }
            match arg.to_str() {
                Some("--") => {
                    past_terminator = true;
                    arg
                }
                Some(text) => double_dashed(text, known).map_or(arg, OsString::from),
                None => arg,
            }
        })
        .collect()
}

/// `-name` or `-name=value` with a known multi-letter `name`, as `--name...`.
fn double_dashed(arg: &str, known: &HashSet<String>) -> Option<String> {
    let body = arg.strip_prefix('-')?;
    let name = body.split_once('=').map_or(body, |(name, _)| name);
    let is_long_flag = !body.starts_with('-') && name.len() > 1 && known.contains(name);
    is_long_flag.then(|| format!("-{arg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize(args: &[&str]) -> Vec<String> {
        normalize_args(args.iter().map(OsString::from))
            .into_iter()
            .map(|arg| arg.into_string().unwrap())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_get_a_second_dash() {
        assert_eq!(
            normalize(&[
                "senate",
                "agent",
                "-dev",
                "-data-dir=/x",
                "-node",
                "n1",
                "--client",
                "1"
            ]),
            [
                "senate",
                "agent",
                "--dev",
                "--data-dir=/x",
                "--node",
                "n1",
                "--client",
                "1"
            ]
        );
    }

    #[test]
    fn values_short_flags_and_unknown_words_are_kept() {
        assert_eq!(
            normalize(&["senate", "agent", "-dns-port", "-1", "-h", "-nonsense", "-"]),
            [
                "senate",
                "agent",
                "--dns-port",
                "-1",
                "-h",
                "-nonsense",
                "-"
            ]
        );
    }

    #[test]
    fn nothing_after_a_terminator_is_touched() {
        assert_eq!(
            normalize(&["senate", "kv", "put", "-flags=3", "--", "k", "-recurse"]),
            ["senate", "kv", "put", "--flags=3", "--", "k", "-recurse"]
        );
    }

    #[test]
    fn help_and_version_forms() {
        assert_eq!(normalize(&["senate", "kv", "get", "-help"])[3], "--help");
        assert_eq!(normalize(&["senate", "-version"])[1], "version");
        assert_eq!(normalize(&["senate", "-v"])[1], "version");
    }

    #[test]
    fn key_value_splits_at_the_first_equals_sign() {
        assert_eq!(key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(key_value("a="), Ok(("a".into(), String::new())));
        assert!(key_value("nope").is_err());
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn consul_style_agent_flags_parse() {
        let cli = Cli::try_parse_from(normalize_args(
            [
                "senate",
                "agent",
                "-dev",
                "-http-port=8501",
                "-dns-port",
                "-1",
                "-config-file",
                "a.json",
                "-hcl",
                "x = 1",
            ]
            .map(OsString::from),
        ))
        .unwrap();
        let Commands::Agent(args) = cli.command else {
            panic!("not the agent command");
        };
        assert!(args.dev);
        assert_eq!(args.http_port, Some(8501));
        assert_eq!(args.dns_port, Some(-1));
        assert_eq!(args.config.0.len(), 1);
        assert_eq!(args.hcl, ["x = 1"]);
    }
}
