//! The frame every console page shares, and the small pieces pages repeat:
//! the navigation, a form's CSRF field, a one-button form, times and badges.

use super::session::{Session, Viewer};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

/// The pages of an account, in the navigation's order.
const ACCOUNT_PAGES: [(&str, &str); 6] = [
    ("/console", "Overview"),
    ("/console/endpoints", "Endpoints"),
    ("/console/events", "Events"),
    ("/console/settings", "Settings"),
    ("/console/keys", "Signing keys"),
    ("/console/event-types", "Event types"),
];

fn frame(title: &str, nav: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · hookpost" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                header { span.brand { "hookpost" } (nav) }
                main { h1 { (title) } (body) }
            }
        }
    }
}

fn nav(session: &Session) -> Markup {
    html! {
        nav {
            @match &session.viewer {
                Viewer::Operator => { a href="/console" { "Operator" } }
                Viewer::Account(_) => {
                    @for (href, label) in ACCOUNT_PAGES { a href=(href) { (label) } }
                }
            }
            span.who {
                @match &session.viewer {
                    Viewer::Operator => "operator",
                    Viewer::Account(scope) => {
                        (scope.account.name)
                        @if let Some(profile) = &scope.profile { " · profile " (profile) }
                        @if scope.read_only { " · read-only" }
                    }
                }
            }
            form.inline method="post" action="/console/sign-out" {
                (csrf(session))
                button.link type="submit" { "Sign out" }
            }
        }
    }
}

/// A page of a signed-in session.
pub fn page(session: &Session, title: &str, body: Markup) -> Response {
    Html(frame(title, nav(session), body).into_string()).into_response()
}

/// A page before signing in.
pub fn public_page(title: &str, body: Markup) -> Markup {
    frame(title, html! {}, body)
}

/// The page of a refusal or failure.
pub fn error_page(status: StatusCode, message: &str) -> Html<String> {
    let title = status.canonical_reason().unwrap_or("Error");
    Html(
        public_page(
            title,
            html! {
                p.error role="alert" { (message) }
                p { a href="/console" { "Back to the console" } }
            },
        )
        .into_string(),
    )
}

/// The hidden field that carries the session's CSRF token.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A form of one button that posts to `action`.
pub fn button(session: &Session, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf(session))
            button type="submit" { (label) }
        }
    }
}

/// A time as people read it, in UTC.
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A status word, coloured by what it means.
pub fn badge(status: &str) -> Markup {
    let class = match status {
        "delivered" | "enabled" | "closed" | "ok" => "good",
        "failed" | "disabled" | "open" | "expired" | "http_status" | "redirect" | "timeout"
        | "connection" | "dns" | "blocked_address" | "tls" | "smtp" | "other" => "bad",
        "pending" | "paused" | "held" => "wait",
        _ => "plain",
    };
    html! { span class={ "badge " (class) } { (status) } }
}

/// What an action's redirect may report (`?done=`), in words: a fixed list,
/// so a crafted link cannot put its own text on the page.
const NOTICES: [(&str, &str); 12] = [
    ("created", "Created."),
    ("saved", "Saved."),
    ("deleted", "Deleted."),
    (
        "disabled",
        "Disabled: its pending deliveries wait until it is enabled again.",
    ),
    ("enabled", "Enabled."),
    (
        "tested",
        "A test event was sent; it shows below once attempted.",
    ),
    ("replaying", "A replay job started."),
    ("retried", "Sent again."),
    (
        "rotated",
        "New signing keys are in use; the old ones keep signing beside them for the grace period.",
    ),
    ("loaded", "The catalog's event types are registered."),
    ("revoked", "Every portal link made until now stops working."),
    ("unchanged", "Nothing to send again."),
];

/// The query of a page an action redirects to: which notice to show.
#[derive(serde::Deserialize)]
pub struct Done {
    /// A code of [`NOTICES`].
    pub done: Option<String>,
}

/// The notice named by the `done` query parameter, if it is one.
pub fn notice(done: Option<&str>) -> Markup {
    let text = NOTICES
        .iter()
        .find(|(code, _)| Some(*code) == done)
        .map(|(_, text)| *text);
    html! {
        @if let Some(text) = text { p.notice role="status" { (text) } }
    }
}
