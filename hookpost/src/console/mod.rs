//! `/console`: the account's and the operator's pages, rendered on the server
//! as plain HTML forms (no script at all, so the Content-Security-Policy can
//! forbid every script), with the stylesheet embedded in the binary. Pages
//! call the same application services and store reads as the API handlers;
//! they add nothing the API cannot do, and a portal link's scope narrows what
//! they show.

mod endpoints;
mod event_types;
mod events;
mod keys;
mod layout;
mod overview;
mod plot;
pub mod session;
mod settings;
mod sign_in;

use crate::api::error::ApiError;
use crate::api::AppState;
use crate::app::AppError;
use crate::domain::console_token::TokenRefusal;
use crate::domain::validate::FieldError;
use crate::storage::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// The console's stylesheet, served from the binary.
const STYLESHEET: &str = include_str!("console.css");

/// No script, no frame, nothing from elsewhere: pages are HTML and CSS from
/// this server, and forms post only to it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every console page.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/console", get(overview::show))
        .route("/console/assets/console.css", get(stylesheet))
        .merge(sign_in::router())
        .merge(endpoints::router())
        .merge(events::router())
        .merge(settings::router())
        .merge(keys::router())
        .merge(event_types::router())
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(app)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}

/// The headers of every console answer: the policy above, no sniffing, no
/// referrer to other sites (a portal link's token must not leak; within this
/// site browsers then send `Origin`, which the sign-in form checks), and no
/// caching of pages that show an account's data.
async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Why a console page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No session, or one that no longer holds: the sign-in page.
    #[error("sign in first")]
    SignedOut,
    /// A portal link (or session) expired, was revoked or altered.
    #[error(transparent)]
    Link(#[from] TokenRefusal),
    /// The server has no master key to sign sessions with.
    #[error("the console needs the server's master key, and none is installed")]
    NoMasterKey,
    /// A form without the session's CSRF token.
    #[error("this form is stale or did not come from this console; reload the page and try again")]
    Csrf,
    /// Not allowed in this session.
    #[error("{0}")]
    Refused(String),
    /// The form could not be read.
    #[error("{0}")]
    BadForm(String),
    /// What the API would answer.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl ConsoleError {
    /// A refusal in words.
    pub fn refused(message: impl Into<String>) -> Self {
        ConsoleError::Refused(message.into())
    }

    /// A form that could not be read.
    pub fn bad_form(message: impl Into<String>) -> Self {
        ConsoleError::BadForm(message.into())
    }

    fn status(&self) -> StatusCode {
        match self {
            ConsoleError::SignedOut => StatusCode::SEE_OTHER,
            ConsoleError::Link(_) | ConsoleError::Csrf | ConsoleError::Refused(_) => {
                StatusCode::FORBIDDEN
            }
            ConsoleError::NoMasterKey => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::BadForm(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Api(e) => e.code().status(),
        }
    }

    /// The message shown: a field error names its field.
    fn message(&self) -> String {
        match self {
            ConsoleError::Api(ApiError::Field(f)) => format!("{}: {}", f.field, f.message),
            ConsoleError::Api(ApiError::Internal) => {
                "something went wrong on the server; the log says what".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<AppError> for ConsoleError {
    fn from(e: AppError) -> Self {
        ConsoleError::Api(e.into())
    }
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        ConsoleError::Api(e.into())
    }
}

impl From<FieldError> for ConsoleError {
    fn from(e: FieldError) -> Self {
        ConsoleError::Api(e.into())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if let ConsoleError::SignedOut = self {
            return Redirect::to("/console/sign-in").into_response();
        }
        let status = self.status();
        (status, layout::error_page(status, &self.message())).into_response()
    }
}

/// What a console handler answers.
pub type Page = Result<Response, ConsoleError>;
