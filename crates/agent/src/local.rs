//! The agent's own services and checks — the source of truth that anti-entropy pushes to the
//! catalog — and their persistence in the data directory across restarts.

use senate_types::catalog::{HealthCheck, ServiceInstance};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A service registered with this agent.
#[derive(Clone, Debug)]
pub struct LocalService {
    pub instance: ServiceInstance,
    /// Registered through the API (kept across restarts) rather than from a config file.
    pub persisted: bool,
}

/// A check registered with this agent, with its latest result.
#[derive(Clone, Debug)]
pub struct LocalCheck {
    pub check: HealthCheck,
    /// The definition it was registered with; `None` for maintenance-mode checks, which never run.
    pub definition: Option<Value>,
    pub persisted: bool,
}

/// Everything the agent manages locally.
#[derive(Clone, Debug, Default)]
pub struct LocalState {
    pub services: BTreeMap<String, LocalService>,
    pub checks: BTreeMap<String, LocalCheck>,
}

/// The on-disk form of the API-registered services and checks.
#[derive(Default, Serialize, Deserialize)]
pub struct PersistedState {
    pub services: Vec<ServiceInstance>,
    pub checks: Vec<PersistedCheck>,
}

/// One persisted check: its last catalog record and the definition to run it from.
#[derive(Serialize, Deserialize)]
pub struct PersistedCheck {
    pub check: HealthCheck,
    pub definition: Option<Value>,
}

impl LocalState {
    /// The services and checks that must survive a restart.
    pub fn to_persisted(&self) -> PersistedState {
        PersistedState {
            services: self
                .services
                .values()
                .filter(|s| s.persisted)
                .map(|s| s.instance.clone())
                .collect(),
            checks: self
                .checks
                .values()
                .filter(|c| c.persisted)
                .map(|c| PersistedCheck {
                    check: c.check.clone(),
                    definition: c.definition.clone(),
                })
                .collect(),
        }
    }
}

/// Where the agent keeps its registrations, if it has a data directory.
#[derive(Clone, Debug)]
pub struct StateFile(Option<PathBuf>);

impl StateFile {
    /// The state file under `data_dir`, or none in memory-only (dev) mode.
    pub fn under(data_dir: Option<&Path>) -> Self {
        StateFile(data_dir.map(|dir| dir.join("agent").join("local-state.json")))
    }

    /// Reads what was persisted, or nothing.
    pub fn load(&self) -> std::io::Result<PersistedState> {
        let Some(path) = &self.0 else {
            return Ok(PersistedState::default());
        };
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Ok(PersistedState::default())
            }
            Err(error) => Err(error),
        }
    }

    /// Writes the state atomically (write, fsync, rename).
    pub fn save(&self, state: &PersistedState) -> std::io::Result<()> {
        let Some(path) = &self.0 else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        let partial = path.with_extension("partial");
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&partial, path)
    }
}
