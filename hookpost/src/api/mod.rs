//! The HTTP API (`/v1`, JSON, Bearer auth): one file per resource, each with its
//! own router, merged here. Handlers parse, call the application services or the
//! store, and map errors through [`error::ApiError`]; they hold no SQL.

mod accounts;
mod admin;
mod attachments;
mod auth;
pub mod connections;
mod egress;
mod endpoints;
pub mod error;
mod event_types;
mod events;
mod health;
mod jobs;
mod keys;
pub mod openapi;
pub mod parse;
mod portal_links;
mod profiles;
mod publish_body;
mod views;

use crate::app::App;
use crate::domain::validate::FieldError;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use error::{ApiError, ErrorCode};
use std::sync::Arc;

/// Shared state of every handler.
pub type AppState = Arc<App>;

/// The whole API.
pub fn router(app: AppState) -> Router {
    let body_limit = app.config.max_body_bytes;
    let publish_limit = publish_limit(&app.config);
    Router::new()
        .merge(accounts::router())
        .merge(admin::router())
        .merge(attachments::router())
        .merge(portal_links::router())
        .merge(profiles::router())
        .merge(events::router(publish_limit))
        .merge(event_types::router())
        .merge(health::router())
        .merge(egress::router())
        .merge(keys::router())
        .merge(endpoints::router())
        .merge(jobs::router())
        .merge(openapi::router())
        .fallback(|| async {
            ApiError::not_found(
                ErrorCode::RouteNotFound,
                "no such route; see the API reference in the README",
            )
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let limit = match is_publish(request.uri().path()) {
                    true => publish_limit,
                    false => body_limit,
                };
                async move { refuse_oversized(request, next, limit).await }
            },
        ))
        .with_state(app)
}

/// Refuses a body declared larger than the limit before reading any of it, so a
/// client that sent `Expect: 100-continue` gets `413` instead of `100 Continue`.
async fn refuse_oversized(
    request: axum::extract::Request,
    next: axum::middleware::Next,
    limit: usize,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match parse::declared_length(request.headers()) {
        Some(length) if length > limit as u64 => ApiError::TooLarge(limit).into_response(),
        _ => next.run(request).await,
    }
}

/// Publishes may carry files: their limit is the body limit plus the files'
/// (a third more, for base64) and room for the parts' headers.
fn publish_limit(config: &crate::config::ServeConfig) -> usize {
    let files = config.max_attachment_bytes.saturating_mul(4) / 3 + 64 * 1024;
    config
        .max_body_bytes
        .saturating_add(usize::try_from(files).unwrap_or(usize::MAX))
}

fn is_publish(path: &str) -> bool {
    matches!(path, "/v1/events" | "/v1/events/batch")
}

/// The largest body a request to `path` may carry.
pub fn body_limit(path: &str, config: &crate::config::ServeConfig) -> usize {
    match is_publish(path) {
        true => publish_limit(config),
        false => config.max_body_bytes,
    }
}

/// Only `/healthz`, for worker-only nodes.
pub fn health_router(app: AppState) -> Router {
    health::router().with_state(app)
}

/// Cuts a page fetched with one item more than `limit` back to `limit`, and
/// answers the cursor of the next page: `None` when the extra item did not come.
fn next_cursor<T>(items: &mut Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Option<String> {
    if items.len() <= limit as usize {
        return None;
    }
    items.truncate(limit as usize);
    items.last().map(cursor)
}

/// A page size from `limit`: default 50, at most `max`.
fn page_limit(limit: Option<u32>, max: u32) -> Result<u32, FieldError> {
    match limit.unwrap_or(50) {
        n if n == 0 || n > max => Err(FieldError::new(
            "limit",
            format!("must be between 1 and {max}"),
        )),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::next_cursor;

    #[test]
    fn the_cursor_comes_only_when_a_further_item_exists() {
        let mut exact = vec![3, 2, 1];
        assert_eq!(next_cursor(&mut exact, 3, |i| i.to_string()), None);
        assert_eq!(exact, [3, 2, 1]);
        let mut more = vec![4, 3, 2, 1];
        assert_eq!(
            next_cursor(&mut more, 3, |i| i.to_string()),
            Some("2".into())
        );
        assert_eq!(more, [4, 3, 2]);
    }
}
