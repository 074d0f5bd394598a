//! The one error type of the HTTP edge, rendered in one place. Every refusal is
//! JSON: `{"error": {"code", "message", "field"?}}`. Internal errors are logged
//! with their detail and answered opaquely; an unreachable database is a 503 with
//! `Retry-After`, so clients back off instead of failing.

use crate::app::publish::PublishError;
use crate::domain::validate::FieldError;
use crate::storage::StoreError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Everything a handler can refuse with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (or not well-formed).
    #[error("{0}")]
    InvalidJson(String),
    /// A field is missing, ill-typed or out of bounds.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No credentials, or wrong ones.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// No such resource in this account.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// The body is over the configured limit.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not JSON by its `Content-Type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The route exists, but not with this method.
    #[error("this route does not take that method; see the API reference in the README")]
    MethodNotAllowed,
    /// The body did not arrive within `--body-read-timeout`.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// Storage is unreachable; try again shortly.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or corrupt data; details are in the server log only.
    #[error("internal error")]
    Internal,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "storage unavailable");
                ApiError::Unavailable("the database is unavailable; retry shortly".into())
            }
            StoreError::Conflict(detail) => ApiError::Conflict(detail),
            StoreError::Internal(detail) => {
                tracing::error!(%detail, "storage error");
                ApiError::Internal
            }
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Field(f) => ApiError::Field(f),
            PublishError::Store(s) => s.into(),
        }
    }
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::Field(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // `field` is always present (null when no one field is at fault), so
        // clients can read every error the same way.
        let body = match &self {
            ApiError::Field(f) => {
                json!({"error": {"code": code, "field": f.field, "message": f.message}})
            }
            other => json!({"error": {"code": code, "field": null, "message": other.to_string()}}),
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
