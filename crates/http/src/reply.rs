//! Successful answers: JSON (compact, or indented with `?pretty`) plus Consul's query headers.

use crate::context::Context;
use crate::error::ApiError;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use senate_cluster::{LeaderSeen, ReadReply};
pub use senate_query::render::json_bytes;
use senate_query::QueryOptions;
use senate_state::Outcome;
use serde::Serialize;

/// A JSON answer to a write (no query headers).
pub fn json<T: Serialize>(value: &T, pretty: bool) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json_bytes(value, pretty),
    )
        .into_response()
}

const CONSUL_INDEX: HeaderName = HeaderName::from_static("x-consul-index");
const KNOWN_LEADER: HeaderName = HeaderName::from_static("x-consul-knownleader");
const LAST_CONTACT: HeaderName = HeaderName::from_static("x-consul-lastcontact");
const EFFECTIVE_CONSISTENCY: HeaderName = HeaderName::from_static("x-consul-effective-consistency");

/// The `X-Consul-Index`, `X-Consul-KnownLeader`, `X-Consul-LastContact` and effective-consistency headers.
pub fn query_headers(leadership: &LeaderSeen, options: &QueryOptions, index: u64) -> HeaderMap {
    let known_leader = match leadership.known {
        true => "true",
        false => "false",
    };
    let last_contact = u64::try_from(leadership.last_contact.as_millis()).unwrap_or(u64::MAX);
    let mut headers = HeaderMap::with_capacity(6);
    headers.insert(CONSUL_INDEX, HeaderValue::from(index));
    headers.insert(KNOWN_LEADER, HeaderValue::from_static(known_leader));
    headers.insert(LAST_CONTACT, HeaderValue::from(last_contact));
    headers.insert(
        EFFECTIVE_CONSISTENCY,
        HeaderValue::from_static(options.consistency.header_value()),
    );
    headers
}

/// A JSON answer to a read this server answered itself, with the query headers for `index`.
pub fn read<T: Serialize>(
    context: &Context,
    options: &QueryOptions,
    index: u64,
    value: &T,
) -> Response {
    let mut headers = query_headers(&context.cluster.leader_seen(), options, index);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, json_bytes(value, options.pretty)).into_response()
}

/// The answer to a [`senate_query::Query`]: its JSON body, or a 404 carrying the query headers.
pub fn answer(options: &QueryOptions, reply: ReadReply) -> Response {
    with_content_type(options, reply, "application/json")
}

/// The answer to a query, its body of `content_type`.
pub fn with_content_type(
    options: &QueryOptions,
    reply: ReadReply,
    content_type: &'static str,
) -> Response {
    let leadership = LeaderSeen {
        known: reply.known_leader,
        last_contact: reply.last_contact,
    };
    let mut headers = query_headers(&leadership, options, reply.answer.index);
    match reply.answer.body {
        Some(body) => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            (StatusCode::OK, headers, Body::from(body)).into_response()
        }
        None => (StatusCode::NOT_FOUND, headers).into_response(),
    }
}

/// Answers a write with its command's outcome: Consul's `true`/`false`, or a 400 for a refused command.
pub fn outcome(outcome: Outcome, pretty: bool) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Applied(applied) => Ok(json(&applied, pretty)),
        Outcome::Done => Ok(json(&true, pretty)),
        Outcome::Rejected(reason) => Err(ApiError::bad_request(reason)),
        Outcome::Batch(_) => Err(ApiError::internal("unexpected batch outcome")),
    }
}
