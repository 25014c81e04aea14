//! Successful answers: JSON (compact, or indented with `?pretty`) plus Consul's query headers.

use crate::context::Context;
use crate::error::ApiError;
use crate::query::QueryOptions;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use senate_state::Outcome;
use serde::Serialize;

/// Serializes `value` as Consul does: compact, or indented by four spaces with `?pretty`.
pub fn json_bytes<T: Serialize>(value: &T, pretty: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let written = if pretty {
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        value.serialize(&mut serializer)
    } else {
        serde_json::to_writer(&mut out, value)
    };
    if let Err(error) = written {
        tracing::error!(%error, "could not serialize a response");
    }
    if pretty {
        out.push(b'\n');
    }
    out
}

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
pub fn query_headers(context: &Context, options: &QueryOptions, index: u64) -> HeaderMap {
    let leadership = context.cluster.leadership();
    let known_leader = if leadership.leader.is_some() {
        "true"
    } else {
        "false"
    };
    let last_contact = leadership.since_last_contact().as_millis() as u64;
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

/// A JSON answer to a read, with the query headers for `index`.
pub fn read<T: Serialize>(
    context: &Context,
    options: &QueryOptions,
    index: u64,
    value: &T,
) -> Response {
    let mut headers = query_headers(context, options, index);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, json_bytes(value, options.pretty)).into_response()
}

/// A read's answer whose JSON body was already serialized (straight from a snapshot, without copies).
pub fn read_serialized(
    context: &Context,
    options: &QueryOptions,
    index: u64,
    body: impl Into<Body>,
) -> Response {
    let mut headers = query_headers(context, options, index);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, body.into()).into_response()
}

/// A 404 answer to a read of something missing, still carrying the query headers.
pub fn read_not_found(context: &Context, options: &QueryOptions, index: u64) -> Response {
    (
        StatusCode::NOT_FOUND,
        query_headers(context, options, index),
    )
        .into_response()
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
