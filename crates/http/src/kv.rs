//! `/v1/kv/<key>`: read one key or a prefix (`?recurse`, `?keys`, `?separator`, `?raw`), write with
//! `?flags`, `?cas`, `?acquire`, `?release`, and delete one key, a prefix, or with `?cas`.

use crate::blocking::query_store;
use crate::body::read_limited;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{check_datacenter, Params, QueryOptions};
use crate::reply;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use senate_state::command::{KvDeleteMode, KvWriteMode};
use senate_state::{Command, Topic};
use senate_types::kv::KvPairJson;
use std::sync::Arc;

const KV_PATH: &str = "/v1/kv/";

/// The KV routes.
pub fn routes() -> Router<Arc<Context>> {
    let handlers = get(read).put(write).delete(delete);
    Router::new()
        .route("/v1/kv", handlers.clone())
        .route("/v1/kv/", handlers.clone())
        .route("/v1/kv/{*key}", handlers)
}

/// The decoded key of a KV request's path.
fn key_of(uri: &Uri) -> Result<String, ApiError> {
    let raw = uri.path().strip_prefix(KV_PATH).unwrap_or("");
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| ApiError::bad_request("Invalid key: not valid UTF-8"))
}

fn require_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(ApiError::bad_request("Missing key name"));
    }
    Ok(())
}

async fn read(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let key = key_of(&uri)?;
    let params = Params::parse(uri.query());
    let options = QueryOptions::parse(&params, &context)?;
    if params.has("keys") {
        let separator = params.get("separator").unwrap_or("").to_string();
        let topics = [Topic::KeyPrefix(key.clone())];
        let (index, keys) =
            query_store(&context, &options, &topics, |t| t.kv_keys(&key, &separator)).await?;
        return Ok(found_or_404(
            &context,
            &options,
            index,
            &keys,
            !keys.is_empty() || key.is_empty(),
        ));
    }
    if params.has("recurse") {
        let topics = [Topic::KeyPrefix(key.clone())];
        let (index, entries) = query_store(&context, &options, &topics, |t| {
            let (index, entries) = t.kv_list(&key);
            (index, entries.into_iter().cloned().collect::<Vec<_>>())
        })
        .await?;
        let rendered: Vec<KvPairJson> = entries.iter().map(KvPairJson).collect();
        return Ok(found_or_404(
            &context,
            &options,
            index,
            &rendered,
            !entries.is_empty(),
        ));
    }
    require_key(&key)?;
    let topics = [Topic::Key(key.clone())];
    let raw = params.has("raw");
    let (index, body) = query_store(&context, &options, &topics, |t| {
        let (index, entry) = t.kv_get(&key);
        let body = entry.map(|entry| match raw {
            true => entry.value.clone(),
            false => Bytes::from(reply::json_bytes(&[KvPairJson(entry)], options.pretty)),
        });
        (index, body)
    })
    .await?;
    let Some(body) = body else {
        return Ok(reply::read_not_found(&context, &options, index));
    };
    if !raw {
        return Ok(reply::read_serialized(&context, &options, index, body));
    }
    let mut headers = reply::query_headers(&context, &options, index);
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("sandbox"),
    );
    Ok((StatusCode::OK, headers, body).into_response())
}

fn found_or_404<T: serde::Serialize>(
    context: &Context,
    options: &QueryOptions,
    index: u64,
    value: &T,
    found: bool,
) -> Response {
    if found {
        reply::read(context, options, index, value)
    } else {
        reply::read_not_found(context, options, index)
    }
}

/// Which write a PUT asks for; `?cas`, `?acquire` and `?release` exclude each other.
fn write_mode(params: &Params) -> Result<KvWriteMode, ApiError> {
    let given: Vec<&str> = ["cas", "acquire", "release"]
        .into_iter()
        .filter(|p| params.has(p))
        .collect();
    if given.len() > 1 {
        return Err(ApiError::bad_request(format!(
            "Conflicting flags: ?{} cannot be used together",
            given.join(" and ?")
        )));
    }
    if let Some(session) = params.get("release") {
        return Ok(KvWriteMode::Release(session.to_string()));
    }
    if let Some(session) = params.get("acquire") {
        return Ok(KvWriteMode::Acquire(session.to_string()));
    }
    match params.u64("cas", "CAS index")? {
        Some(index) => Ok(KvWriteMode::Cas(index)),
        None => Ok(KvWriteMode::Set),
    }
}

async fn write(
    State(context): State<Arc<Context>>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let key = key_of(&uri)?;
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    require_key(&key)?;
    let flags = params.u64("flags", "flags")?.unwrap_or(0);
    let mode = write_mode(&params)?;
    let limit = usize::try_from(context.config.kv_max_value_size).unwrap_or(usize::MAX);
    let value = read_limited(body, limit)
        .await
        .map_err(|error| match error.status {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(format!(
                "Value for key {key:?} exceeds the {limit} byte limit"
            )),
            _ => error,
        })?;
    if let KvWriteMode::Acquire(session) = &mode {
        if !context.store().snapshot().session_exists(session) {
            return Err(ApiError::bad_request(format!(
                "invalid session \"{session}\""
            )));
        }
        if context.store().lock_delay_remaining(&key).is_some() {
            return Ok(reply::json(&false, params.has("pretty")));
        }
    }
    let outcome = context
        .cluster
        .write(Command::KvPut {
            key,
            value,
            flags,
            mode,
        })
        .await?;
    reply::outcome(outcome, params.has("pretty"))
}

async fn delete(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let key = key_of(&uri)?;
    let params = Params::parse(uri.query());
    check_datacenter(&params, &context)?;
    if params.has("recurse") && params.has("cas") {
        return Err(ApiError::bad_request(
            "Conflicting flags: ?recurse and ?cas cannot be used together",
        ));
    }
    let mode = if params.has("recurse") {
        KvDeleteMode::Tree
    } else {
        require_key(&key)?;
        match params.u64("cas", "CAS index")? {
            Some(index) => KvDeleteMode::Cas(index),
            None => KvDeleteMode::Key,
        }
    };
    let outcome = context
        .cluster
        .write(Command::KvDelete { key, mode })
        .await?;
    reply::outcome(outcome, params.has("pretty"))
}
