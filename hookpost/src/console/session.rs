//! Who is looking at the console: the session cookie read, checked and
//! resolved to an account (with the portal's scope) or the operator. Every
//! console handler takes a [`Session`]; a form takes [`Posted`], which also
//! checks the form's CSRF token against the session.

use super::ConsoleError;
use crate::api::AppState;
use crate::app::portal::token_keys;
use crate::domain::console_token::{csrf_token, ConsoleToken, Grant, TokenRefusal};
use crate::domain::endpoint::Endpoint;
use crate::secrets::hash_token;
use crate::storage::Account;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "hookpost_console";
/// How long a session signed in with a key or the admin token lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// An account as the console shows it, within a scope.
pub struct Scope {
    /// The account.
    pub account: Account,
    /// The one profile shown, for a portal link scoped to it.
    pub profile: Option<String>,
    /// Whether nothing may be changed.
    pub read_only: bool,
    /// Whether it came from a portal link (rather than the API key).
    pub portal: bool,
}

impl Scope {
    /// Whether this scope may see the signing secrets and change what is the
    /// whole account's (its settings, event types, keys): not read-only, and
    /// not narrowed to a profile (a profile's customer must not sign as
    /// another's).
    pub fn manages_account(&self) -> bool {
        !self.read_only && self.profile.is_none()
    }

    /// Whether `profile_id` (of an event or an endpoint) is within the scope.
    pub fn sees_profile(&self, profile_id: Option<&str>) -> bool {
        match &self.profile {
            None => true,
            Some(scope) => profile_id == Some(scope.as_str()),
        }
    }

    /// Whether the endpoint is within the scope.
    pub fn sees_endpoint(&self, endpoint: &Endpoint) -> bool {
        self.sees_profile(endpoint.spec.profile_id.as_deref())
    }
}

/// Whom the session is for.
pub enum Viewer {
    /// An account (or part of one).
    Account(Box<Scope>),
    /// The operator (admin token).
    Operator,
}

/// A signed-in browser.
pub struct Session {
    /// Whom it shows.
    pub viewer: Viewer,
    /// The CSRF token its forms carry.
    pub csrf: String,
    /// When it ends.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Session {
    /// The account scope, or a refusal for the operator.
    pub fn scope(&self) -> Result<&Scope, ConsoleError> {
        match &self.viewer {
            Viewer::Account(scope) => Ok(scope),
            Viewer::Operator => Err(ConsoleError::refused(
                "this page belongs to an account: sign in with its API key or a portal link",
            )),
        }
    }

    /// The account scope, when it may change what is the whole account's
    /// (see [`Scope::manages_account`]).
    pub fn manager(&self) -> Result<&Scope, ConsoleError> {
        let scope = self.scope()?;
        match scope.manages_account() {
            true => Ok(scope),
            false => Err(ConsoleError::refused(
                "this portal link does not reach what is the whole account's (its settings, signing keys and event types)",
            )),
        }
    }

    /// The account scope, when it may change things.
    pub fn writable(&self) -> Result<&Scope, ConsoleError> {
        let scope = self.scope()?;
        match scope.read_only {
            true => Err(ConsoleError::refused("this portal link is read-only")),
            false => Ok(scope),
        }
    }
}

/// The base64url SHA-256 of a token, as a grant holds it.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(hash_token(token))
}

/// The session cookie's value, if the request carries one.
fn cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

/// Resolves a token's grant against what is stored now.
async fn viewer(app: &AppState, token: &ConsoleToken) -> Result<Viewer, ConsoleError> {
    match &token.grant {
        Grant::Key { h } => {
            let hash: [u8; 32] = URL_SAFE_NO_PAD
                .decode(h)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(ConsoleError::SignedOut)?;
            let account = app
                .account_by_key(hash)
                .await?
                .ok_or(ConsoleError::SignedOut)?;
            Ok(Viewer::Account(Box::new(Scope {
                account,
                profile: None,
                read_only: false,
                portal: false,
            })))
        }
        Grant::Admin { h } => match &app.config.admin_token {
            Some(admin) if token_hash(admin.expose()) == *h => Ok(Viewer::Operator),
            _ => Err(ConsoleError::SignedOut),
        },
        Grant::Portal { a, p, ro } => {
            let account = app.store.account(a).await?.ok_or(ConsoleError::SignedOut)?;
            let revoked = app.store.portal_links_revoked_at(a).await?;
            if revoked.is_some_and(|at| token.issued_at() <= at) {
                return Err(ConsoleError::Link(TokenRefusal::Expired));
            }
            Ok(Viewer::Account(Box::new(Scope {
                account,
                profile: p.clone(),
                read_only: *ro,
                portal: true,
            })))
        }
    }
}

/// Opens a token's text and resolves it.
pub async fn open(app: &AppState, text: &str) -> Result<Session, ConsoleError> {
    let keys = token_keys().ok_or(ConsoleError::NoMasterKey)?;
    let token = ConsoleToken::open(text, &keys, chrono::Utc::now())?;
    Ok(Session {
        viewer: viewer(app, &token).await?,
        csrf: csrf_token(&keys[0], text),
        expires_at: token.expires_at(),
    })
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ConsoleError> {
        let text = cookie(parts).ok_or(ConsoleError::SignedOut)?;
        match open(app, &text).await {
            // A stale cookie is a sign-in page, not an error page.
            Err(ConsoleError::Link(_)) if !text.is_empty() => Err(ConsoleError::SignedOut),
            other => other,
        }
    }
}

/// A form posted by a signed-in browser, with its session: the form must
/// carry the session's CSRF token in its `csrf` field.
pub struct Posted<T>(pub Session, pub T);

/// A form of one button: no fields but its CSRF token.
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// Largest form the console takes.
const MAX_FORM_BYTES: usize = 256 * 1024;

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, app: &AppState) -> Result<Self, ConsoleError> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, app).await?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| ConsoleError::bad_form("the form is too large"))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| ConsoleError::bad_form("the form could not be read"))?;
        let given = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v);
        if given.map(String::as_str) != Some(session.csrf.as_str()) {
            return Err(ConsoleError::Csrf);
        }
        let fields: Vec<_> = pairs.into_iter().filter(|(k, _)| k != "csrf").collect();
        let encoded = serde_urlencoded::to_string(&fields).expect("pairs encode");
        serde_urlencoded::from_str(&encoded)
            .map(|form| Posted(session, form))
            .map_err(|e| ConsoleError::bad_form(format!("the form is wrong: {e}")))
    }
}
