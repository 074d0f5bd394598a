//! Signing in and out: with an account's API key or the admin token (a
//! form), or by opening a portal link. Each sets the session cookie, a signed
//! token that holds no key (only a key's hash, so a rotated key ends it).

use super::layout::public_page;
use super::session::{self, token_hash, Posted, COOKIE_NAME, SESSION_LIFETIME};
use super::session::{NoFields, Viewer};
use super::{ConsoleError, Page};
use crate::api::AppState;
use crate::app::portal::token_keys;
use crate::domain::console_token::{ConsoleToken, Grant, TokenRefusal};
use crate::secrets::{hash_token, token_matches};
use axum::extract::{Query, State};
use axum::http::header::{HOST, ORIGIN, SET_COOKIE};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;

/// Routes of signing in and out.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/sign-in", get(form).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/portal", get(open_portal))
}

fn sign_in_page(message: Option<&str>) -> Html<String> {
    Html(
        public_page(
            "Sign in",
            html! {
                @if let Some(message) = message { p.error role="alert" { (message) } }
                form.card method="post" action="/console/sign-in" {
                    label for="credential" { "Account API key or admin token" }
                    input #credential type="password" name="credential" autocomplete="off" required;
                    button type="submit" { "Sign in" }
                }
                p.hint { "Customers open the console from a portal link their platform gives them." }
            },
        )
        .into_string(),
    )
}

async fn form() -> Html<String> {
    sign_in_page(None)
}

#[derive(Deserialize)]
struct Credential {
    credential: String,
}

/// The cookie that holds `token` for `max_age` seconds (0 clears it).
fn cookie(token: &str, max_age: i64) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/console; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"
    )
}

/// A redirect into the console that sets the session cookie to `text`.
fn with_cookie(text: &str, max_age: i64) -> Response {
    (
        [(SET_COOKIE, cookie(text, max_age.max(1)))],
        Redirect::to("/console"),
    )
        .into_response()
}

/// Signs `token` and sets it as the session.
fn signed_in(token: &ConsoleToken) -> Result<Response, ConsoleError> {
    let keys = token_keys().ok_or(ConsoleError::NoMasterKey)?;
    let max_age = (token.exp - chrono::Utc::now().timestamp_millis()) / 1000;
    Ok(with_cookie(&token.sign(&keys[0]), max_age))
}

/// A sign-in form must come from this server's own page: a browser names the
/// page's origin, which must be this host (another site could otherwise sign
/// a visitor in to an account of its choosing).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| Some(authority) == host)
}

async fn sign_in(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(Credential { credential }): Form<Credential>,
) -> Page {
    if !same_origin(&headers) {
        return Err(ConsoleError::Csrf);
    }
    let credential = credential.trim();
    let now = chrono::Utc::now();
    let admin = app.config.admin_token.as_ref();
    let grant = if admin.is_some_and(|t| token_matches(credential, t)) {
        Grant::Admin {
            h: token_hash(credential),
        }
    } else if app.account_by_key(hash_token(credential)).await?.is_some() {
        Grant::Key {
            h: token_hash(credential),
        }
    } else {
        let page = sign_in_page(Some(
            "That is neither an API key of an account nor the admin token.",
        ));
        return Ok((axum::http::StatusCode::UNAUTHORIZED, page).into_response());
    };
    signed_in(&ConsoleToken::new(grant, now, SESSION_LIFETIME))
}

async fn sign_out(Posted(_, NoFields {}): Posted<NoFields>) -> Response {
    (
        [(SET_COOKIE, cookie("", 0))],
        Redirect::to("/console/sign-in"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct PortalQuery {
    token: String,
}

/// Opens a portal link: its token, checked, becomes the session cookie, and
/// the browser goes on to a URL without it.
async fn open_portal(State(app): State<AppState>, Query(q): Query<PortalQuery>) -> Page {
    let invalid = ConsoleError::Link(TokenRefusal::Invalid);
    let session = match session::open(&app, &q.token).await {
        // A link whose account is gone reads as an invalid link.
        Err(ConsoleError::SignedOut) => return Err(invalid),
        other => other?,
    };
    match &session.viewer {
        Viewer::Account(scope) if scope.portal => {
            let max_age = (session.expires_at - chrono::Utc::now()).num_seconds();
            Ok(with_cookie(&q.token, max_age))
        }
        _ => Err(invalid),
    }
}
