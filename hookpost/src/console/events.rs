//! The event log in the console: filters (status, type, profile, endpoint,
//! time) with paging, and each event's page: its payload (shown as text, so a
//! payload holding markup stays inert), files, deliveries and every attempt,
//! with a button to send it again.

use super::layout::{badge, button, notice, page, time, Done};
use super::session::{NoFields, Posted, Scope, Session};
use super::{ConsoleError, Page};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::AppState;
use crate::app::retry::Retried;
use crate::domain::duration::HumanDuration;
use crate::domain::event::EventStatus;
use crate::domain::event_log::StoredEvent;
use crate::storage::EventFilter;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

/// Events on one page.
const PAGE: u32 = 50;
/// The statuses a filter may name.
const STATUSES: [&str; 5] = ["pending", "delivered", "failed", "no_target", "filtered"];
/// The time windows a filter offers.
const WINDOWS: [(&str, &str); 4] = [
    ("", "any time"),
    ("1h", "last hour"),
    ("24h", "last day"),
    ("7d", "last week"),
];

/// Routes of the event log.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/events", get(list))
        .route("/console/events/{id}", get(show))
        .route("/console/events/{id}/retry", post(retry))
}

/// Events as a table, each linking to its page.
pub fn event_table(events: &[StoredEvent]) -> Markup {
    html! {
        @if events.is_empty() { p.empty { "No events." } }
        @else {
            table.events {
                thead { tr { th { "Event" } th { "Type" } th { "Profile" } th { "Status" } th { "Attempts" } th { "Published" } } }
                tbody {
                    @for e in events {
                        tr {
                            td { a href={ "/console/events/" (e.id) } { code { (e.id) } } }
                            td { (e.event_type) }
                            td { @if let Some(p) = &e.profile_id { (p) } }
                            td { (badge(e.status.as_str())) }
                            td { (e.attempts_made()) }
                            td { (time(e.created_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// The filters, as the query string holds them (empty means none).
#[derive(Deserialize, Serialize, Default)]
struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    profile_id: String,
    #[serde(default)]
    endpoint_id: String,
    #[serde(default)]
    since: String,
    #[serde(default, skip_serializing)]
    cursor: String,
}

fn given(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

impl Filters {
    /// The store's filter within `scope` (a profile's portal sees only it).
    fn filter(&self, scope: &Scope) -> Result<EventFilter, ConsoleError> {
        let status = match given(&self.status) {
            None => None,
            Some(s) => Some(
                EventStatus::parse(&s)
                    .ok_or_else(|| ConsoleError::bad_form(format!("status: no status `{s}`")))?,
            ),
        };
        let since = match given(&self.since) {
            None => None,
            Some(s) => {
                let window = HumanDuration::parse(&s)
                    .map_err(|e| ConsoleError::bad_form(format!("since: {e}")))?;
                Some(
                    Utc::now()
                        - chrono::Duration::from_std(window.0).unwrap_or(chrono::Duration::MAX),
                )
            }
        };
        Ok(EventFilter {
            status,
            event_type: given(&self.event_type),
            profile_id: scope.profile.clone().or_else(|| given(&self.profile_id)),
            endpoint_id: given(&self.endpoint_id),
            since,
            cursor: given(&self.cursor),
            oldest_first: false,
            limit: PAGE + 1,
        })
    }

    fn form(&self, scope: &Scope) -> Markup {
        html! {
            form.filters #event-filters method="get" action="/console/events" {
                label { "Status " select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES { option value=(s) selected[self.status == s] { (s) } }
                } }
                label { "Type " input type="text" name="event_type" value=(self.event_type); }
                @if scope.profile.is_none() {
                    label { "Profile " input type="text" name="profile_id" value=(self.profile_id); }
                }
                label { "Endpoint " input type="text" name="endpoint_id" value=(self.endpoint_id); }
                label { "Published " select name="since" {
                    @for (value, label) in WINDOWS { option value=(value) selected[self.since == value] { (label) } }
                } }
                button type="submit" { "Filter" }
            }
        }
    }
}

async fn list(
    session: Session,
    State(app): State<AppState>,
    Query(filters): Query<Filters>,
) -> Page {
    let scope = session.scope()?;
    let mut events = app
        .store
        .list_events(&scope.account.id, &filters.filter(scope)?)
        .await?;
    let more = events.len() > PAGE as usize;
    events.truncate(PAGE as usize);
    let query = serde_urlencoded::to_string(&filters).expect("filters encode");
    let body = html! {
        (filters.form(scope))
        (event_table(&events))
        @if more { @if let Some(last) = events.last() {
            p { a #next-page href={ "/console/events?" (query) "&cursor=" (last.id) } { "Next page" } }
        } }
    };
    Ok(page(&session, "Events", body))
}

/// The event, if it is the account's and within the scope.
async fn scoped(app: &AppState, scope: &Scope, id: &str) -> Result<StoredEvent, ConsoleError> {
    app.store
        .event(&scope.account.id, id)
        .await?
        .filter(|e| scope.sees_profile(e.profile_id.as_deref()))
        .ok_or_else(|| missing(id))
}

fn missing(id: &str) -> ConsoleError {
    ApiError::not_found(ErrorCode::EventNotFound, format!("no event `{id}` here")).into()
}

async fn show(
    session: Session,
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Page {
    let scope = session.scope()?;
    let event = scoped(&app, scope, &id).await?;
    let payload = serde_json::from_str::<serde_json::Value>(event.payload.get())
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| event.payload.get().to_string());
    let body = html! {
        (notice(q.done.as_deref()))
        dl.facts {
            dt { "Type" } dd { (event.event_type) }
            dt { "Status" } dd #event-status { (badge(event.status.as_str())) }
            dt { "Profile" } dd { @if let Some(p) = &event.profile_id { (p) } }
            dt { "Occurred" } dd { (event.occurred_at) }
            dt { "Published" } dd { (time(event.created_at)) }
            @if let Some(k) = &event.ordering_key { dt { "Ordering key" } dd { (k) } }
        }
        @if !scope.read_only { (button(&session, &format!("/console/events/{id}/retry"), "Send again")) }
        h2 { "Payload" }
        pre #payload { (payload) }
        @if !event.attachments.is_empty() {
            h2 { "Files" }
            ul { @for f in &event.attachments { li { (f.filename) " (" (f.content_type) ", " (f.size) " bytes)" } } }
        }
        h2 { "Deliveries" }
        table #deliveries {
            thead { tr { th { "#" } th { "Endpoint" } th { "URL" } th { "Status" } th { "Attempts" } th { "Next attempt" } } }
            tbody { @for d in &event.deliveries { tr {
                td { (d.seq) }
                td { @if let Some(e) = d.endpoint_id() { a href={ "/console/endpoints/" (e) } { code { (e) } } } @else { "settings URL" } }
                td { @if let Some(t) = &d.target { (t.primary.masked()) } }
                td { (badge(d.status.as_str())) @if let Some(h) = &d.held { " " (badge("held")) " " (h) } @if let Some(r) = &d.reason { " " (r) } }
                td { (d.attempts_made) }
                td { @if let Some(at) = d.next_attempt_at { (time(at)) } }
            } } }
        }
        h2 { "Attempts" }
        (attempt_table(&event))
    };
    Ok(page(&session, &format!("Event {id}"), body))
}

fn attempt_table(event: &StoredEvent) -> Markup {
    html! {
        @if event.attempts.is_empty() { p.empty { "No attempt yet." } }
        @else {
            table #attempts {
                thead { tr { th { "Delivery" } th { "Attempt" } th { "URL" } th { "Started" } th { "Took" } th { "Outcome" } th { "Response (first KiB)" } } }
                tbody { @for a in &event.attempts { tr.attempt {
                    td { (a.seq) }
                    td { (a.attempt) " " (a.leg.as_str()) }
                    td { (a.url) }
                    td { (time(a.started_at)) }
                    td { (a.duration_ms) " ms" }
                    td {
                        @match a.error { None => (badge("ok")), Some(kind) => (badge(kind.as_str())) }
                        @if let Some(s) = a.http_status { " HTTP " (s) }
                        @if let Some(d) = &a.error_detail { br; small { (d) } }
                    }
                    td { @if let Some(r) = &a.response { pre.response { (r) } } }
                } } }
            }
        }
    }
}

async fn retry(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted(session, NoFields {}): Posted<NoFields>,
) -> Page {
    let scope = session.writable()?;
    scoped(&app, scope, &id).await?;
    let done = match app.retry(&scope.account, &id).await? {
        Retried::Pending => "retried",
        Retried::Unchanged(_) => "unchanged",
        Retried::NotFound => return Err(missing(&id)),
    };
    Ok(Redirect::to(&format!("/console/events/{id}?done={done}")).into_response())
}
