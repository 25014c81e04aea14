//! Service definitions as `PUT /v1/agent/service/register` and config files give them, turned
//! into a service instance plus the definitions of its checks with Consul's default IDs and names.

use senate_types::catalog::{ServiceInstance, Weights};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The body of `PUT /v1/agent/service/register`, or one `services` entry of a config file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceDefinition {
    #[serde(rename = "ID")]
    pub id: Option<String>,
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub meta: Option<BTreeMap<String, String>>,
    #[serde(alias = "enable_tag_override")]
    pub enable_tag_override: Option<bool>,
    pub weights: Option<Weights>,
    pub check: Option<Value>,
    pub checks: Option<Vec<Value>>,
}

/// Why a service definition was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServiceError {
    #[error("Missing service name")]
    MissingName,
    #[error("Invalid service definition: {0}")]
    Invalid(String),
}

/// A validated service and the raw definitions of its checks, each given its default ID,
/// name and `ServiceID` as Consul assigns them.
#[derive(Debug)]
pub struct ServiceRegistration {
    pub service: ServiceInstance,
    pub checks: Vec<Value>,
}

impl ServiceDefinition {
    /// Reads a definition from JSON (field names matched without regard to case).
    pub fn from_json(value: Value) -> Result<Self, ServiceError> {
        senate_types::json::from_value(value).map_err(|e| ServiceError::Invalid(e.to_string()))
    }

    /// Validates the definition; the ID defaults to the name.
    pub fn into_registration(self) -> Result<ServiceRegistration, ServiceError> {
        let name = self
            .name
            .filter(|n| !n.is_empty())
            .ok_or(ServiceError::MissingName)?;
        let id = self
            .id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| name.clone());
        let raw_checks: Vec<Value> = self
            .check
            .into_iter()
            .chain(self.checks.unwrap_or_default())
            .collect();
        let numbered = raw_checks.len() > 1;
        let checks = raw_checks
            .into_iter()
            .enumerate()
            .map(|(n, check)| with_service_defaults(check, &id, &name, numbered.then_some(n + 1)))
            .collect::<Result<_, _>>()?;
        let service = ServiceInstance {
            id,
            service: name,
            tags: self.tags.unwrap_or_default(),
            address: self.address.unwrap_or_default(),
            meta: self.meta.unwrap_or_default(),
            port: self.port.unwrap_or(0),
            weights: self.weights.unwrap_or_default(),
            enable_tag_override: self.enable_tag_override.unwrap_or(false),
            create_index: 0,
            modify_index: 0,
        };
        Ok(ServiceRegistration { service, checks })
    }
}

/// Fills a service check's `CheckID` (`service:<id>`, or `service:<id>:<n>` when there are
/// several), `Name` and `ServiceID`, unless the definition sets them.
fn with_service_defaults(
    check: Value,
    service_id: &str,
    service_name: &str,
    number: Option<usize>,
) -> Result<Value, ServiceError> {
    let Value::Object(mut fields) = check else {
        return Err(ServiceError::Invalid(
            "a service check must be a JSON object".into(),
        ));
    };
    let has = |fields: &serde_json::Map<String, Value>, names: &[&str]| {
        fields
            .keys()
            .any(|k| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
    };
    if !has(&fields, &["id", "checkid", "check_id"]) {
        let id = match number {
            Some(n) => format!("service:{service_id}:{n}"),
            None => format!("service:{service_id}"),
        };
        fields.insert("CheckID".into(), Value::String(id));
    }
    if !has(&fields, &["name"]) {
        fields.insert(
            "Name".into(),
            Value::String(format!("Service '{service_name}' check")),
        );
    }
    fields.retain(|k, _| {
        !k.eq_ignore_ascii_case("serviceid") && !k.eq_ignore_ascii_case("service_id")
    });
    fields.insert("ServiceID".into(), Value::String(service_id.to_string()));
    Ok(Value::Object(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_id_and_check_names_like_consul() {
        let definition = ServiceDefinition::from_json(json!({
            "name": "web", "port": 80, "enable_tag_override": true,
            "checks": [{"ttl": "10s"}, {"TTL": "20s", "CheckID": "mine"}]
        }))
        .unwrap();
        let registration = definition.into_registration().unwrap();
        assert_eq!(registration.service.id, "web");
        assert!(registration.service.enable_tag_override);
        assert_eq!(registration.checks[0]["CheckID"], "service:web:1");
        assert_eq!(registration.checks[0]["Name"], "Service 'web' check");
        assert_eq!(registration.checks[1]["CheckID"], "mine");
        assert_eq!(registration.checks[1]["ServiceID"], "web");
    }

    #[test]
    fn refuses_a_service_without_name() {
        let definition = ServiceDefinition::from_json(json!({"Port": 80})).unwrap();
        assert_eq!(
            definition.into_registration().unwrap_err(),
            ServiceError::MissingName
        );
    }
}
