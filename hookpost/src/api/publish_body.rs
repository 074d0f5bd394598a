//! The body of `POST /v1/events`: JSON (files, if any, in base64), or
//! `multipart/form-data` with an `event` part holding the same JSON and one
//! part per file, so a large file travels without base64.

use super::error::ApiError;
use super::parse::{object_from_slice, read_body};
use super::AppState;
use crate::app::publish::PublishRequest;
use crate::domain::attachment::new_attachment;
use crate::domain::validate::FieldError;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A publish request read from either shape.
pub struct PublishBody(pub PublishRequest);

/// A JSON publish body (one event or a batch): larger than
/// `--max-body-bytes` only by the base64 of its files.
pub struct JsonPublish<T>(pub T);

/// How much of a JSON publish body is files in base64.
pub trait CarriesFiles {
    /// Bytes of `content_base64` text.
    fn base64_bytes(&self) -> usize;
}

impl CarriesFiles for PublishRequest {
    fn base64_bytes(&self) -> usize {
        self.attachments
            .iter()
            .flatten()
            .filter_map(|f| f.content_base64.as_ref())
            .map(String::len)
            .sum()
    }
}

impl<T: DeserializeOwned + CarriesFiles> FromRequest<AppState> for JsonPublish<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        let request: T = object_from_slice(&bytes)?;
        let limit = state.config.max_body_bytes;
        if bytes.len().saturating_sub(request.base64_bytes()) > limit {
            return Err(ApiError::TooLarge(limit));
        }
        Ok(JsonPublish(request))
    }
}

impl FromRequest<AppState> for PublishBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let boundary = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
            .map(multer::parse_boundary);
        match boundary {
            None => JsonPublish::from_request(req, state)
                .await
                .map(|b| PublishBody(b.0)),
            Some(Err(e)) => Err(FieldError::new(
                "body",
                format!("is not valid multipart/form-data: {e}"),
            )
            .into()),
            Some(Ok(boundary)) => {
                let limit = super::body_limit(req.uri().path(), &state.config);
                let read = read_multipart(req, boundary, limit, state.config.max_body_bytes);
                tokio::time::timeout(state.config.body_read_timeout, read)
                    .await
                    .map_err(|_| ApiError::BodyTimeout)?
                    .map(PublishBody)
            }
        }
    }
}

/// Reads the `event` part and every file part, naming what is wrong.
async fn read_multipart(
    req: Request,
    boundary: String,
    limit: usize,
    event_limit: usize,
) -> Result<PublishRequest, ApiError> {
    let stream = req.into_body().into_data_stream();
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limit as u64));
    let mut parts = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut event: Option<Bytes> = None;
    let mut files = Vec::new();
    while let Some(part) = parts.next_field().await.map_err(|e| refusal(e, limit))? {
        let name = part.name().unwrap_or_default().to_string();
        let filename = part.file_name().map(str::to_string);
        // As sent: multer drops a type it cannot parse, which must be refused.
        let content_type = part
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let contents = part.bytes().await.map_err(|e| refusal(e, limit))?;
        match filename {
            None if name == "event" => event = Some(contents),
            None => {
                return Err(FieldError::new(
                    name,
                    "is not a field of a multipart publish: send the event as a JSON part named `event` and files as parts with a filename",
                )
                .into())
            }
            Some(filename) => {
                let field = format!("files[{}]", files.len());
                files.push(new_attachment(&field, name, filename, content_type, contents)?);
            }
        }
    }
    let event = event
        .ok_or_else(|| FieldError::new("event", "is required: a part holding the event as JSON"))?;
    if event.len() > event_limit {
        return Err(ApiError::TooLarge(event_limit));
    }
    // The `event` part is the publish request: its fields are named as in a
    // JSON publish.
    let mut request: PublishRequest = object_from_slice(&event)?;
    request.files = files;
    Ok(request)
}

fn refusal(e: multer::Error, limit: usize) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { .. } => ApiError::TooLarge(limit),
        other => {
            FieldError::new("body", format!("is not valid multipart/form-data: {other}")).into()
        }
    }
}
