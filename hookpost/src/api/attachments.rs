//! Downloads of attachments through the signed links JSON deliveries carry:
//! no API key, the link's signature and expiry are the permission. Streams
//! the file from storage a chunk at a time, and serves one byte range.

use super::error::{ApiError, ErrorCode};
use super::openapi::Binary;
use super::parse::{PathParam, QueryParams};
use super::AppState;
use crate::delivery::files::FileReader;
use crate::delivery::links;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/attachments/{event_id}/{position}", get(download))
}

/// The permission a download link carries.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LinkQuery {
    /// When the link stops working, in Unix seconds.
    expires: i64,
    /// The link's signature over the event, the file and `expires`.
    signature: String,
}

/// The documented operations of this resource.
#[derive(utoipa::OpenApi)]
#[openapi(paths(download))]
pub(super) struct Api;

/// A file of an event, as linked from JSON deliveries (no API key: the link's
/// signature is the permission); one `Range: bytes=…` is served.
#[utoipa::path(
    get,
    path = "/v1/attachments/{event_id}/{position}",
    operation_id = "download_attachment",
    tag = "attachments",
    params(
        ("event_id" = String, Path, description = "The event."),
        ("position" = u32, Path, description = "The file's place among the event's files, from 0."),
        LinkQuery,
        ("Range" = Option<String>, Header, nullable = false, description = "One range, `bytes=a-b`, `bytes=a-` or `bytes=-n`; others are ignored."),
    ),
    responses(
        (status = 200, description = "The whole file, its `Content-Type` as published.", content_type = "*/*", body = Binary,
            headers(("ETag" = String, description = "The file's SHA-256, quoted."), ("Accept-Ranges" = String))),
        (status = 206, description = "The range asked for.", content_type = "*/*", body = Binary,
            headers(("Content-Range" = String, description = "`bytes a-b/size`."))),
        (status = 403, description = "`link_refused`: the link expired or was altered.", body = super::error::ErrorBody),
        (status = 404, description = "`attachment_not_found`: the event was deleted.", body = super::error::ErrorBody),
        (status = 416, description = "The range starts past the end.",
            headers(("Content-Range" = String, description = "`bytes */size`."))),
    ),
)]
async fn download(
    State(app): State<AppState>,
    PathParam((event_id, position)): PathParam<(String, u32)>,
    QueryParams(link): QueryParams<LinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    links::check(
        &event_id,
        position,
        link.expires,
        &link.signature,
        chrono::Utc::now(),
    )
    .map_err(|refusal| ApiError::forbidden(ErrorCode::LinkRefused, refusal.to_string()))?;
    let gone = || {
        ApiError::not_found(
            ErrorCode::AttachmentNotFound,
            "this attachment no longer exists (its event was deleted)",
        )
    };
    let files = app
        .store
        .event_attachments(&event_id)
        .await?
        .ok_or_else(gone)?;
    let file = files.files.get(position as usize).ok_or_else(gone)?.clone();
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(text) => match byte_range(text, file.size) {
            RangeAsked::One(range) => Some(range),
            RangeAsked::Whole => None,
            RangeAsked::Unsatisfiable => return Ok(unsatisfiable(file.size)),
        },
    };
    let span = range.clone().unwrap_or(0..file.size);
    let reader = FileReader::new(app.store.clone());
    let body = Body::from_stream(reader.range(event_id, position, span.clone()));
    let mut response = Response::new(body);
    *response.status_mut() = match range {
        Some(_) => StatusCode::PARTIAL_CONTENT,
        None => StatusCode::OK,
    };
    let h = response.headers_mut();
    let value = |text: String| HeaderValue::from_str(&text).map_err(|_| ApiError::Internal);
    h.insert(header::CONTENT_TYPE, value(file.content_type.clone())?);
    h.insert(
        header::CONTENT_LENGTH,
        value((span.end - span.start).to_string())?,
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, value(format!("\"{}\"", file.sha256))?);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        value(format!("attachment; filename=\"{}\"", file.filename))?,
    );
    if range.is_some() {
        h.insert(
            header::CONTENT_RANGE,
            value(format!(
                "bytes {}-{}/{}",
                span.start,
                span.end - 1,
                file.size
            ))?,
        );
    }
    Ok(response)
}

fn unsatisfiable(size: u64) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    response
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsked {
    /// One range (end exclusive).
    One(std::ops::Range<u64>),
    /// The whole file: a header this server does not serve in part (several
    /// ranges, another unit, a malformed one), which RFC 9110 lets it ignore.
    Whole,
    /// A range that starts past the end.
    Unsatisfiable,
}

/// Reads `bytes=a-b`, `bytes=a-` and `bytes=-n` (RFC 9110 §14.1.2).
fn byte_range(header: &str, size: u64) -> RangeAsked {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAsked::Whole;
    };
    if spec.contains(',') {
        return RangeAsked::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsked::Whole;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // The last n bytes.
        (true, _, Some(n)) if n > 0 && size > 0 => RangeAsked::One(size.saturating_sub(n)..size),
        (true, _, _) => RangeAsked::Unsatisfiable,
        (false, Some(start), _) if start >= size => RangeAsked::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => RangeAsked::One(start..size),
        (false, Some(start), Some(end)) if end >= start => {
            RangeAsked::One(start..end.saturating_add(1).min(size))
        }
        _ => RangeAsked::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_range_is_served_and_others_are_not() {
        assert_eq!(byte_range("bytes=0-9", 100), RangeAsked::One(0..10));
        assert_eq!(byte_range("bytes=90-", 100), RangeAsked::One(90..100));
        assert_eq!(byte_range("bytes=-5", 100), RangeAsked::One(95..100));
        assert_eq!(byte_range("bytes=-500", 100), RangeAsked::One(0..100));
        assert_eq!(byte_range("bytes=50-5000", 100), RangeAsked::One(50..100));
        assert_eq!(byte_range("bytes=100-", 100), RangeAsked::Unsatisfiable);
        assert_eq!(byte_range("bytes=-0", 100), RangeAsked::Unsatisfiable);
        assert_eq!(byte_range("bytes=0-1,5-6", 100), RangeAsked::Whole);
        assert_eq!(byte_range("items=0-1", 100), RangeAsked::Whole);
        assert_eq!(byte_range("bytes=9-3", 100), RangeAsked::Whole);
        assert_eq!(byte_range("bytes=x-3", 100), RangeAsked::Whole);
    }
}
