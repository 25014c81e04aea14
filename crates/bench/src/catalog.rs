//! Catalog at scale: register nodes × services, time big health and catalog reads, deregister.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::error::Result;
use crate::load::{self, LevelResult, LevelSpec, RequestSource, RunLimit};
use crate::procfs::{self, AgentProcess, MemoryUse};
use crate::target::Target;

/// Every node the bench registers is named `bench-node-<i>`.
pub const NODE_PREFIX: &str = "bench-node-";
/// Service `j` of every node is named `bench-svc-<j>`, so each name has one instance per node.
pub const SERVICE_PREFIX: &str = "bench-svc-";

/// Parameters of the catalog benchmark.
#[derive(Debug, Clone)]
pub struct CatalogSpec {
    pub nodes: u64,
    pub services_per_node: u64,
    /// Workers for registration and deregistration.
    pub concurrency: usize,
    /// Workers for each read endpoint.
    pub readers: usize,
    /// How long each read endpoint is hammered.
    pub read_duration: Duration,
    pub request_timeout: Duration,
    pub connect_parallelism: usize,
    /// Leave the bench nodes registered instead of deregistering them.
    pub keep: bool,
}

/// What the catalog benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogReport {
    pub nodes: u64,
    pub services_per_node: u64,
    pub register: LevelResult,
    pub reads: Vec<EndpointLevel>,
    /// Absent with `--keep`.
    pub deregister: Option<LevelResult>,
    pub memory_before: Option<MemoryUse>,
    pub memory_registered: Option<MemoryUse>,
    /// Server RSS growth from registration, divided by the registered service instances.
    pub rss_per_instance_bytes: Option<f64>,
}

/// Read load on one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointLevel {
    pub endpoint: String,
    #[serde(flatten)]
    pub level: LevelResult,
}

impl CatalogSpec {
    /// One request per (node, service) pair.
    pub fn registrations(&self) -> u64 {
        self.nodes.saturating_mul(self.services_per_node)
    }

    /// The endpoints timed by the read phase, in order.
    pub fn read_paths(&self) -> [String; 2] {
        [
            format!("/v1/health/service/{SERVICE_PREFIX}0"),
            "/v1/catalog/services".to_string(),
        ]
    }

    fn level(&self, limit: RunLimit, concurrency: usize) -> LevelSpec {
        LevelSpec {
            limit,
            concurrency,
            request_timeout: self.request_timeout,
            connect_parallelism: self.connect_parallelism,
        }
    }
}

/// Runs registration, the reads and (unless `keep`) deregistration, reporting each phase to
/// `progress` as it ends. Deregistration runs even when a read phase failed.
pub async fn run_catalog(
    target: &Target,
    spec: &CatalogSpec,
    server: Option<&AgentProcess>,
    mut progress: impl FnMut(&str, &LevelResult),
) -> Result<CatalogReport> {
    let memory_before = procfs::sample(server)?;
    let measured = register_and_read(target, spec, server, &mut progress).await;
    let deregistered = if spec.keep {
        None
    } else {
        Some(deregister(target, spec).await)
    };
    let (register, memory_registered, reads) = measured?;
    let deregister = deregistered.transpose()?;
    if let Some(level) = &deregister {
        progress("catalog deregister", level);
    }
    Ok(CatalogReport {
        nodes: spec.nodes,
        services_per_node: spec.services_per_node,
        rss_per_instance_bytes: rss_per_instance(memory_before, memory_registered, register.ok),
        register,
        reads,
        deregister,
        memory_before,
        memory_registered,
    })
}

type Measured = (LevelResult, Option<MemoryUse>, Vec<EndpointLevel>);

async fn register_and_read(
    target: &Target,
    spec: &CatalogSpec,
    server: Option<&AgentProcess>,
    progress: &mut impl FnMut(&str, &LevelResult),
) -> Result<Measured> {
    let source = Register {
        services_per_node: spec.services_per_node.max(1),
    };
    let limit = RunLimit::Requests(spec.registrations());
    let register = load::run_requests(
        target,
        Arc::new(source),
        &spec.level(limit, spec.concurrency),
    )
    .await?;
    progress("catalog register", &register);
    let memory_registered = procfs::sample(server)?;
    let mut reads = Vec::new();
    for endpoint in spec.read_paths() {
        let source = Get {
            path: endpoint.clone(),
        };
        let level = spec.level(RunLimit::Time(spec.read_duration), spec.readers);
        let level = load::run_requests(target, Arc::new(source), &level).await?;
        progress(&format!("GET {endpoint}"), &level);
        reads.push(EndpointLevel { endpoint, level });
    }
    Ok((register, memory_registered, reads))
}

async fn deregister(target: &Target, spec: &CatalogSpec) -> Result<LevelResult> {
    let level = spec.level(RunLimit::Requests(spec.nodes), spec.concurrency);
    load::run_requests(target, Arc::new(Deregister), &level).await
}

/// `PUT /v1/catalog/register` of node `ticket / S` with its service `ticket % S` and a passing check.
struct Register {
    services_per_node: u64,
}

impl RequestSource for Register {
    fn method(&self) -> &'static str {
        "PUT"
    }

    fn request<'a>(&'a self, ticket: u64, path: &mut String, body: &'a mut Vec<u8>) -> &'a [u8] {
        path.clear();
        path.push_str("/v1/catalog/register");
        let node = ticket / self.services_per_node;
        let service = ticket % self.services_per_node;
        body.clear();
        // Writing into a Vec cannot fail.
        let _ = write_registration(body, node, service);
        body
    }
}

fn write_registration(out: &mut Vec<u8>, node: u64, service: u64) -> std::io::Result<()> {
    let [_, _, _, _, _, a, b, c] = node.to_be_bytes();
    write!(
        out,
        r#"{{"Node":"{NODE_PREFIX}{node}","Address":"10.{a}.{b}.{c}","#
    )?;
    write!(
        out,
        r#""Service":{{"ID":"svc-{service}","Service":"{SERVICE_PREFIX}{service}","Tags":["t{service}","v1"],"Port":{port}}},"#,
        port = 8000 + service
    )?;
    write!(
        out,
        r#""Check":{{"CheckID":"check-svc-{service}","Name":"check","Status":"passing","ServiceID":"svc-{service}"}}}}"#
    )
}

/// `PUT /v1/catalog/deregister` of node `ticket` (its services and checks go with it).
struct Deregister;

impl RequestSource for Deregister {
    fn method(&self) -> &'static str {
        "PUT"
    }

    fn request<'a>(&'a self, ticket: u64, path: &mut String, body: &'a mut Vec<u8>) -> &'a [u8] {
        path.clear();
        path.push_str("/v1/catalog/deregister");
        body.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(body, r#"{{"Node":"{NODE_PREFIX}{ticket}"}}"#);
        body
    }
}

/// A GET of one fixed path.
struct Get {
    path: String,
}

impl RequestSource for Get {
    fn method(&self) -> &'static str {
        "GET"
    }

    fn request<'a>(&'a self, _ticket: u64, path: &mut String, _body: &'a mut Vec<u8>) -> &'a [u8] {
        path.clear();
        path.push_str(&self.path);
        &[]
    }
}

fn rss_per_instance(
    before: Option<MemoryUse>,
    registered: Option<MemoryUse>,
    instances: u64,
) -> Option<f64> {
    let (before, registered) = (before?, registered?);
    (instances > 0)
        .then(|| (registered.rss_kb as f64 - before.rss_kb as f64) * 1024.0 / instances as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_of(source: &dyn RequestSource, ticket: u64) -> (String, serde_json::Value) {
        let (mut path, mut body) = (String::new(), Vec::new());
        let bytes = source.request(ticket, &mut path, &mut body).to_vec();
        (path, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn registration_bodies_are_consul_shaped() {
        let source = Register {
            services_per_node: 5,
        };
        let (path, body) = request_of(&source, 5 * 300 + 2);
        assert_eq!(path, "/v1/catalog/register");
        assert_eq!(body["Node"], "bench-node-300");
        assert_eq!(body["Address"], "10.0.1.44");
        assert_eq!(body["Service"]["ID"], "svc-2");
        assert_eq!(body["Service"]["Service"], "bench-svc-2");
        assert_eq!(body["Service"]["Tags"], serde_json::json!(["t2", "v1"]));
        assert_eq!(body["Service"]["Port"], 8002);
        assert_eq!(body["Check"]["CheckID"], "check-svc-2");
        assert_eq!(body["Check"]["Status"], "passing");
        assert_eq!(body["Check"]["ServiceID"], "svc-2");
    }

    #[test]
    fn deregistration_names_the_node() {
        let (path, body) = request_of(&Deregister, 42);
        assert_eq!(path, "/v1/catalog/deregister");
        assert_eq!(body, serde_json::json!({"Node": "bench-node-42"}));
    }
}
