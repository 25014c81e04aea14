//! `senate members`: the cluster members the agent knows, as Consul's CLI tabulates them.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;
use regex::Regex;
use serde::Deserialize;

use super::table::columnize;
use super::{block_on, emit};
use crate::api_client::{ApiClient, HttpArgs};

/// Segment filter value meaning "every segment".
const ALL_SEGMENTS: &str = "_all";

/// `members [options]`
#[derive(Debug, Args)]
pub struct MembersArgs {
    /// Show every tag of each member
    #[arg(long)]
    pub detailed: bool,
    /// List the WAN pool instead of the LAN pool (servers only)
    #[arg(long)]
    pub wan: bool,
    /// Show only members whose status matches this regular expression
    #[arg(long, default_value = ".*", value_name = "REGEX")]
    pub status: String,
    /// Show only members of this network segment
    #[arg(long, default_value = ALL_SEGMENTS, value_name = "NAME")]
    pub segment: String,
    /// Filter expression the agent applies to the members
    #[arg(long, value_name = "EXPRESSION")]
    pub filter: Option<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// A member as `/v1/agent/members` returns it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Member {
    name: String,
    addr: String,
    port: u16,
    tags: BTreeMap<String, String>,
    status: i64,
}

impl Member {
    fn tag(&self, name: &str) -> &str {
        self.tags.get(name).map_or("", String::as_str)
    }

    fn is_server(&self) -> bool {
        self.tag("role") == "consul"
    }

    /// `ip:port`, with brackets for IPv6; `:port` if the address is not an IP (as Go prints it).
    fn address(&self) -> String {
        match self.addr.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, self.port).to_string(),
            Err(_) => format!(":{}", self.port),
        }
    }

    /// Serf's name for the member status code.
    fn status_name(&self) -> &'static str {
        match self.status {
            0 => "none",
            1 => "alive",
            2 => "leaving",
            3 => "left",
            4 => "failed",
            _ => "unknown",
        }
    }
}

/// Runs `members`; exits 2 when no member matches, as Consul does.
pub fn run(args: MembersArgs) -> anyhow::Result<ExitCode> {
    let status_filter =
        Regex::new(&args.status).map_err(|e| anyhow!("Failed to compile status regexp: {e}"))?;
    let client = ApiClient::new(&args.http)
        .map_err(|e| anyhow!("Error connecting to Consul agent: {e:#}"))?;
    let mut query = Vec::new();
    if args.wan {
        query.push(("wan", "1".to_string()));
    }
    if args.segment != ALL_SEGMENTS {
        query.push(("segment", args.segment.clone()));
    }
    if let Some(filter) = args.filter.as_ref().filter(|filter| !filter.is_empty()) {
        query.push(("filter", filter.clone()));
    }
    let members: Vec<Member> =
        block_on(async { client.get("/v1/agent/members", &query).await?.json() })
            .map_err(|e| anyhow!("Error retrieving members: {e:#}"))?;
    let mut members: Vec<Member> = members
        .into_iter()
        .map(|member| with_display_tags(member, &args.segment))
        .filter(|member| status_filter.is_match(member.status_name()))
        .collect();
    if members.is_empty() {
        return Ok(ExitCode::from(2));
    }
    members.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    let rows = if args.detailed {
        detailed_rows(&members)
    } else {
        standard_rows(&members)
    };
    emit(&format!("{}\n", columnize(&rows)))?;
    Ok(ExitCode::SUCCESS)
}

/// Fills the partition and segment columns as Consul's CLI shows them: segments belong to the
/// default partition only, so members of other partitions show none.
fn with_display_tags(mut member: Member, segment_filter: &str) -> Member {
    let partition = member.tags.entry("ap".to_string()).or_default();
    if partition.is_empty() {
        *partition = "default".to_string();
    }
    let in_default_partition = *partition == "default";
    let segment = if !in_default_partition {
        String::new()
    } else if segment_filter == ALL_SEGMENTS && member.is_server() {
        "<all>".to_string()
    } else {
        match member.tag("segment") {
            "" => "<default>".to_string(),
            named => named.to_string(),
        }
    };
    member.tags.insert("segment".to_string(), segment);
    member
}

/// Servers first, then the default partition, then by segment, partition and name.
fn sort_key(member: &Member) -> (bool, bool, &str, &str, &str) {
    let partition = member.tag("ap");
    (
        !member.is_server(),
        !(partition.is_empty() || partition == "default"),
        member.tag("segment"),
        partition,
        &member.name,
    )
}

fn standard_rows(members: &[Member]) -> Vec<Vec<String>> {
    let header = [
        "Node",
        "Address",
        "Status",
        "Type",
        "Build",
        "Protocol",
        "DC",
        "Partition",
        "Segment",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    for member in members {
        let kind = match member.tag("role") {
            "consul" => "server",
            "node" => "client",
            _ => "unknown",
        };
        let mut row = vec![
            member.name.clone(),
            member.address(),
            member.status_name().to_string(),
            kind.to_string(),
        ];
        if kind != "unknown" {
            row.extend(
                [
                    build(member),
                    member.tag("vsn"),
                    member.tag("dc"),
                    member.tag("ap"),
                    member.tag("segment"),
                ]
                .map(String::from),
            );
        } else {
            row.extend(std::iter::repeat_n(String::new(), 5));
        }
        rows.push(row);
    }
    rows
}

/// The `build` tag up to its `:` (the version without the commit), or `< 0.3` if absent.
fn build(member: &Member) -> &str {
    match member.tag("build") {
        "" => "< 0.3",
        build => build.split(':').next().unwrap_or(build),
    }
}

fn detailed_rows(members: &[Member]) -> Vec<Vec<String>> {
    let mut rows = vec![["Node", "Address", "Status", "Tags"]
        .map(String::from)
        .to_vec()];
    for member in members {
        let tags: Vec<String> = member
            .tags
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        rows.push(vec![
            member.name.clone(),
            member.address(),
            member.status_name().to_string(),
            tags.join(","),
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, role: &str) -> Member {
        let tags = [
            ("role", role),
            ("dc", "dc1"),
            ("build", "1.21.0:abc"),
            ("vsn", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        with_display_tags(
            Member {
                name: name.to_string(),
                addr: "127.0.0.1".to_string(),
                port: 8301,
                tags,
                status: 1,
            },
            ALL_SEGMENTS,
        )
    }

    #[test]
    fn standard_table_matches_consul() {
        let mut members = vec![member("zeta", "node"), member("alpha", "consul")];
        members.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        let table = columnize(&standard_rows(&members));
        assert_eq!(
            table,
            "Node   Address         Status  Type    Build   Protocol  DC   Partition  Segment\n\
             alpha  127.0.0.1:8301  alive   server  1.21.0  2         dc1  default    <all>\n\
             zeta   127.0.0.1:8301  alive   client  1.21.0  2         dc1  default    <default>"
        );
    }

    #[test]
    fn detailed_tags_are_sorted_and_other_partitions_have_no_segment() {
        let mut m = member("a", "node");
        m.tags.insert("ap".to_string(), "team".to_string());
        let m = with_display_tags(m, ALL_SEGMENTS);
        assert_eq!(
            detailed_rows(&[m])[1][3],
            "ap=team,build=1.21.0:abc,dc=dc1,role=node,segment=,vsn=2"
        );
    }

    #[test]
    fn ipv6_addresses_get_brackets() {
        let mut m = member("a", "consul");
        m.addr = "::1".to_string();
        assert_eq!(m.address(), "[::1]:8301");
    }
}
