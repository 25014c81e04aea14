//! Requests relayed whole, as data over the server RPC port, to the server that must answer
//! them. On a server: the operator endpoints (Raft configuration and peers, leadership
//! transfer, autopilot) act on the leader's own view of the cluster, so a follower hands them to
//! the leader, which runs them through its own router; its response (headers included) is
//! relayed unchanged; a `?stale` read of them is answered here. On a client agent, which holds
//! no replica: the operator and status endpoints go to a server, which answers them as if it had
//! received them. Reads and writes of the replicated state do not come here: they travel as
//! typed queries and commands through the backend (`senate_cluster::Backend`).

use crate::body::{read_limited, MAX_JSON_BODY};
use crate::context::Context;
use crate::error::ApiError;
use crate::query::Params;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Extensions, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::future::BoxFuture;
use futures::FutureExt;
use http_body_util::BodyExt;
use senate_cluster::wire::{ForwardedRequest, ForwardedResponse};
use senate_cluster::{Backend, LocalHttp};
use senate_consensus::RaftTiming;
use senate_types::duration;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// Marks a request a follower forwarded, so the leader answers it itself.
const FORWARDED: HeaderName = HeaderName::from_static("x-senate-forwarded");

/// The path prefix of the endpoints only the leader answers (unless `?stale`).
const LEADER_ONLY: &str = "/v1/operator/";
/// The path prefixes a client agent has a server answer.
const SERVERS_ONLY: [&str; 2] = ["/v1/operator/", "/v1/status/"];

/// Whether a server must have the leader answer a request. A `?stale` read is answered here
/// unless `max_stale` is given and this server last heard from the leader longer ago than that.
fn needs_leader(method: &Method, path: &str, params: &Params, since_contact: Duration) -> bool {
    if !path.starts_with(LEADER_ONLY) {
        return false;
    }
    let read = method == Method::GET || method == Method::HEAD;
    if !(read && params.has("stale")) {
        return true;
    }
    params
        .get("max_stale")
        .and_then(|text| duration::parse(text).ok())
        .is_some_and(|max_stale| since_contact > max_stale)
}

/// Whether this agent relays `request` rather than answering it.
fn relays(context: &Context, request: &Request) -> bool {
    if request.headers().contains_key(&FORWARDED) {
        return false;
    }
    let path = request.uri().path();
    match &context.cluster {
        Backend::Client(_) => SERVERS_ONLY.iter().any(|p| path.starts_with(p)),
        Backend::Server(server) => {
            let params = Params::parse(request.uri().query());
            let since_contact = server.leadership().since_last_contact();
            !server.is_leader() && needs_leader(request.method(), path, &params, since_contact)
        }
    }
}

/// The middleware: relays what another server must answer, answers the rest here.
pub async fn relay(State(context): State<Arc<Context>>, request: Request, next: Next) -> Response {
    if !relays(&context, &request) {
        return next.run(request).await;
    }
    let hold = RaftTiming::scaled(u32::from(context.config.raft_multiplier)).hold_timeout();
    let (forwarded, extensions) = match as_data(request, body_limit(&context)).await {
        Ok(parts) => parts,
        Err(error) => return error.into_response(),
    };
    match context.cluster.forward_http(&forwarded, hold * 2).await {
        Ok(Some(response)) => from_data(response),
        Ok(None) => {
            // This server became the leader meanwhile: answer here, keeping what routing put
            // in the request (its path parameters).
            let mut request = from_request_data(forwarded, false);
            *request.extensions_mut() = extensions;
            next.run(request).await
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// The largest body worth forwarding: one byte over the largest any endpoint accepts, so the
/// leader still answers an oversized one with its own precise error.
fn body_limit(context: &Context) -> usize {
    let config = &context.config;
    let largest = config.kv_max_value_size.max(config.txn_max_req_len);
    usize::try_from(largest)
        .unwrap_or(usize::MAX)
        .max(MAX_JSON_BODY)
        .saturating_add(1)
}

/// The request as data, and the extensions routing attached to it (kept in case it is answered
/// here after all).
async fn as_data(
    request: Request,
    limit: usize,
) -> Result<(ForwardedRequest, Extensions), ApiError> {
    let (parts, body) = request.into_parts();
    let body = read_limited(body, limit).await?;
    let forwarded = ForwardedRequest {
        method: parts.method.to_string(),
        uri: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect(),
        body,
    };
    Ok((forwarded, parts.extensions))
}

fn from_request_data(data: ForwardedRequest, mark_forwarded: bool) -> Request {
    let mut request = Request::new(Body::from(data.body));
    *request.method_mut() = Method::from_bytes(data.method.as_bytes()).unwrap_or(Method::GET);
    *request.uri_mut() = data.uri.parse().unwrap_or_default();
    let headers = request.headers_mut();
    for (name, value) in data.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    if mark_forwarded {
        headers.insert(FORWARDED, HeaderValue::from_static("1"));
    }
    request
}

/// Headers that belong to one connection, not to the response relayed.
fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection" | "transfer-encoding" | "content-length" | "keep-alive"
    )
}

fn from_data(data: ForwardedResponse) -> Response {
    let mut response = Response::new(Body::from(data.body));
    *response.status_mut() =
        StatusCode::from_u16(data.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in data.headers {
        if is_hop_by_hop(&name) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    response
}

/// Answers forwarded requests with this server's router.
pub struct RouterHttp {
    router: Router,
}

impl RouterHttp {
    pub fn new(router: Router) -> Arc<Self> {
        Arc::new(RouterHttp { router })
    }
}

impl LocalHttp for RouterHttp {
    fn serve(
        &self,
        request: ForwardedRequest,
        as_leader: bool,
    ) -> BoxFuture<'static, ForwardedResponse> {
        let router = self.router.clone();
        async move {
            let request = from_request_data(request, as_leader);
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            to_data(response).await
        }
        .boxed()
    }
}

async fn to_data(response: Response) -> ForwardedResponse {
    let (parts, body) = response.into_parts();
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| !is_hop_by_hop(name.as_str()))
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    match body.collect().await {
        Ok(collected) => ForwardedResponse {
            status: parts.status.as_u16(),
            headers,
            body: collected.to_bytes(),
        },
        Err(error) => ForwardedResponse {
            status: 500,
            headers: Vec::new(),
            body: format!("reading the leader's response: {error}\n").into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, uri: &str) -> bool {
        route_after(method, uri, Duration::ZERO)
    }

    fn route_after(method: Method, uri: &str, since_contact: Duration) -> bool {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        needs_leader(&method, path, &Params::parse(Some(query)), since_contact)
    }

    #[test]
    fn a_stale_read_too_far_behind_max_stale_goes_to_the_leader() {
        let uri = "/v1/operator/raft/configuration?stale&max_stale=5s";
        assert!(!route_after(Method::GET, uri, Duration::from_secs(1)));
        assert!(route_after(Method::GET, uri, Duration::from_secs(6)));
    }

    #[test]
    fn operator_requests_go_to_the_leader_unless_stale_reads() {
        assert!(route(Method::GET, "/v1/operator/raft/configuration"));
        assert!(route(Method::DELETE, "/v1/operator/raft/peer?id=x"));
        assert!(route(
            Method::PUT,
            "/v1/operator/autopilot/configuration?stale"
        ));
        assert!(!route(Method::GET, "/v1/operator/autopilot/health?stale"));
    }

    #[test]
    fn everything_else_is_answered_here() {
        assert!(!route(Method::GET, "/v1/kv/a"));
        assert!(!route(Method::PUT, "/v1/kv/a"));
        assert!(!route(Method::GET, "/v1/agent/self"));
        assert!(!route(Method::GET, "/v1/status/leader"));
        assert!(!route(Method::PUT, "/v1/event/fire/x"));
        assert!(!route(Method::GET, "/v1/nonsense"));
    }
}
