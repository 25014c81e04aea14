//! API errors: a status code and a plain-text message, as Consul answers them.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use senate_cluster::ClusterError;
use senate_consensus::ConsensusError;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 413 with `message`.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: message.into(),
        }
    }

    /// 500 with `message`.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl From<ConsensusError> for ApiError {
    fn from(error: ConsensusError) -> Self {
        match error {
            ConsensusError::NotLeader { .. } => ApiError::internal("No cluster leader"),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<ClusterError> for ApiError {
    fn from(error: ClusterError) -> Self {
        match error {
            ClusterError::BadRequest(message) => ApiError::bad_request(message),
            ClusterError::Consensus(error) => error.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut message = self.message;
        if !message.ends_with('\n') {
            message.push('\n');
        }
        (
            self.status,
            [("content-type", "text/plain; charset=utf-8")],
            message,
        )
            .into_response()
    }
}

/// Answers paths Senate does not serve.
pub async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("Unsupported endpoint: {method} {}", uri.path()))
}

/// Answers a known path called with a method it does not take.
pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("method {method} not allowed"),
    }
}
