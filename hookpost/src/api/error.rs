//! The one error type of the HTTP edge and its catalogue of stable codes,
//! rendered in one place. Every refusal is JSON: `{"error": {"code", "message",
//! "field"}}`, where `code` names the problem (one code per problem, never per
//! HTTP status) so clients can branch on it. Internal errors are logged with
//! their detail and answered opaquely; database text never reaches a client. An
//! unreachable database is a 503 with `Retry-After`, so clients back off.

use crate::app::AppError;
use crate::domain::validate::FieldError;
use crate::storage::StoreError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The stable error codes of the API: the catalogue clients program against.
/// Its OpenAPI schema is derived from the variants (snake_case, as
/// [`ErrorCode::as_str`] writes them; a test holds the two together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not well-formed JSON.
    InvalidJson,
    /// A field is missing, ill-typed, unknown or out of bounds (`field` names it).
    InvalidField,
    /// No `Authorization` header.
    MissingCredentials,
    /// An `Authorization` header that is not `Bearer <token>`.
    MalformedAuthorization,
    /// No account has this API key.
    InvalidApiKey,
    /// Not the admin token.
    InvalidAdminToken,
    /// No such route.
    RouteNotFound,
    /// No such event in this account.
    EventNotFound,
    /// No such profile in this account.
    ProfileNotFound,
    /// No such event type in this account.
    EventTypeNotFound,
    /// No such endpoint in this account.
    EndpointNotFound,
    /// No such job in this account.
    JobNotFound,
    /// The attachment of a download link is gone with its event.
    AttachmentNotFound,
    /// A download link that expired or was altered.
    LinkRefused,
    /// The account was deleted while the request ran.
    AccountNotFound,
    /// The resource exists already.
    Conflict,
    /// The body is over `--max-body-bytes`.
    BodyTooLarge,
    /// The body's `Content-Type` is not JSON.
    UnsupportedMediaType,
    /// The route does not take this method.
    MethodNotAllowed,
    /// The body did not arrive within `--body-read-timeout`.
    BodyTimeout,
    /// The database is unreachable; retry after `Retry-After`.
    Unavailable,
    /// A bug or corrupt data; the detail is in the server log.
    Internal,
}

impl ErrorCode {
    /// Every code, for the catalogue's documentation and tests.
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidField,
        ErrorCode::MissingCredentials,
        ErrorCode::MalformedAuthorization,
        ErrorCode::InvalidApiKey,
        ErrorCode::InvalidAdminToken,
        ErrorCode::RouteNotFound,
        ErrorCode::EventNotFound,
        ErrorCode::ProfileNotFound,
        ErrorCode::EventTypeNotFound,
        ErrorCode::EndpointNotFound,
        ErrorCode::JobNotFound,
        ErrorCode::AttachmentNotFound,
        ErrorCode::LinkRefused,
        ErrorCode::AccountNotFound,
        ErrorCode::Conflict,
        ErrorCode::BodyTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::MethodNotAllowed,
        ErrorCode::BodyTimeout,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The code as it appears in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::MissingCredentials => "missing_credentials",
            ErrorCode::MalformedAuthorization => "malformed_authorization",
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::InvalidAdminToken => "invalid_admin_token",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::EventNotFound => "event_not_found",
            ErrorCode::ProfileNotFound => "profile_not_found",
            ErrorCode::EventTypeNotFound => "event_type_not_found",
            ErrorCode::EndpointNotFound => "endpoint_not_found",
            ErrorCode::JobNotFound => "job_not_found",
            ErrorCode::AttachmentNotFound => "attachment_not_found",
            ErrorCode::LinkRefused => "link_refused",
            ErrorCode::AccountNotFound => "account_not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::BodyTimeout => "body_timeout",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status the code is answered with.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            InvalidJson => StatusCode::BAD_REQUEST,
            InvalidField => StatusCode::UNPROCESSABLE_ENTITY,
            MissingCredentials | MalformedAuthorization | InvalidApiKey | InvalidAdminToken => {
                StatusCode::UNAUTHORIZED
            }
            RouteNotFound | EventNotFound | ProfileNotFound | EventTypeNotFound
            | EndpointNotFound | JobNotFound | AttachmentNotFound | AccountNotFound => {
                StatusCode::NOT_FOUND
            }
            LinkRefused => StatusCode::FORBIDDEN,
            Conflict => StatusCode::CONFLICT,
            BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Everything a handler can refuse with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (or not well-formed).
    #[error("{0}")]
    InvalidJson(String),
    /// A field is missing, ill-typed or out of bounds.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// No credentials, or wrong ones (`code` says which).
    #[error("{message}")]
    Unauthorized {
        /// One of the 401 codes.
        code: ErrorCode,
        /// What to fix.
        message: &'static str,
    },
    /// No such thing (`code` says what).
    #[error("{message}")]
    NotFound {
        /// One of the 404 codes.
        code: ErrorCode,
        /// What was looked for.
        message: String,
    },
    /// Not allowed (`code` says why).
    #[error("{message}")]
    Forbidden {
        /// One of the 403 codes.
        code: ErrorCode,
        /// Why.
        message: String,
    },
    /// The resource exists already.
    #[error("the resource exists already")]
    Conflict,
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
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    /// A bug or corrupt data; details are in the server log only.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// No such event, profile, event type, account or route.
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }

    /// Not allowed, for the reason `code` names.
    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Forbidden {
            code,
            message: message.into(),
        }
    }

    /// The code of the catalogue this error is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::InvalidJson(_) => ErrorCode::InvalidJson,
            ApiError::Field(_) => ErrorCode::InvalidField,
            ApiError::Unauthorized { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Forbidden { code, .. } => *code,
            ApiError::Conflict => ErrorCode::Conflict,
            ApiError::TooLarge(_) => ErrorCode::BodyTooLarge,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::BodyTimeout => ErrorCode::BodyTimeout,
            ApiError::Unavailable => ErrorCode::Unavailable,
            ApiError::Internal => ErrorCode::Internal,
        }
    }
}

impl From<StoreError> for ApiError {
    /// The detail of a storage error goes to the log, never to the client.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "storage unavailable");
                ApiError::Unavailable
            }
            StoreError::Conflict(detail) => {
                tracing::info!(%detail, "refused as a conflict");
                ApiError::Conflict
            }
            StoreError::Internal(detail) => {
                tracing::error!(%detail, "storage error");
                ApiError::Internal
            }
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Field(f) => ApiError::Field(f),
            AppError::Store(s) => s.into(),
        }
    }
}

/// Every error answer: `{"error": {...}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// What went wrong.
    pub error: ErrorDetail<'a>,
}

/// The inside of an error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// A code of [`ErrorCode`]'s catalogue.
    #[schema(value_type = ErrorCode)]
    pub code: &'static str,
    /// The field at fault, or `null`.
    #[schema(required = true)]
    pub field: Option<&'a str>,
    /// What to fix, for people.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status = code.status();
        // `field` is always present (null when no one field is at fault), so
        // clients can read every error the same way.
        let field = match &self {
            ApiError::Field(f) => Some(f.field.as_str()),
            _ => None,
        };
        let message = match &self {
            ApiError::Field(f) => f.message.clone(),
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.as_str(),
                field,
                message,
            },
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_is_unique_and_answered_with_an_error_status() {
        let names: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            let status = code.status().as_u16();
            let server_side = matches!(code, ErrorCode::Unavailable | ErrorCode::Internal);
            assert_eq!(status >= 500, server_side, "{code:?} → {status}");
            assert!(status >= 400, "{code:?} → {status}");
        }
    }

    #[test]
    fn the_documented_enum_is_every_code_as_answered() {
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema()).unwrap();
        let documented: HashSet<&str> = schema["enum"]
            .as_array()
            .expect("an enum")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let answered: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        // The schema is derived from the variants, so this also proves `ALL` whole.
        assert_eq!(documented, answered);
    }

    fn rendered(e: ApiError) -> (u16, serde_json::Value) {
        let response = e.into_response();
        let status = response.status().as_u16();
        let bytes =
            futures::executor::block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
                .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn every_variant_renders_its_code_in_the_one_shape() {
        let samples = [
            ApiError::InvalidJson("x".into()),
            ApiError::Field(FieldError::new("payload", "must be a JSON object")),
            ApiError::Unauthorized {
                code: ErrorCode::InvalidApiKey,
                message: "invalid API key",
            },
            ApiError::not_found(ErrorCode::EventNotFound, "no event `e`"),
            ApiError::Conflict,
            ApiError::TooLarge(10),
            ApiError::UnsupportedMediaType("text/plain".into()),
            ApiError::MethodNotAllowed,
            ApiError::BodyTimeout,
            ApiError::Unavailable,
            ApiError::Internal,
        ];
        for e in samples {
            let code = e.code();
            let (status, body) = rendered(e);
            assert_eq!(status, code.status().as_u16());
            let error = &body["error"];
            assert_eq!(error["code"], code.as_str());
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(error.as_object().unwrap().contains_key("field"), "{body}");
        }
    }

    #[test]
    fn database_text_never_reaches_the_client() {
        let secret_detail = "UNIQUE constraint failed: accounts.api_key_hash";
        for e in [
            StoreError::Conflict(secret_detail.into()),
            StoreError::Internal(secret_detail.into()),
            StoreError::Unavailable(secret_detail.into()),
        ] {
            let (_, body) = rendered(e.into());
            assert!(!body.to_string().contains("constraint"), "{body}");
        }
    }
}
