//! `senate catalog datacenters|nodes|services`: the catalog from the command line, printed as Consul's CLI prints it.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde::Deserialize;

use super::block_on;
use super::table::columnize;
use crate::api_client::{escape_path, ApiClient, HttpArgs, Reply};
use crate::cli::key_value;

/// Extra space after the name column of `catalog services -tags` (Consul pads with a tab writer).
const TAGS_COLUMN_PADDING: usize = 6;

/// The `catalog` subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Lists all known datacenters
    Datacenters(DatacentersArgs),
    /// Lists all nodes in the given datacenter
    Nodes(NodesArgs),
    /// Lists all registered services in a datacenter
    Services(ServicesArgs),
}

/// `catalog datacenters [options]`
#[derive(Debug, Args)]
pub struct DatacentersArgs {
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `catalog nodes [options]`
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// Show full node IDs, tagged addresses and node metadata
    #[arg(long)]
    pub detailed: bool,
    /// Show only the nodes providing this service
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    #[command(flatten)]
    pub filters: Filters,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `catalog services [options]`
#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// List only the services of this node
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Show each service's tags, comma-separated, beside its name
    #[arg(long)]
    pub tags: bool,
    #[command(flatten)]
    pub filters: Filters,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Query flags shared by `catalog nodes` and `catalog services`.
#[derive(Debug, Args)]
pub struct Filters {
    /// Only nodes with this metadata pair; may be given more than once
    #[arg(long = "node-meta", value_name = "KEY=VALUE", value_parser = key_value)]
    pub node_meta: Vec<(String, String)>,
    /// Let any server answer, even if not the leader
    #[arg(long)]
    pub stale: bool,
}

impl Filters {
    /// The query string: `node-meta=key:value` per pair, as the HTTP API spells it, and `stale`.
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query: Vec<(&'static str, String)> = self
            .node_meta
            .iter()
            .map(|(key, value)| ("node-meta", format!("{key}:{value}")))
            .collect();
        if self.stale {
            query.push(("stale", String::new()));
        }
        query
    }
}

/// A node as `/v1/catalog/nodes` returns it, or the node half of a `/v1/catalog/service` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Node {
    #[serde(rename = "ID")]
    id: String,
    node: String,
    address: String,
    datacenter: String,
    tagged_addresses: BTreeMap<String, String>,
    #[serde(alias = "NodeMeta")]
    meta: BTreeMap<String, String>,
}

/// `/v1/catalog/node/<node>`: the node's service instances by ID.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct NodeServices {
    services: BTreeMap<String, ServiceInstance>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ServiceInstance {
    service: String,
    tags: Vec<String>,
}

/// Runs a `catalog` subcommand.
pub fn run(command: CatalogCommand) -> anyhow::Result<ExitCode> {
    match command {
        CatalogCommand::Datacenters(args) => datacenters(args),
        CatalogCommand::Nodes(args) => nodes(args),
        CatalogCommand::Services(args) => services(args),
    }?;
    Ok(ExitCode::SUCCESS)
}

fn datacenters(args: DatacentersArgs) -> anyhow::Result<()> {
    let client = ApiClient::connect(&args.http)?;
    let names: Vec<String> =
        block_on(async { client.get("/v1/catalog/datacenters", &[]).await?.json() })
            .map_err(|e| anyhow!("Error listing datacenters: {e:#}"))?;
    print_lines(&names)
}

fn nodes(args: NodesArgs) -> anyhow::Result<()> {
    let client = ApiClient::connect(&args.http)?;
    let query = args.filters.query();
    let nodes: Vec<Node> = match &args.service {
        Some(service) => {
            let path = format!("/v1/catalog/service/{}", escape_path(service));
            block_on(async { client.get(&path, &query).await?.json() })
                .map_err(|e| anyhow!("Error listing nodes for service: {e:#}"))?
        }
        None => block_on(async { client.get("/v1/catalog/nodes", &query).await?.json() })
            .map_err(|e| anyhow!("Error listing nodes: {e:#}"))?,
    };
    if nodes.is_empty() {
        eprintln!("No nodes match the given query - try expanding your search.");
        return Ok(());
    }
    println!("{}", columnize(&node_rows(&nodes, args.detailed)));
    Ok(())
}

/// `Node ID Address DC`, plus `TaggedAddresses Meta` with `-detailed`; IDs are cut at their
/// first `-` unless detailed.
fn node_rows(nodes: &[Node], detailed: bool) -> Vec<Vec<String>> {
    let mut header = vec!["Node", "ID", "Address", "DC"];
    if detailed {
        header.extend(["TaggedAddresses", "Meta"]);
    }
    let mut rows = vec![header.into_iter().map(String::from).collect()];
    for node in nodes {
        let id = match node.id.split_once('-') {
            Some((first, _)) if !detailed && !first.is_empty() => first,
            _ => node.id.as_str(),
        };
        let mut row = vec![
            node.node.clone(),
            id.to_string(),
            node.address.clone(),
            node.datacenter.clone(),
        ];
        if detailed {
            row.extend([pairs(&node.tagged_addresses), pairs(&node.meta)]);
        }
        rows.push(row);
    }
    rows
}

/// `a=1, b=2`, in key order.
fn pairs(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn services(args: ServicesArgs) -> anyhow::Result<()> {
    let client = ApiClient::connect(&args.http)?;
    let query = args.filters.query();
    let services: BTreeMap<String, Vec<String>> = match &args.node {
        Some(node) => {
            let path = format!("/v1/catalog/node/{}", escape_path(node));
            block_on(async { node_services(client.get(&path, &query).await?) })
                .map_err(|e| anyhow!("Error listing services for node: {e:#}"))?
        }
        None => block_on(async { client.get("/v1/catalog/services", &query).await?.json() })
            .map_err(|e| anyhow!("Error listing services: {e:#}"))?,
    };
    if services.is_empty() {
        eprintln!("No services match the given query - try expanding your search.");
        return Ok(());
    }
    if args.tags {
        println!("{}", tags_table(services));
        Ok(())
    } else {
        print_lines(services.keys())
    }
}

/// The tags of each service a node runs, by service name; an unknown node has none.
fn node_services(reply: Reply) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    if reply.status == 404 {
        return Ok(BTreeMap::new());
    }
    let found: Option<NodeServices> = reply.json()?;
    let mut services: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for instance in found
        .map(|node| node.services)
        .unwrap_or_default()
        .into_values()
    {
        services
            .entry(instance.service)
            .or_default()
            .extend(instance.tags);
    }
    Ok(services)
}

/// Service names padded to the widest plus six spaces, then the sorted tags joined by commas.
fn tags_table(services: BTreeMap<String, Vec<String>>) -> String {
    let width = services
        .keys()
        .map(|name| name.chars().count())
        .max()
        .unwrap_or(0)
        + TAGS_COLUMN_PADDING;
    let lines: Vec<String> = services
        .into_iter()
        .map(|(name, mut tags)| {
            tags.sort();
            format!("{name:<width$}{}", tags.join(","))
        })
        .collect();
    lines.join("\n").trim().to_string()
}

fn print_lines<T: std::fmt::Display>(lines: impl IntoIterator<Item = T>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, id: &str) -> Node {
        Node {
            id: id.to_string(),
            node: name.to_string(),
            address: "10.0.0.1".to_string(),
            datacenter: "dc1".to_string(),
            tagged_addresses: [("lan", "10.0.0.1"), ("wan", "10.0.0.2")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            meta: BTreeMap::new(),
        }
    }

    #[test]
    fn node_table_shortens_ids_unless_detailed() {
        let nodes = [node("worker-01", "1b662d97-8b5c-3cc2"), node("w2", "")];
        assert_eq!(
            columnize(&node_rows(&nodes, false)),
            "Node       ID        Address   DC\n\
             worker-01  1b662d97  10.0.0.1  dc1\n\
             w2                   10.0.0.1  dc1"
        );
        assert_eq!(
            columnize(&node_rows(&nodes[..1], true)),
            "Node       ID                  Address   DC   TaggedAddresses             Meta\n\
             worker-01  1b662d97-8b5c-3cc2  10.0.0.1  dc1  lan=10.0.0.1, wan=10.0.0.2  "
        );
    }

    #[test]
    fn tags_table_pads_like_consuls_tab_writer() {
        let services = [
            ("consul", vec![]),
            ("redis", vec!["v1".to_string(), "primary".to_string()]),
        ]
        .map(|(name, tags)| (name.to_string(), tags))
        .into();
        assert_eq!(tags_table(services), "consul      \nredis       primary,v1");
    }

    #[test]
    fn filters_use_the_api_spelling() {
        let filters = Filters {
            node_meta: vec![("rack".into(), "r1".into())],
            stale: true,
        };
        assert_eq!(
            filters.query(),
            [
                ("node-meta", "rack:r1".to_string()),
                ("stale", String::new())
            ]
        );
    }
}
