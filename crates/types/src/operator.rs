//! Operator wire types: autopilot's configuration as `/v1/operator/autopilot/configuration`
//! reads and writes it (durations as Go duration strings).

use crate::duration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Autopilot's settings, replicated through Raft.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutopilotConfig {
    /// Remove failed servers once the quorum allows it.
    pub cleanup_dead_servers: bool,
    /// A server whose last contact with the leader is older than this is unhealthy.
    pub last_contact_threshold: Duration,
    /// A server trailing the leader by more log entries than this is unhealthy.
    pub max_trailing_logs: u64,
    /// Never remove dead servers below this many voters.
    pub min_quorum: u32,
    /// How long a new server must be healthy before it becomes a voter.
    pub server_stabilization_time: Duration,
    pub redundancy_zone_tag: String,
    pub disable_upgrade_migration: bool,
    pub upgrade_version_tag: String,
}

impl Default for AutopilotConfig {
    /// Consul's defaults.
    fn default() -> Self {
        AutopilotConfig {
            cleanup_dead_servers: true,
            last_contact_threshold: Duration::from_millis(200),
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time: Duration::from_secs(10),
            redundancy_zone_tag: String::new(),
            disable_upgrade_migration: false,
            upgrade_version_tag: String::new(),
        }
    }
}

/// The JSON shape of autopilot's configuration, as Consul's API reads and writes it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AutopilotConfigJson {
    pub cleanup_dead_servers: bool,
    pub last_contact_threshold: String,
    pub max_trailing_logs: u64,
    pub min_quorum: u32,
    pub server_stabilization_time: String,
    pub redundancy_zone_tag: String,
    pub disable_upgrade_migration: bool,
    pub upgrade_version_tag: String,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AutopilotConfigJson {
    /// Renders `config` with its Raft indexes.
    pub fn render(config: &AutopilotConfig, create_index: u64, modify_index: u64) -> Self {
        AutopilotConfigJson {
            cleanup_dead_servers: config.cleanup_dead_servers,
            last_contact_threshold: duration::format(config.last_contact_threshold),
            max_trailing_logs: config.max_trailing_logs,
            min_quorum: config.min_quorum,
            server_stabilization_time: duration::format(config.server_stabilization_time),
            redundancy_zone_tag: config.redundancy_zone_tag.clone(),
            disable_upgrade_migration: config.disable_upgrade_migration,
            upgrade_version_tag: config.upgrade_version_tag.clone(),
            create_index,
            modify_index,
        }
    }

    /// The configuration this JSON describes; a bad duration is named in the error.
    pub fn to_config(&self) -> Result<AutopilotConfig, String> {
        let parse = |name: &str, text: &str| -> Result<Duration, String> {
            if text.is_empty() {
                return Ok(Duration::ZERO);
            }
            duration::parse(text).map_err(|e| format!("invalid {name} {text:?}: {e}"))
        };
        Ok(AutopilotConfig {
            cleanup_dead_servers: self.cleanup_dead_servers,
            last_contact_threshold: parse("LastContactThreshold", &self.last_contact_threshold)?,
            max_trailing_logs: self.max_trailing_logs,
            min_quorum: self.min_quorum,
            server_stabilization_time: parse(
                "ServerStabilizationTime",
                &self.server_stabilization_time,
            )?,
            redundancy_zone_tag: self.redundancy_zone_tag.clone(),
            disable_upgrade_migration: self.disable_upgrade_migration,
            upgrade_version_tag: self.upgrade_version_tag.clone(),
        })
    }
}
