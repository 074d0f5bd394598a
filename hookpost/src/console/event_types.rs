//! Event types in the console: the account's registered types with their
//! category and schema, and the built-in catalogs to load.

use super::layout::{badge, csrf, notice, page, Done};
use super::session::{Posted, Session};
use super::Page;
use crate::api::AppState;
use crate::domain::event_type::Catalog;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use serde::Deserialize;

/// Routes of event types.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/event-types", get(list))
        .route("/console/event-types/catalog", post(load))
}

async fn list(session: Session, State(app): State<AppState>, Query(q): Query<Done>) -> Page {
    let scope = session.scope()?;
    let types = app.store.list_event_types(&scope.account.id).await?;
    let body = html! {
        (notice(q.done.as_deref()))
        @if types.is_empty() { p.empty { "No event types registered: every type is postflight and takes any payload." } }
        @else {
            table #event-types {
                thead { tr { th { "Type" } th { "Category" } th { "Description" } th { "Schema" } th { "Versions" } } }
                tbody { @for t in &types { tr {
                    td { code { (t.name) } }
                    td { (badge(t.category.as_str())) }
                    td { @if let Some(d) = &t.description { (d) } }
                    td { @if t.schema.is_some() { "yes" } @else { "no" } }
                    td { (t.versions.keys().cloned().collect::<Vec<_>>().join(", ")) }
                } } }
            }
        }
        @if scope.manages_account() {
            form.card #load-catalog method="post" action="/console/event-types/catalog" {
                (csrf(&session))
                label for="catalog" { "Load a catalog of ready event types" }
                select #catalog name="catalog" {
                    option value="telnyx" { "Telnyx style: every status postflight" }
                    option value="phaxio" { "Phaxio style: completion postflight, page progress inflight" }
                }
                button type="submit" { "Load catalog" }
            }
        }
    };
    Ok(page(&session, "Event types", body))
}

#[derive(Deserialize)]
struct CatalogForm {
    catalog: Catalog,
}

async fn load(State(app): State<AppState>, Posted(session, form): Posted<CatalogForm>) -> Page {
    let scope = session.manager()?;
    app.load_catalog(&scope.account, form.catalog).await?;
    Ok(Redirect::to("/console/event-types?done=loaded").into_response())
}
