//! The local agent: registers services and checks (from the API and config files), runs the
//! checks, keeps their results, persists API registrations, and hands the state to anti-entropy.

use crate::checks::definition::{CheckDefinition, DefinitionError};
use crate::checks::runner::{CheckRunner, RunnerError, StatusSink};
use crate::checks::spec::CheckSpec;
use crate::config::AgentConfig;
use crate::local::{LocalCheck, LocalService, LocalState, StateFile};
use crate::service::{ServiceDefinition, ServiceError};
use senate_cluster::Backend;
use senate_types::catalog::{CheckStatus, HealthCheck, ServiceInstance};
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// The check ID of node maintenance mode.
pub const NODE_MAINTENANCE_CHECK: &str = "_node_maintenance";
/// The prefix of a service's maintenance-mode check ID.
pub const SERVICE_MAINTENANCE_PREFIX: &str = "_service_maintenance:";

/// Why an agent operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Internal(String),
}

impl From<ServiceError> for AgentError {
    fn from(error: ServiceError) -> Self {
        AgentError::BadRequest(error.to_string())
    }
}

/// State shared with the check runner, which reports results into it.
pub(crate) struct Shared {
    pub(crate) state: Mutex<LocalState>,
    pub(crate) sync_needed: Notify,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, LocalState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl StatusSink for Shared {
    fn check_updated(&self, check_id: &str, status: CheckStatus, output: &str) {
        {
            let mut state = self.lock();
            let Some(local) = state.checks.get_mut(check_id) else {
                return;
            };
            local.check.status = status;
            local.check.output = output.to_string();
        }
        self.sync_needed.notify_one();
    }
}

/// This agent's services and checks.
pub struct LocalAgent {
    pub(crate) config: Arc<AgentConfig>,
    pub(crate) backend: Backend,
    pub(crate) shared: Arc<Shared>,
    runner: CheckRunner,
    state_file: StateFile,
    /// The `consul` service a server advertises on its own node, as Consul's servers do.
    pub(crate) server_service: Option<ServiceInstance>,
}

impl LocalAgent {
    /// Restores persisted registrations, loads those in the config, starts their checks, and
    /// starts anti-entropy.
    pub fn start(config: Arc<AgentConfig>, backend: Backend) -> Result<Arc<Self>, AgentError> {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            sync_needed: Notify::new(),
        });
        let agent = Arc::new(LocalAgent {
            state_file: StateFile::under(config.data_dir.as_deref()),
            runner: CheckRunner::new(shared.clone()),
            server_service: config.server.then(|| server_service(&config)),
            config,
            backend,
            shared,
        });
        agent.restore()?;
        agent.load_config_definitions(&agent.config.clone())?;
        tokio::spawn(crate::sync::run(Arc::downgrade(&agent)));
        tokio::spawn(crate::coordinate_sync::run(Arc::downgrade(&agent)));
        Ok(agent)
    }

    fn restore(&self) -> Result<(), AgentError> {
        let persisted = self
            .state_file
            .load()
            .map_err(|e| AgentError::Internal(format!("reading agent state: {e}")))?;
        for instance in persisted.services {
            self.add_service(instance, Vec::new(), true)?;
        }
        for saved in persisted.checks {
            match saved.definition {
                Some(definition) => self.add_check(definition, true, Some(&saved.check))?,
                None => self.add_static_check(saved.check),
            }
        }
        Ok(())
    }

    /// Adds the services and checks a configuration defines, after validating all of them.
    fn load_config_definitions(&self, config: &AgentConfig) -> Result<(), AgentError> {
        let services = config
            .services
            .iter()
            .map(|service| Ok(ServiceDefinition::from_json(service.clone())?.into_registration()?))
            .collect::<Result<Vec<_>, AgentError>>()?;
        for check in &config.checks {
            self.check_spec(check, false)?;
        }
        for registration in services {
            self.add_service(registration.service, registration.checks, false)?;
        }
        for check in &config.checks {
            self.add_check(check.clone(), false, None)?;
        }
        Ok(())
    }

    /// Replaces the services and checks defined in config files with those of `config`
    /// (`/v1/agent/reload`); API registrations are kept.
    pub fn reload(&self, config: &AgentConfig) -> Result<(), AgentError> {
        let (services, checks): (Vec<String>, Vec<String>) = {
            let state = self.shared.lock();
            (
                state
                    .services
                    .values()
                    .filter(|s| !s.persisted)
                    .map(|s| s.instance.id.clone())
                    .collect(),
                state
                    .checks
                    .values()
                    .filter(|c| !c.persisted)
                    .map(|c| c.check.check_id.clone())
                    .collect(),
            )
        };
        for check_id in checks {
            self.remove_check(&check_id);
        }
        for service_id in services {
            self.remove_service(&service_id);
        }
        self.load_config_definitions(config)?;
        self.changed()
    }

    /// The services registered with this agent, by ID.
    pub fn services(&self) -> Vec<ServiceInstance> {
        self.shared
            .lock()
            .services
            .values()
            .map(|s| s.instance.clone())
            .collect()
    }

    /// The checks registered with this agent, by ID.
    pub fn checks(&self) -> Vec<HealthCheck> {
        self.shared
            .lock()
            .checks
            .values()
            .map(|c| c.check.clone())
            .collect()
    }

    /// Each local service's name and tags (for user-event filters).
    pub fn service_names_and_tags(&self) -> Vec<(String, Vec<String>)> {
        let state = self.shared.lock();
        state
            .services
            .values()
            .map(|s| (s.instance.service.clone(), s.instance.tags.clone()))
            .collect()
    }

    /// Registers (or updates) a service and its checks from an API request.
    pub fn register_service(&self, definition: Value) -> Result<(), AgentError> {
        let registration = ServiceDefinition::from_json(definition)?.into_registration()?;
        self.add_service(registration.service, registration.checks, true)?;
        self.changed()
    }

    fn add_service(
        &self,
        mut instance: ServiceInstance,
        checks: Vec<Value>,
        persisted: bool,
    ) -> Result<(), AgentError> {
        let specs = checks
            .iter()
            .map(|definition| self.check_spec(definition, persisted))
            .collect::<Result<Vec<_>, _>>()?;
        instance.create_index = 0;
        instance.modify_index = 0;
        let service_id = instance.id.clone();
        let stale_checks: Vec<String> = {
            let mut state = self.shared.lock();
            state.services.insert(
                service_id.clone(),
                LocalService {
                    instance,
                    persisted,
                },
            );
            state
                .checks
                .values()
                .filter(|c| c.check.service_id == service_id && c.definition.is_some())
                .filter(|c| !specs.iter().any(|s| s.id == c.check.check_id))
                .map(|c| c.check.check_id.clone())
                .collect()
        };
        for check_id in stale_checks {
            self.remove_check(&check_id);
        }
        for (spec, definition) in specs.into_iter().zip(checks) {
            self.start_check(spec, definition, persisted, None);
        }
        Ok(())
    }

    /// Removes a service and its checks.
    pub fn deregister_service(&self, service_id: &str) -> Result<(), AgentError> {
        self.remove_service(service_id)
            .ok_or_else(|| AgentError::NotFound(format!("Unknown service ID \"{service_id}\". Ensure that the service ID is passed, not the service name.")))?;
        self.changed()
    }

    pub(crate) fn remove_service(&self, service_id: &str) -> Option<()> {
        let checks: Vec<String> = {
            let mut state = self.shared.lock();
            state.services.remove(service_id)?;
            state
                .checks
                .values()
                .filter(|c| c.check.service_id == service_id)
                .map(|c| c.check.check_id.clone())
                .collect()
        };
        for check_id in checks {
            self.remove_check(&check_id);
        }
        Some(())
    }

    /// Registers (or replaces) a check from an API request.
    pub fn register_check(&self, definition: Value) -> Result<(), AgentError> {
        if !has_name(&definition) {
            return Err(AgentError::BadRequest("Missing check name".into()));
        }
        self.add_check(definition, true, None)?;
        self.changed()
    }

    /// Validates a check definition. Script checks registered through the API (`remote`) need
    /// `enable_script_checks`; those from config files may also run with `enable_local_script_checks`.
    fn check_spec(&self, definition: &Value, remote: bool) -> Result<CheckSpec, AgentError> {
        let parsed: CheckDefinition = senate_types::json::from_value(definition.clone())
            .map_err(|e| AgentError::BadRequest(format!("Request decode failed: {e}")))?;
        let scripts_allowed =
            self.config.enable_script_checks || (!remote && self.config.enable_local_script_checks);
        parsed.validate(scripts_allowed).map_err(|error| match error {
            DefinitionError::ScriptsDisabled if remote => AgentError::BadRequest(
                "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true"
                    .into(),
            ),
            other => AgentError::BadRequest(other.to_string()),
        })
    }

    fn add_check(
        &self,
        definition: Value,
        persisted: bool,
        restored: Option<&HealthCheck>,
    ) -> Result<(), AgentError> {
        let spec = self.check_spec(&definition, persisted)?;
        if let Some(service_id) = spec.service_id.as_deref().filter(|id| !id.is_empty()) {
            if !self.shared.lock().services.contains_key(service_id) {
                return Err(AgentError::NotFound(format!(
                    "ServiceID \"{service_id}\" does not exist"
                )));
            }
        }
        self.start_check(spec, definition, persisted, restored);
        Ok(())
    }

    fn start_check(
        &self,
        mut spec: CheckSpec,
        definition: Value,
        persisted: bool,
        restored: Option<&HealthCheck>,
    ) {
        if let Some(saved) = restored {
            spec.initial_status = saved.status;
        }
        let mut check = self.health_check(&spec);
        if let Some(saved) = restored {
            check.output = saved.output.clone();
        }
        let local = LocalCheck {
            check,
            definition: Some(definition),
            persisted,
        };
        self.shared.lock().checks.insert(spec.id.clone(), local);
        self.runner.start(&spec);
    }

    fn health_check(&self, spec: &CheckSpec) -> HealthCheck {
        let service_id = spec.service_id.clone().unwrap_or_default();
        let state = self.shared.lock();
        let service = state.services.get(&service_id).map(|s| &s.instance);
        HealthCheck {
            node: self.config.node_name.clone(),
            check_id: spec.id.clone(),
            name: spec.name.clone(),
            status: spec.initial_status,
            notes: spec.notes.clone(),
            output: String::new(),
            service_name: service.map(|s| s.service.clone()).unwrap_or_default(),
            service_tags: service.map(|s| s.tags.clone()).unwrap_or_default(),
            service_id,
            check_type: spec.kind.type_name().to_string(),
            create_index: 0,
            modify_index: 0,
        }
    }

    fn add_static_check(&self, check: HealthCheck) {
        let local = LocalCheck {
            check,
            definition: None,
            persisted: true,
        };
        self.shared
            .lock()
            .checks
            .insert(local.check.check_id.clone(), local);
    }

    /// Removes a check.
    pub fn deregister_check(&self, check_id: &str) -> Result<(), AgentError> {
        if !self.remove_check(check_id) {
            return Err(unknown_check(check_id));
        }
        self.changed()
    }

    fn remove_check(&self, check_id: &str) -> bool {
        self.runner.stop(check_id);
        self.shared.lock().checks.remove(check_id).is_some()
    }

    /// Sets a TTL check's status (`/v1/agent/check/pass|warn|fail|update`).
    pub fn update_ttl(
        &self,
        check_id: &str,
        status: CheckStatus,
        output: &str,
    ) -> Result<(), AgentError> {
        self.runner
            .update_ttl(check_id, status, output)
            .map_err(|error| match error {
                RunnerError::UnknownCheck(_) => unknown_check(check_id),
                other => AgentError::BadRequest(other.to_string()),
            })?;
        self.changed()
    }

    /// Turns node maintenance mode on or off.
    pub fn set_node_maintenance(&self, enable: bool, reason: &str) -> Result<(), AgentError> {
        self.set_maintenance(
            NODE_MAINTENANCE_CHECK.to_string(),
            "Node Maintenance Mode",
            None,
            enable,
            reason,
        )
    }

    /// Turns a service's maintenance mode on or off.
    pub fn set_service_maintenance(
        &self,
        service_id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), AgentError> {
        if !self.shared.lock().services.contains_key(service_id) {
            return Err(AgentError::NotFound(format!(
                "Unknown service ID \"{service_id}\". Ensure that the service ID is passed, not the service name."
            )));
        }
        let check_id = format!("{SERVICE_MAINTENANCE_PREFIX}{service_id}");
        self.set_maintenance(
            check_id,
            "Service Maintenance Mode",
            Some(service_id),
            enable,
            reason,
        )
    }

    fn set_maintenance(
        &self,
        check_id: String,
        name: &str,
        service_id: Option<&str>,
        enable: bool,
        reason: &str,
    ) -> Result<(), AgentError> {
        if !enable {
            self.shared.lock().checks.remove(&check_id);
            return self.changed();
        }
        let service = service_id.and_then(|id| {
            self.shared
                .lock()
                .services
                .get(id)
                .map(|s| s.instance.clone())
        });
        let check = HealthCheck {
            node: self.config.node_name.clone(),
            check_id,
            name: name.to_string(),
            status: CheckStatus::Critical,
            notes: if reason.is_empty() {
                default_maintenance_reason(service_id.is_some())
            } else {
                reason.to_string()
            },
            output: String::new(),
            service_id: service_id.unwrap_or_default().to_string(),
            service_name: service
                .as_ref()
                .map(|s| s.service.clone())
                .unwrap_or_default(),
            service_tags: service.map(|s| s.tags).unwrap_or_default(),
            check_type: "maintenance".to_string(),
            create_index: 0,
            modify_index: 0,
        };
        self.add_static_check(check);
        self.changed()
    }

    /// Persists API registrations and wakes anti-entropy.
    fn changed(&self) -> Result<(), AgentError> {
        let persisted = self.shared.lock().to_persisted();
        self.state_file
            .save(&persisted)
            .map_err(|e| AgentError::Internal(format!("saving agent state: {e}")))?;
        self.shared.sync_needed.notify_one();
        Ok(())
    }

    /// Deregisters services whose checks have been critical longer than their
    /// `DeregisterCriticalServiceAfter`.
    pub(crate) fn reap_critical_services(&self) {
        let expired = self.runner.critical_too_long();
        if expired.is_empty() {
            return;
        }
        let doomed: Vec<String> = {
            let state = self.shared.lock();
            expired
                .iter()
                .filter_map(|id| state.checks.get(id))
                .map(|c| c.check.service_id.clone())
                .filter(|service_id| !service_id.is_empty())
                .collect()
        };
        for service_id in doomed {
            tracing::info!(service = %service_id, "deregistering a service whose check stayed critical too long");
            if self.remove_service(&service_id).is_some() {
                if let Err(error) = self.changed() {
                    tracing::warn!(%error, "could not save agent state");
                }
            }
        }
    }

    /// Stops every running check.
    pub fn shutdown(&self) {
        self.runner.stop_all();
    }
}

/// Consul's note for maintenance mode enabled without a reason.
fn default_maintenance_reason(for_service: bool) -> String {
    let what = if for_service { "service" } else { "node" };
    format!("Maintenance mode is enabled for this {what}, but no reason was provided. This is a default message.")
}

/// The `consul` service every server registers on its node, on its Raft/RPC port.
fn server_service(config: &AgentConfig) -> ServiceInstance {
    ServiceInstance {
        id: "consul".to_string(),
        service: "consul".to_string(),
        tags: Vec::new(),
        address: String::new(),
        meta: Default::default(),
        port: config.ports.server.unwrap_or(8300),
        weights: Default::default(),
        enable_tag_override: false,
        create_index: 0,
        modify_index: 0,
    }
}

fn unknown_check(check_id: &str) -> AgentError {
    AgentError::NotFound(format!(
        "Unknown check ID \"{check_id}\". Ensure that the check ID is passed, not the check name."
    ))
}

/// Whether a check definition sets a non-empty `Name` (the API requires one; config files may use the ID).
fn has_name(definition: &Value) -> bool {
    definition.as_object().is_some_and(|fields| {
        fields.iter().any(|(key, value)| {
            key.eq_ignore_ascii_case("name") && value.as_str().is_some_and(|n| !n.is_empty())
        })
    })
}
