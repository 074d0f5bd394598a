//! `/console`: an account's overview (its endpoints and latest failures), or
//! the operator's (accounts, the queue, endpoints in trouble, failures across
//! accounts, and this node's plots).

use super::endpoints::endpoint_table;
use super::layout::{badge, page, time};
use super::plot;
use super::session::{Scope, Session, Viewer};
use super::Page;
use crate::api::AppState;
use crate::domain::overview::RecentFailure;
use axum::extract::State;
use chrono::{TimeDelta, Utc};
use maud::{html, Markup};

/// Most rows of each table.
const ROWS: u32 = 50;

/// The overview of whoever is signed in.
pub async fn show(session: Session, State(app): State<AppState>) -> Page {
    match &session.viewer {
        Viewer::Account(scope) => account(&session, scope, &app).await,
        Viewer::Operator => operator(&session, &app).await,
    }
}

async fn account(session: &Session, scope: &Scope, app: &AppState) -> Page {
    let id = &scope.account.id;
    let endpoints = app
        .store
        .list_endpoints(id, scope.profile.as_deref(), None, ROWS)
        .await?;
    // Failures carry no profile: a profile's portal shows them per endpoint.
    let failures = match scope.profile {
        None => Some(
            app.store
                .recent_failures(Some(id), Utc::now() - TimeDelta::days(1), ROWS)
                .await?,
        ),
        Some(_) => None,
    };
    let body = html! {
        section {
            h2 { "Endpoints" }
            (endpoint_table(&endpoints, false))
            p { a href="/console/endpoints" { "All endpoints" } " · " a href="/console/events" { "Event log" } }
        }
        @if let Some(failures) = failures {
            section { h2 { "Failed requests, last 24 hours" } (failure_table(&failures, false)) }
        }
    };
    Ok(page(session, &scope.account.name, body))
}

async fn operator(session: &Session, app: &AppState) -> Page {
    let now = Utc::now();
    let queue = app.store.queue_depth(now).await?;
    let tally = app.store.endpoint_tally().await?;
    let accounts = app.store.list_accounts(None, ROWS).await?;
    let troubled = app.store.troubled_endpoints(ROWS).await?;
    let failures = app
        .store
        .recent_failures(None, now - TimeDelta::days(1), ROWS)
        .await?;
    let series = app.metrics.recent_requests(now);
    let body = html! {
        section.stats {
            dl {
                div { dt { "Due now" } dd #queue-due { (queue.due) } }
                div { dt { "Scheduled" } dd #queue-scheduled { (queue.scheduled) } }
                div { dt { "Waiting in a lane" } dd { (queue.waiting) } }
                div { dt { "Oldest due" } dd #oldest-due { (queue.oldest_due_age.as_secs()) " s" } }
                div { dt { "Endpoints enabled" } dd { (tally.enabled) } }
                div { dt { "Breaker open" } dd { (tally.breaker_open) } }
                div { dt { "Disabled" } dd { (tally.disabled) } }
            }
        }
        section {
            h2 { "This node" }
            (plot::requests(&series, "this node"))
            (plot::latency(&series, "this node"))
        }
        section {
            h2 { "Endpoints that need a look" }
            (endpoint_table(&troubled, true))
        }
        section {
            h2 { "Failed requests, last 24 hours" }
            (failure_table(&failures, true))
        }
        section {
            h2 { "Accounts" }
            table #accounts {
                thead { tr { th { "Id" } th { "Name" } th { "Created" } } }
                tbody {
                    @for a in &accounts {
                        tr { td { code { (a.id) } } td { (a.name) } td { (time(a.created_at)) } }
                    }
                }
            }
        }
    };
    Ok(page(session, "Operator", body))
}

/// Failed requests, newest first; with the account for the operator.
pub fn failure_table(failures: &[RecentFailure], with_account: bool) -> Markup {
    html! {
        @if failures.is_empty() { p.empty { "No failed requests." } }
        @else {
            table.failures {
                thead { tr {
                    @if with_account { th { "Account" } }
                    th { "When" } th { "Event" } th { "Endpoint" } th { "Attempt" } th { "URL" } th { "Status" } th { "Error" }
                } }
                tbody {
                    @for f in failures {
                        tr {
                            @if with_account { td { code { (f.account_id) } } }
                            td { (time(f.started_at)) }
                            td {
                                @if with_account { code { (f.event_id) } }
                                @else { a href={ "/console/events/" (f.event_id) } { code { (f.event_id) } } }
                            }
                            td { @if let Some(e) = &f.endpoint_id { code { (e) } } }
                            td { (f.attempt) " " (f.leg) }
                            td { (f.url) }
                            td { @if let Some(s) = f.http_status { (s) } }
                            td { (badge(&f.error)) }
                        }
                    }
                }
            }
        }
    }
}
