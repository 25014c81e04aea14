//! Reads a request's query string into the options every Consul read takes: datacenter,
//! consistency mode (and `max_stale`), blocking index and wait, and pretty-printing.

use crate::context::Context;
use crate::error::ApiError;
use crate::reply;
use axum::response::Response;
use senate_query::filters::NodeMetaFilter;
use senate_query::options::{DEFAULT_WAIT, MAX_WAIT};
use senate_query::{Consistency, Query, QueryOptions};
use senate_types::duration;
use std::time::Duration;

/// The raw query parameters, decoded; a parameter given without a value (`?recurse`) has "".
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a raw query string.
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Params(pairs)
    }

    /// Whether the parameter appears at all.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The parameter's first value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value the parameter was given (`?tag=a&tag=b`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A parameter parsed as an unsigned integer, with `what` naming it in the error.
    pub fn u64(&self, name: &str, what: &str) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "Invalid {what}: {text:?} is not an unsigned integer"
                ))
            }),
        }
    }
}

/// Reads and validates the options every read takes; also refuses an unknown datacenter.
pub fn read_options(params: &Params, context: &Context) -> Result<QueryOptions, ApiError> {
    check_datacenter(params, context)?;
    let consistency = match (params.has("stale"), params.has("consistent")) {
        (true, true) => {
            return Err(ApiError::bad_request(
                "Cannot specify ?stale with ?consistent, conflicting semantics.",
            ))
        }
        (true, false) => Consistency::Stale,
        (false, true) => Consistency::Consistent,
        (false, false) => Consistency::Default,
    };
    let min_index = params
        .get("index")
        .map(|text| {
            text.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("Invalid index: {text:?}")))
        })
        .transpose()?
        .unwrap_or(0);
    let wait = match params.get("wait") {
        None => DEFAULT_WAIT,
        Some(text) => parse_duration(text, "wait time")?.min(MAX_WAIT),
    };
    let max_stale = params
        .get("max_stale")
        .map(|text| parse_duration(text, "max_stale"))
        .transpose()?;
    Ok(QueryOptions {
        consistency,
        min_index,
        wait,
        pretty: params.has("pretty"),
        max_stale,
    })
}

/// Refuses `?dc=` naming any datacenter but this agent's, as Consul does when it has no route.
pub fn check_datacenter(params: &Params, context: &Context) -> Result<(), ApiError> {
    match params.get("dc") {
        Some(dc) if !dc.is_empty() && !dc.eq_ignore_ascii_case(&context.config.datacenter) => {
            Err(ApiError::internal("No path to datacenter"))
        }
        _ => Ok(()),
    }
}

/// Parses a Go duration parameter value, naming `what` in the error.
pub fn parse_duration(text: &str, what: &str) -> Result<Duration, ApiError> {
    duration::parse(text).map_err(|e| ApiError::bad_request(format!("Invalid {what}: {e}")))
}

/// Answers `query` under the read options in `params`, here or on the leader.
pub async fn answer(
    context: &Context,
    params: &Params,
    query: Query,
) -> Result<Response, ApiError> {
    let options = read_options(params, context)?;
    let reply = context.cluster.read(&query, &options).await?;
    Ok(reply::answer(&options, reply))
}

/// Reads `?node-meta=key:value` pairs.
pub fn node_meta_filter(params: &Params) -> Result<NodeMetaFilter, ApiError> {
    let pairs = params
        .all("node-meta")
        .into_iter()
        .map(|pair| match pair.split_once(':') {
            Some((key, value)) => Ok((key.to_string(), value.to_string())),
            None => Err(ApiError::bad_request(format!(
                "Invalid node-meta filter {pair:?}: expected key:value"
            ))),
        })
        .collect::<Result<_, _>>()?;
    Ok(NodeMetaFilter::new(pairs))
}

/// The `?tag=` values (repeatable).
pub fn tags(params: &Params) -> Vec<String> {
    params.all("tag").into_iter().map(str::to_string).collect()
}

/// The `?near=` node, with `_agent` meaning this agent's own node.
pub fn near(params: &Params, context: &Context) -> Option<String> {
    match params.get("near")? {
        "" => None,
        "_agent" => Some(context.config.node_name.clone()),
        node => Some(node.to_string()),
    }
}
