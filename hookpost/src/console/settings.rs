//! Webhook settings in the console: the account's and each profile's, edited
//! as the same JSON the API takes (so every setting is there and a refusal
//! names its field). URLs are shown with their password masked; a masked URL
//! sent back unchanged keeps the stored one, so editing another setting never
//! loses a password.

use super::layout::{csrf, notice, page, time, Done};
use super::session::{Posted, Scope, Session};
use super::{ConsoleError, Page};
use crate::api::parse::object_from_slice;
use crate::api::AppState;
use crate::domain::settings::WebhookSettings;
use crate::domain::validate;
use crate::domain::webhook_url::WebhookUrl;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

/// Profiles listed on the settings page.
const PROFILES: u32 = 100;

/// Routes of settings.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/settings", get(show).post(save_account))
        .route("/console/profiles", axum::routing::post(create_profile))
        .route(
            "/console/profiles/{id}",
            get(show_profile).post(save_profile),
        )
}

fn masked_json(settings: &WebhookSettings) -> String {
    serde_json::to_string_pretty(&settings.masked()).expect("settings serialize")
}

fn editor(session: &Session, action: &str, settings: &WebhookSettings, editable: bool) -> Markup {
    html! {
        form.card.settings method="post" action=(action) {
            (csrf(session))
            label for="settings" { "Settings (JSON: webhook_url, webhook_failover_url, format, signatures, retry_schedule, timeout, …)" }
            textarea #settings name="settings" rows="12" readonly[!editable] { (masked_json(settings)) }
            @if editable { button type="submit" { "Save settings" } }
        }
    }
}

async fn show(session: Session, State(app): State<AppState>, Query(q): Query<Done>) -> Page {
    let scope = session.scope()?;
    if let Some(profile) = &scope.profile {
        return Ok(
            Redirect::to(&format!("/console/profiles/{}", urlencode(profile))).into_response(),
        );
    }
    let profiles = app
        .store
        .list_profiles(&scope.account.id, None, PROFILES)
        .await?;
    let body = html! {
        (notice(q.done.as_deref()))
        section {
            h2 { "Account settings" }
            p { "The settings of events published without a profile, and the defaults of every profile." }
            (editor(&session, "/console/settings", &scope.account.settings, !scope.read_only))
        }
        section {
            h2 { "Profiles" }
            @if profiles.is_empty() { p.empty { "No profiles." } }
            @else {
                table #profiles {
                    thead { tr { th { "Profile" } th { "Webhook URL" } th { "Updated" } } }
                    tbody { @for p in &profiles { tr {
                        td { a href={ "/console/profiles/" (urlencode(&p.id)) } { (p.id) } }
                        td { @if let Some(u) = &p.settings.webhook_url { (u.masked()) } }
                        td { (time(p.updated_at)) }
                    } } }
                }
            }
            @if !scope.read_only {
                form.card #create-profile method="post" action="/console/profiles" {
                    (csrf(&session))
                    label for="profile-id" { "New profile id (a phone number, an application id, …)" }
                    input #profile-id type="text" name="id" required;
                    input type="hidden" name="settings" value="{}";
                    button type="submit" { "Add profile" }
                }
            }
        }
    };
    Ok(page(&session, "Settings", body))
}

fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn show_profile(
    session: Session,
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Page {
    let scope = session.scope()?;
    let settings = profile_settings(&app, scope, &id).await?;
    let action = format!("/console/profiles/{}", urlencode(&id));
    let body = html! {
        (notice(q.done.as_deref()))
        p { "Events published for this profile go to its endpoints and to its webhook URL; a setting left out comes from the account." }
        (editor(&session, &action, &settings, !scope.read_only))
        p { a href={ "/console/endpoints" } { "Endpoints" } " · " a href={ "/console/events?profile_id=" (urlencode(&id)) } { "Its events" } }
    };
    Ok(page(&session, &format!("Profile {id}"), body))
}

/// The profile's own settings, if it is within the scope.
async fn profile_settings(
    app: &AppState,
    scope: &Scope,
    id: &str,
) -> Result<WebhookSettings, ConsoleError> {
    if !scope.sees_profile(Some(id)) {
        return Err(ConsoleError::refused(
            "this portal link shows another profile",
        ));
    }
    Ok(app.profile_settings(&scope.account, id).await?)
}

#[derive(Deserialize)]
struct SettingsForm {
    settings: String,
    id: Option<String>,
}

/// The settings posted, with a masked URL sent back unchanged put back as stored.
fn posted(text: &str, current: &WebhookSettings) -> Result<WebhookSettings, ConsoleError> {
    let mut settings: WebhookSettings = object_from_slice(text.as_bytes())?;
    let keep = |new: &mut Option<WebhookUrl>, old: &Option<WebhookUrl>| {
        if let (Some(n), Some(o)) = (new.as_ref(), old.as_ref()) {
            if n.as_given() == o.masked() {
                *new = Some(o.clone());
            }
        }
    };
    keep(&mut settings.webhook_url, &current.webhook_url);
    keep(
        &mut settings.webhook_failover_url,
        &current.webhook_failover_url,
    );
    Ok(settings)
}

async fn save_account(
    State(app): State<AppState>,
    Posted(session, form): Posted<SettingsForm>,
) -> Page {
    let scope = session.manager()?;
    let settings = posted(&form.settings, &scope.account.settings)?;
    app.set_account_settings(&scope.account, &settings).await?;
    Ok(Redirect::to("/console/settings?done=saved").into_response())
}

async fn save_profile(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Posted(session, form): Posted<SettingsForm>,
) -> Page {
    let scope = session.writable()?;
    let current = profile_settings(&app, scope, &id).await?;
    let settings = posted(&form.settings, &current)?;
    app.put_profile(&scope.account, &id, &settings).await?;
    Ok(Redirect::to(&format!("/console/profiles/{}?done=saved", urlencode(&id))).into_response())
}

async fn create_profile(
    State(app): State<AppState>,
    Posted(session, form): Posted<SettingsForm>,
) -> Page {
    let scope = session.manager()?;
    let id = form.id.unwrap_or_default().trim().to_string();
    validate::profile_id(&id)?;
    let settings = posted(&form.settings, &WebhookSettings::default())?;
    app.put_profile(&scope.account, &id, &settings).await?;
    Ok(Redirect::to(&format!(
        "/console/profiles/{}?done=created",
        urlencode(&id)
    ))
    .into_response())
}
