//! A small HTTP/1.1 client for the agent's API, used by the CLI commands, plus their shared HTTP flags.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

const DEFAULT_HTTP_ADDR: &str = "http://127.0.0.1:8500";

/// Characters escaped in a URL path segment such as a KV key (`/` is kept).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Characters escaped in a node name or gossip address used as one path segment (`/` is escaped;
/// `:` is kept, as Go's client keeps it in `/v1/agent/join/10.0.0.1:8301`).
const SEGMENT: &AsciiSet = &QUERY.remove(b':');

/// Characters escaped in a query-string value.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Flags every API command takes to reach the agent, as Consul's CLI names them.
#[derive(Debug, Clone, Default, Args)]
pub struct HttpArgs {
    /// Address of the agent's HTTP API, with or without http:// (default: $CONSUL_HTTP_ADDR,
    /// then $SENATE_HTTP_ADDR, then http://127.0.0.1:8500)
    #[arg(long, value_name = "ADDRESS")]
    pub http_addr: Option<String>,
    /// ACL token sent as X-Consul-Token (default: $CONSUL_HTTP_TOKEN)
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// File holding the ACL token (default: $CONSUL_HTTP_TOKEN_FILE)
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Datacenter to query (default: the agent's)
    #[arg(long, value_name = "DC")]
    pub datacenter: Option<String>,
}

/// A status code and body from the agent.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    /// The `X-Consul-Index` header, when the answer carried one.
    pub index: Option<u64>,
}

impl Reply {
    /// The body of a 200 reply; anything else becomes Consul's "Unexpected response code" error.
    pub fn into_ok_body(self) -> anyhow::Result<Bytes> {
        if self.status == 200 {
            return Ok(self.body);
        }
        let text = String::from_utf8_lossy(&self.body);
        match text.trim() {
            "" => bail!("Unexpected response code: {}", self.status),
            text => bail!("Unexpected response code: {} ({text})", self.status),
        }
    }

    /// Parses the body of a 200 reply as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(self) -> anyhow::Result<T> {
        let body = self.into_ok_body()?;
        serde_json::from_slice(&body).context("Failed to decode response")
    }
}

/// Talks to one agent on behalf of one command.
pub struct ApiClient {
    base_url: String,
    token: Option<String>,
    datacenter: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    /// A client for the agent `args` (and the environment) point at.
    pub fn new(args: &HttpArgs) -> anyhow::Result<Self> {
        let address = args
            .http_addr
            .clone()
            .or_else(|| env_value("CONSUL_HTTP_ADDR"))
            .or_else(|| env_value("SENATE_HTTP_ADDR"))
            .unwrap_or_else(|| DEFAULT_HTTP_ADDR.to_string());
        Ok(ApiClient {
            base_url: base_url(&address)?,
            token: token(args)?,
            datacenter: args.datacenter.clone(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// [`ApiClient::new`], failing with Consul's "Error connecting to Consul agent" message.
    pub fn connect(args: &HttpArgs) -> anyhow::Result<Self> {
        Self::new(args).map_err(|e| anyhow!("Error connecting to Consul agent: {e:#}"))
    }

    /// `GET path?query`.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Reply> {
        self.send(Method::GET, path, query, Bytes::new()).await
    }

    /// `PUT path?query` with `body`.
    pub async fn put(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        self.send(Method::PUT, path, query, Bytes::from(body)).await
    }

    /// `POST path?query` with `body`.
    pub async fn post(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        self.send(Method::POST, path, query, Bytes::from(body))
            .await
    }

    /// `DELETE path?query`.
    pub async fn delete(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Reply> {
        self.send(Method::DELETE, path, query, Bytes::new()).await
    }

    /// `DELETE path?query` with `body` (as the keyring endpoint takes it).
    pub async fn delete_with_body(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        self.send(Method::DELETE, path, query, Bytes::from(body))
            .await
    }

    /// `GET path?query`, handing each piece of the body to `on_data` as it arrives (for
    /// endless answers such as `/v1/agent/monitor`); an error status fails with its body.
    pub async fn stream(
        &self,
        path: &str,
        query: &[(&str, String)],
        mut on_data: impl FnMut(&[u8]),
    ) -> anyhow::Result<()> {
        let url = self.url(path, query);
        let mut request = hyper::Request::builder().uri(&url);
        if let Some(token) = &self.token {
            request = request.header("X-Consul-Token", token);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .with_context(|| format!("invalid request URL {url:?}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| transport_error(&Method::GET, &url, &error))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        if status != 200 {
            let text = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            bail!(
                "Unexpected response code: {status} ({})",
                String::from_utf8_lossy(&text).trim()
            );
        }
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| anyhow!("GET {url:?}: reading response: {error}"))?;
            if let Some(data) = frame.data_ref() {
                on_data(data);
            }
        }
        Ok(())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let url = self.url(path, query);
        let mut request = hyper::Request::builder().method(method.clone()).uri(&url);
        if let Some(token) = &self.token {
            request = request.header("X-Consul-Token", token);
        }
        let request = request
            .body(Full::new(body))
            .with_context(|| format!("invalid request URL {url:?}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| transport_error(&method, &url, &error))?;
        let status = response.status().as_u16();
        let index = response
            .headers()
            .get("x-consul-index")
            .and_then(|value| value.to_str().ok()?.parse().ok());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| anyhow!("{} {url:?}: reading response: {error}", go_method(&method)))?
            .to_bytes();
        Ok(Reply {
            status,
            body,
            index,
        })
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let dc = self.datacenter.iter().map(|dc| ("dc", dc.as_str()));
        let pairs: Vec<String> = query
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .chain(dc)
            .map(|(name, value)| format!("{name}={}", utf8_percent_encode(value, QUERY)))
            .collect();
        if pairs.is_empty() {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}{path}?{}", self.base_url, pairs.join("&"))
        }
    }
}

/// Escapes a KV key (or other path tail) for use in a URL path, keeping `/`.
pub fn escape_path(text: &str) -> String {
    utf8_percent_encode(text, PATH).to_string()
}

/// Escapes a node name or `host:port` address for use as the last segment of a URL path.
pub fn escape_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// `host:port`, `http://host:port` (a trailing `/` is dropped); other schemes are refused.
fn base_url(address: &str) -> anyhow::Result<String> {
    let address = address.trim().trim_end_matches('/');
    match address.split_once("://") {
        None => Ok(format!("http://{address}")),
        Some(("http", rest)) => Ok(format!("http://{rest}")),
        Some((scheme, _)) => bail!(
            "Unsupported scheme {scheme:?} in HTTP address {address:?}; senate's CLI speaks plain http"
        ),
    }
}

/// `-token`, then `-token-file`, then `$CONSUL_HTTP_TOKEN`, then `$CONSUL_HTTP_TOKEN_FILE`.
fn token(args: &HttpArgs) -> anyhow::Result<Option<String>> {
    if let Some(token) = &args.token {
        return Ok(Some(token.clone()));
    }
    if let Some(path) = &args.token_file {
        return read_token_file(path).map(Some);
    }
    if let Some(token) = env_value("CONSUL_HTTP_TOKEN") {
        return Ok(Some(token));
    }
    env_value("CONSUL_HTTP_TOKEN_FILE")
        .map(|path| read_token_file(path.as_ref()))
        .transpose()
}

fn read_token_file(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("Error loading token file {}", path.display()))?;
    Ok(text.trim().to_string())
}

/// Describes a failed request the way Go's HTTP client does: `Get "url": dial tcp host:port: ...`.
fn transport_error(
    method: &Method,
    url: &str,
    error: &hyper_util::client::legacy::Error,
) -> anyhow::Error {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let method = go_method(method);
    if error.is_connect() {
        let host = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest.split('/').next().unwrap_or(rest));
        anyhow!(
            "{method} {url:?}: dial tcp {host}: connect: {}",
            io_reason(cause)
        )
    } else {
        anyhow!("{method} {url:?}: {cause}")
    }
}

/// An OS error as Go words it: `connection refused` rather than `Connection refused (os error 111)`.
fn io_reason(cause: &dyn std::error::Error) -> String {
    let text = cause.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    text.to_lowercase()
}

/// Go's spelling of a method in client errors: `Get`, `Put`, `Delete`.
fn go_method(method: &Method) -> String {
    let name = method.as_str();
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_string() + &chars.as_str().to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_with_and_without_scheme() {
        assert_eq!(base_url("127.0.0.1:8500").unwrap(), "http://127.0.0.1:8500");
        assert_eq!(
            base_url("http://localhost:1/").unwrap(),
            "http://localhost:1"
        );
        assert!(base_url("https://localhost:8501").is_err());
        assert!(base_url("unix:///tmp/consul.sock").is_err());
    }

    #[test]
    fn urls_escape_keys_and_query_values() {
        let client = ApiClient::new(&HttpArgs {
            http_addr: Some("127.0.0.1:1".to_string()),
            datacenter: Some("dc2".to_string()),
            ..HttpArgs::default()
        })
        .unwrap();
        let path = format!("/v1/kv/{}", escape_path("a b/c?d"));
        let url = client.url(
            &path,
            &[("recurse", String::new()), ("acquire", "x&y".into())],
        );
        assert_eq!(
            url,
            "http://127.0.0.1:1/v1/kv/a%20b/c%3Fd?recurse=&acquire=x%26y&dc=dc2"
        );
    }

    #[test]
    fn non_ok_replies_become_consul_errors() {
        let reply = Reply {
            status: 500,
            body: Bytes::from_static(b"No cluster leader\n"),
            index: None,
        };
        let error = reply.into_ok_body().unwrap_err().to_string();
        assert_eq!(error, "Unexpected response code: 500 (No cluster leader)");
    }

    #[test]
    fn segments_keep_colons() {
        assert_eq!(escape_segment("10.0.0.1:8301"), "10.0.0.1:8301");
        assert_eq!(escape_segment("node one?/x"), "node%20one%3F%2Fx");
    }

    #[test]
    fn go_method_names() {
        assert_eq!(go_method(&Method::DELETE), "Delete");
    }
}
