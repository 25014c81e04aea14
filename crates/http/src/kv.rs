//! `/v1/kv/<key>`: read one key or a prefix (`?recurse`, `?keys`, `?separator`, `?raw`), write with
//! `?flags`, `?cas`, `?acquire`, `?release`, and delete one key, a prefix, or with `?cas`.

use crate::body::read_limited;
use crate::context::Context;
use crate::error::ApiError;
use crate::query::{check_datacenter, read_options, Params};
use crate::reply;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use senate_query::Query;
use senate_state::command::{KvDeleteMode, KvWriteMode};
use senate_state::Command;
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
    let options = read_options(&params, &context)?;
    let raw = params.has("raw");
    let query = if params.has("keys") {
        Query::KvKeys {
            prefix: key,
            separator: params.get("separator").unwrap_or("").to_string(),
        }
    } else if params.has("recurse") {
        Query::KvTree { prefix: key }
    } else {
        require_key(&key)?;
        Query::KvEntry { key, raw }
    };
    let reply = context.cluster.read(&query, &options).await?;
    if !(raw && matches!(query, Query::KvEntry { .. })) {
        return Ok(reply::answer(&options, reply));
    }
    let mut response = reply::with_content_type(&options, reply, "text/plain");
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("sandbox"),
    );
    Ok(response)
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
