//! Reads request bodies within a size limit, and decodes JSON bodies as Consul does.

use crate::error::ApiError;
use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

/// The largest JSON body Senate reads for its non-KV endpoints.
pub const MAX_JSON_BODY: usize = 4 * 1024 * 1024;

/// Reads the whole body, refusing with 413 one over `limit` bytes. The result owns exactly its
/// bytes: a slice of the connection's read buffer would pin that whole buffer for as long as the
/// value lives in the Raft log and the state store.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(Bytes::copy_from_slice(&collected.to_bytes())),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(
            format!("Request body too large, max size: {limit} bytes"),
        )),
        Err(error) => Err(ApiError::bad_request(format!(
            "Could not read the request body: {error}"
        ))),
    }
}

/// Decodes a JSON body (field names matched without regard to case); an empty body gives `T::default()`.
pub async fn read_json<T: DeserializeOwned + Default>(body: Body) -> Result<T, ApiError> {
    let bytes = read_limited(body, MAX_JSON_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    senate_types::json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))
}
