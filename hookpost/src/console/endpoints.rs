//! Endpoints in the console: the list with a form to create one, and each
//! endpoint's page (its settings, state, delivery control, recent outcomes
//! and plots) with its actions: edit, disable or enable, send a test event,
//! replay, delete. Forms become the API's JSON bodies, so they pass the same
//! checks and a refusal names the same field.

use super::layout::{badge, button, csrf, notice, page, time, Done};
use super::plot;
use super::session::{Posted, Scope, Session};
use super::{ConsoleError, Page};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::parse::object_from_slice;
use crate::api::AppState;
use crate::app::endpoints::{EndpointFields, ReplayRequest, TestRequest};
use crate::domain::endpoint::{Endpoint, EndpointState};
use crate::domain::series::MinuteSeries;
use crate::storage::EventFilter;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use chrono::{TimeDelta, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Endpoints on one page of the list.
const PAGE: u32 = 50;
/// Minutes an endpoint's plots cover.
const PLOT_MINUTES: usize = 60;

/// Routes of endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/endpoints", get(list).post(create))
        .route("/console/endpoints/{id}", get(show).post(edit))
        .route("/console/endpoints/{id}/{action}", post(act))
}

/// Endpoints as a table; with the account for the operator (who has no
/// account pages to link to).
pub fn endpoint_table(endpoints: &[Endpoint], with_account: bool) -> Markup {
    html! {
        @if endpoints.is_empty() { p.empty { "No endpoints." } }
        @else {
            table.endpoints {
                thead { tr {
                    @if with_account { th { "Account" } }
                    th { "Endpoint" } th { "URL" } th { "Profile" } th { "Event types" } th { "State" }
                } }
                tbody {
                    @for e in endpoints {
                        tr {
                            @if with_account { td { code { (e.account_id) } } }
                            td {
                                @if with_account { code { (e.id) } }
                                @else { a href={ "/console/endpoints/" (e.id) } { code { (e.id) } } }
                                @if let Some(d) = &e.spec.description { br; small { (d) } }
                            }
                            td { (e.spec.url.masked()) }
                            td { @if let Some(p) = &e.spec.profile_id { (p) } }
                            td { (patterns(e)) }
                            td {
                                (badge(e.state.as_str()))
                                @if e.control.breaker.is_some() { " " (badge("open")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The endpoint's subscriptions as the forms write them; empty for every type.
fn type_list(e: &Endpoint) -> String {
    let types: Vec<_> = e.spec.event_types.iter().map(ToString::to_string).collect();
    types.join(", ")
}

fn patterns(e: &Endpoint) -> String {
    match e.spec.event_types.is_empty() {
        true => "every type".into(),
        false => type_list(e),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    done: Option<String>,
}

async fn list(session: Session, State(app): State<AppState>, Query(q): Query<ListQuery>) -> Page {
    let scope = session.scope()?;
    let mut endpoints = app
        .store
        .list_endpoints(
            &scope.account.id,
            scope.profile.as_deref(),
            q.cursor.as_deref(),
            PAGE + 1,
        )
        .await?;
    let more = endpoints.len() > PAGE as usize;
    endpoints.truncate(PAGE as usize);
    let body = html! {
        (notice(q.done.as_deref()))
        (endpoint_table(&endpoints, false))
        @if more { @if let Some(last) = endpoints.last() {
            p { a href={ "/console/endpoints?cursor=" (last.id) } { "Next page" } }
        } }
        @if !scope.read_only { (create_form(&session, scope)) }
    };
    Ok(page(&session, "Endpoints", body))
}

fn create_form(session: &Session, scope: &Scope) -> Markup {
    html! {
        section {
            h2 { "New endpoint" }
            form.card #create-endpoint method="post" action="/console/endpoints" {
                (csrf(session))
                label for="url" { "URL" }
                input #url type="url" name="url" required placeholder="https://example.com/webhooks";
                label for="failover_url" { "Failover URL (optional)" }
                input #failover_url type="url" name="failover_url";
                @if scope.profile.is_none() {
                    label for="profile_id" { "Profile (optional: the account's events when empty)" }
                    input #profile_id type="text" name="profile_id";
                }
                label for="event_types" { "Event types (comma-separated, fax.* for a prefix; empty: every type)" }
                input #event_types type="text" name="event_types";
                label for="description" { "Description" }
                input #description type="text" name="description";
                button type="submit" { "Create endpoint" }
            }
        }
    }
}

/// The fields of the create and edit forms.
#[derive(Deserialize)]
struct EndpointForm {
    url: String,
    #[serde(default)]
    failover_url: String,
    profile_id: Option<String>,
    #[serde(default)]
    event_types: String,
    #[serde(default)]
    description: String,
}

impl EndpointForm {
    /// The API's body for these fields: an empty optional field is `null`
    /// (cleared on an edit); `profile` is the scope's, or the form's.
    fn fields(self, profile: Option<Option<String>>) -> Result<EndpointFields, ApiError> {
        let optional = |text: String| match text.trim() {
            "" => Value::Null,
            text => Value::String(text.to_string()),
        };
        let types: Vec<&str> = self
            .event_types
            .split([',', ' '])
            .filter(|t| !t.is_empty())
            .collect();
        let mut fields = Map::new();
        fields.insert("url".into(), Value::String(self.url.trim().to_string()));
        fields.insert("failover_url".into(), optional(self.failover_url));
        fields.insert("event_types".into(), json!(types));
        fields.insert("description".into(), optional(self.description));
        if let Some(profile) = profile {
            fields.insert(
                "profile_id".into(),
                profile.map_or(Value::Null, Value::String),
            );
        }
        body(Value::Object(fields))
    }
}

async fn create(State(app): State<AppState>, Posted(session, form): Posted<EndpointForm>) -> Page {
    let scope = session.writable()?;
    let profile = match &scope.profile {
        Some(scoped) => Some(scoped.clone()),
        None => form.profile_id.clone().filter(|p| !p.trim().is_empty()),
    };
    let endpoint = app
        .create_endpoint(&scope.account, form.fields(Some(profile))?)
        .await?;
    Ok(Redirect::to(&format!("/console/endpoints/{}?done=created", endpoint.id)).into_response())
}

/// The endpoint, if it is the account's and within the scope.
async fn scoped(app: &AppState, scope: &Scope, id: &str) -> Result<Endpoint, ConsoleError> {
    app.store
        .endpoint(&scope.account.id, id)
        .await?
        .filter(|e| scope.sees_endpoint(e))
        .ok_or_else(|| {
            ApiError::not_found(
                ErrorCode::EndpointNotFound,
                format!("no endpoint `{id}` here"),
            )
            .into()
        })
}

async fn show(
    session: Session,
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Page {
    let scope = session.scope()?;
    let endpoint = scoped(&app, scope, &id).await?;
    let now = Utc::now();
    let stats = app
        .store
        .endpoint_stats(&scope.account.id, &id, now)
        .await?
        .unwrap_or_default();
    let since = now - TimeDelta::minutes(PLOT_MINUTES as i64);
    let points = app
        .store
        .endpoint_requests(&scope.account.id, &id, now - TimeDelta::days(1), since)
        .await?;
    let series = MinuteSeries::of(&points, now, PLOT_MINUTES);
    let filter = EventFilter {
        endpoint_id: Some(id.clone()),
        limit: 10,
        ..EventFilter::default()
    };
    let events = app.store.list_events(&scope.account.id, &filter).await?;
    let body = html! {
        (notice(q.done.as_deref()))
        (facts(&endpoint))
        section {
            h2 { "Recent outcomes" }
            table.stats {
                thead { tr { th {} th { "Pending" } th { "Delivered" } th { "Failed" } } }
                tbody {
                    @for (label, c) in [("Last hour", &stats.last_hour), ("Last day", &stats.last_day)] {
                        tr { th { (label) } td { (c.pending) } td { (c.delivered) } td { (c.failed) } }
                    }
                }
            }
            p {
                "Last success: " (stats.last_success_at.map(time).unwrap_or_else(|| "never".into()))
                " · last failure: " (stats.last_failure_at.map(time).unwrap_or_else(|| "never".into()))
            }
            (plot::requests(&series, "this endpoint"))
            (plot::latency(&series, "this endpoint"))
        }
        section {
            h2 { "Latest events" }
            (super::events::event_table(&events))
            p { a href={ "/console/events?endpoint_id=" (id) } { "All its events" } }
        }
        @if !scope.read_only { (actions(&session, &endpoint)) }
    };
    Ok(page(&session, &format!("Endpoint {id}"), body))
}

fn facts(e: &Endpoint) -> Markup {
    html! {
        dl.facts {
            dt { "URL" } dd #endpoint-url { (e.spec.url.masked()) }
            dt { "Failover URL" } dd { @if let Some(u) = &e.spec.failover_url { (u.masked()) } @else { "none" } }
            dt { "Profile" } dd { @if let Some(p) = &e.spec.profile_id { (p) } @else { "the account's events" } }
            dt { "Event types" } dd #endpoint-types { (patterns(e)) }
            dt { "Description" } dd { @if let Some(d) = &e.spec.description { (d) } }
            dt { "State" } dd #endpoint-state { (badge(e.state.as_str())) }
            dt { "Circuit breaker" } dd {
                @match &e.control.breaker {
                    Some(b) => { (badge("open")) " since " (time(b.opened_at)) ", next probe " (time(b.probe_at)) }
                    None => { (badge("closed")) }
                }
            }
            dt { "Failures in a row" } dd { (e.control.failure_streak) }
            @if let Some(until) = e.control.paused_until { dt { "Paused until" } dd { (time(until)) } }
            @if let Some(n) = e.control.allowed_in_flight { dt { "Concurrency allowed now" } dd { (n) } }
            dt { "Created" } dd { (time(e.created_at)) }
        }
    }
}

fn actions(session: &Session, e: &Endpoint) -> Markup {
    let base = format!("/console/endpoints/{}", e.id);
    let types = type_list(e);
    html! {
        section.actions {
            h2 { "Actions" }
            @match e.state {
                EndpointState::Enabled => (button(session, &format!("{base}/disable"), "Disable")),
                EndpointState::Disabled => (button(session, &format!("{base}/enable"), "Enable")),
            }
            form.inline #test-endpoint method="post" action={ (base) "/test" } {
                (csrf(session))
                input type="text" name="event_type" placeholder="event type (optional)" aria-label="Test event type";
                button type="submit" { "Send a test event" }
            }
            form.inline #replay-endpoint method="post" action={ (base) "/replay" } {
                (csrf(session))
                select name="since" aria-label="Replay events since" {
                    option value="1h" { "last hour" }
                    option value="24h" selected { "last day" }
                    option value="7d" { "last week" }
                }
                button type="submit" { "Replay past events" }
            }
            (button(session, &format!("{base}/delete"), "Delete"))
        }
        section {
            h2 { "Edit" }
            form.card #edit-endpoint method="post" action=(base) {
                (csrf(session))
                label for="url" { "URL" }
                input #url type="url" name="url" required value=(e.spec.url.as_given());
                label for="failover_url" { "Failover URL" }
                input #failover_url type="url" name="failover_url" value=(e.spec.failover_url.as_ref().map(|u| u.as_given()).unwrap_or(""));
                label for="event_types" { "Event types" }
                input #event_types type="text" name="event_types" value=(types);
                label for="description" { "Description" }
                input #description type="text" name="description" value=(e.spec.description.as_deref().unwrap_or(""));
                button type="submit" { "Save" }
            }
        }
    }
}

async fn edit(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted(session, form): Posted<EndpointForm>,
) -> Page {
    let scope = session.writable()?;
    scoped(&app, scope, &id).await?;
    app.update_endpoint(&scope.account, &id, form.fields(None)?)
        .await?;
    Ok(Redirect::to(&format!("/console/endpoints/{id}?done=saved")).into_response())
}

/// The fields any action form may carry.
#[derive(Deserialize)]
struct ActionForm {
    event_type: Option<String>,
    since: Option<String>,
}

async fn act(
    State(app): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    Posted(session, form): Posted<ActionForm>,
) -> Page {
    let scope = session.writable()?;
    scoped(&app, scope, &id).await?;
    let account = &scope.account;
    let done = match action.as_str() {
        "disable" => {
            app.set_endpoint_state(account, &id, EndpointState::Disabled)
                .await?;
            "disabled"
        }
        "enable" => {
            app.set_endpoint_state(account, &id, EndpointState::Enabled)
                .await?;
            "enabled"
        }
        "test" => {
            let event_type = form.event_type.filter(|t| !t.trim().is_empty());
            let request: TestRequest = body(json!({ "event_type": event_type }))?;
            app.test_endpoint(account, &id, request).await?;
            "tested"
        }
        "replay" => {
            let window = crate::domain::duration::HumanDuration::parse(
                form.since.as_deref().unwrap_or("24h"),
            )
            .map_err(|e| ConsoleError::bad_form(format!("since: {e}")))?;
            let since =
                Utc::now() - chrono::Duration::from_std(window.0).unwrap_or(TimeDelta::days(1));
            let request: ReplayRequest = body(json!({ "since": since.to_rfc3339() }))?;
            app.start_replay(account, &id, request).await?;
            "replaying"
        }
        "delete" => {
            app.delete_endpoint(account, &id).await?;
            return Ok(Redirect::to("/console/endpoints?done=deleted").into_response());
        }
        _ => return Err(ConsoleError::bad_form(format!("no action `{action}`"))),
    };
    Ok(Redirect::to(&format!("/console/endpoints/{id}?done={done}")).into_response())
}

/// An API request body from JSON, through the API's own parsing.
fn body<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    object_from_slice(&serde_json::to_vec(&value).expect("JSON serializes"))
}
