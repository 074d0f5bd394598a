//! Signing keys in the console: the public keys receivers verify with, the
//! secrets shown only on request (a POST, so they never sit in a URL or the
//! history), and rotation with a grace period during which deliveries carry
//! the old and the new signatures.

use super::layout::{csrf, notice, page, time, Done};
use super::session::{NoFields, Posted, Scope, Session};
use super::{ConsoleError, Page};
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::delivery::signing::public_keys;
use crate::domain::duration::HumanDuration;
use crate::domain::keys::SigningKeys;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

/// The grace periods a rotation offers (the API takes up to 30 days).
const GRACE: [(&str, &str); 4] = [
    ("1h", "1 hour"),
    ("24h", "1 day"),
    ("7d", "1 week"),
    ("30d", "30 days"),
];

/// Routes of signing keys.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/keys", get(show))
        .route("/console/keys/reveal", post(reveal))
        .route("/console/keys/rotate", post(rotate))
}

fn key_page(session: &Session, scope: &Scope, done: Option<&str>, secrets: bool) -> Page {
    let keys = scope.account.keys.active(Utc::now());
    let public = public_keys(&keys).map_err(|e| {
        tracing::error!(error = %e, "stored keys do not decode");
        ApiError::Internal
    })?;
    let body = html! {
        (notice(done))
        section {
            h2 { "Public keys (Ed25519)" }
            p { "Receivers verify Telnyx-style signatures and Standard Webhooks v1a with these; they are not secret." }
            @for (i, key) in public.iter().enumerate() {
                dl.facts {
                    dt { @if i == 0 { "Current" } @else { "Previous" } }
                    dd { code.public-key { (key) } br; code { "whpk_" (key) } }
                    @if i > 0 { @if let Some(until) = keys.previous_until { dt { "Signs until" } dd { (time(until)) } } }
                }
            }
        }
        @if scope.manages_account() {
            section {
                h2 { "Secrets" }
                @if secrets { (secret_list(&keys)) }
                @else {
                    form.inline method="post" action="/console/keys/reveal" {
                        (csrf(session))
                        button type="submit" { "Show the secrets" }
                    }
                }
            }
            section {
                h2 { "Rotate" }
                form.card #rotate-keys method="post" action="/console/keys/rotate" {
                    (csrf(session))
                    label for="keep_old_for" { "Keep the old keys signing beside the new ones for" }
                    select #keep_old_for name="keep_old_for" {
                        @for (value, label) in GRACE { option value=(value) selected[value == "24h"] { (label) } }
                    }
                    button type="submit" { "Rotate the signing keys" }
                }
            }
        }
    };
    Ok(page(session, "Signing keys", body))
}

fn secret_list(keys: &SigningKeys) -> Markup {
    html! {
        dl.facts #secrets {
            @for (i, secret) in keys.hmac.iter().enumerate() {
                dt { "Standard Webhooks secret" @if i > 0 { " (previous)" } }
                dd { code.secret { (secret.expose()) } }
            }
            @for (i, token) in keys.phaxio.iter().enumerate() {
                dt { "Callback token (Phaxio-style)" @if i > 0 { " (previous)" } }
                dd { code.secret { (token.expose()) } }
            }
        }
    }
}

async fn show(session: Session, Query(q): Query<Done>) -> Page {
    key_page(&session, session.scope()?, q.done.as_deref(), false)
}

async fn reveal(Posted(session, NoFields {}): Posted<NoFields>) -> Page {
    let scope = session.manager()?;
    key_page(&session, scope, None, true)
}

#[derive(Deserialize)]
struct RotateForm {
    keep_old_for: String,
}

async fn rotate(State(app): State<AppState>, Posted(session, form): Posted<RotateForm>) -> Page {
    let scope = session.manager()?;
    let grace = GRACE
        .iter()
        .find(|(value, _)| *value == form.keep_old_for)
        .ok_or_else(|| ConsoleError::bad_form("keep_old_for: pick one of the offered periods"))?;
    let overlap = HumanDuration::parse(grace.0).map_err(ConsoleError::bad_form)?;
    let until =
        Utc::now() + chrono::Duration::from_std(overlap.0).unwrap_or(chrono::Duration::days(1));
    app.rotate_signing_keys(&scope.account, until).await?;
    Ok(Redirect::to("/console/keys?done=rotated").into_response())
}
