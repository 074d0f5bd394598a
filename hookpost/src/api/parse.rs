//! Request bodies and query strings read into typed values, with refusals that
//! name the field: `missing field`, `unknown field` and type errors all become a
//! [`FieldError`] whose `field` is the dotted path to the culprit.

use super::error::{ApiError, ErrorCode};
use crate::api::AppState;
use crate::domain::fields::{field_error, strip_position};
use crate::domain::validate::FieldError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::time::Instant;

/// A JSON body of type `T`, refused with field-naming errors.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        object_from_slice(&bytes).map(JsonBody)
    }
}

/// An optional JSON body: none at all reads as `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        object_from_slice(&bytes).map(OptionalJson)
    }
}

/// Parses a body that must be a JSON object: serde would otherwise read a
/// struct from an array (`["x"]` as `{"name": "x"}`).
pub fn object_from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => from_slice(bytes),
        Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            Err(FieldError::new("body", "must be a JSON object").into())
        }
        Some(_) => from_slice(bytes),
    }
}

/// The raw body, within the configured size and time limits, if its
/// `Content-Type` is JSON (or absent: `curl -d` clients are common).
pub(super) async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    check_content_type(req.headers())?;
    let limit = super::body_limit(req.uri().path(), &state.config);
    let read = Bytes::from_request(req, state);
    let bytes = tokio::time::timeout(state.config.body_read_timeout, read)
        .await
        .map_err(|_| ApiError::BodyTimeout)?;
    bytes.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(limit)
        } else {
            ApiError::InvalidJson(format!("could not read the request body: {rejection}"))
        }
    })
}

/// `application/json` or `application/<something>+json`, any parameters.
fn check_content_type(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "the body must be JSON: send `Content-Type: application/json` (got `{}`)",
            value.to_str().unwrap_or("?")
        )))
    }
}

/// The `Content-Length` a request declares, if any.
pub fn declared_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A path segment of type `T`, refused as JSON (a segment that is not UTF-8,
/// such as `%FF`, cannot name anything hookpost stores).
pub struct PathParam<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParam(value))
            .map_err(|rejection| {
                ApiError::not_found(
                    ErrorCode::RouteNotFound,
                    format!("no such resource: {}", rejection.body_text()),
                )
            })
    }
}

/// A query string of type `T`, refused with field-naming errors.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(QueryParams)
            .map_err(|e| {
                let path = e.path().to_string();
                ApiError::Field(field_error(&path, &e.into_inner().to_string()))
            })
    }
}

/// When the request reached its handler, headers read but before the caller
/// is looked up or the body read (put it first among a handler's arguments):
/// the start of the publish-latency histogram.
pub struct Arrived(pub Instant);

impl<S: Send + Sync> FromRequestParts<S> for Arrived {
    type Rejection = Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Arrived(Instant::now()))
    }
}

/// Parses JSON text: malformed JSON is `invalid_json` (400), JSON of the wrong
/// shape is a field error (422). A body is read once as it is; only one that
/// fails is read again to name the culprit's path, so a good body does not pay
/// for tracking the path of each of its keys (a copy of every key).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).or_else(|_| refusal_of(bytes))
}

/// Why `bytes` do not read as a `T`, with the path of the culprit (`Ok` only
/// if they do after all).
fn refusal_of<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            ApiError::Field(field_error(&path, &strip_position(&inner.to_string())))
        } else if is_json(bytes) {
            // serde_json reports some type mismatches (`null` where an enum
            // goes) as syntax errors; the text is fine, so the field is wrong.
            ApiError::Field(field_error(&path, "has the wrong type for this field"))
        } else {
            ApiError::InvalidJson(format!("the body is not valid JSON: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::InvalidJson(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Whether `bytes` are one well-formed JSON document.
fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn field_of(body: &str) -> (String, String) {
        match from_slice::<Req>(body.as_bytes()).unwrap_err() {
            ApiError::Field(f) => (f.field, f.message),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn missing_unknown_and_ill_typed_fields_are_named() {
        assert_eq!(field_of("{}"), ("name".into(), "is required".into()));
        assert_eq!(field_of(r#"{"name":"a","nmae":1}"#).0, "nmae");
        assert_eq!(field_of(r#"{"name":5}"#).0, "name");
        assert_eq!(
            field_of(r#"{"name":"a","inner":{"count":"x"}}"#).0,
            "inner.count"
        );
        assert_eq!(field_of(r#"{"name":"a","inner":{}}"#).0, "inner.count");
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct WithEnum {
        kind: crate::domain::event::Category,
    }

    #[test]
    fn a_wrong_type_in_valid_json_names_its_field() {
        for body in [r#"{"kind": null}"#, r#"{"kind": 1}"#, r#"{"kind": ["x"]}"#] {
            match from_slice::<WithEnum>(body.as_bytes()) {
                Err(ApiError::Field(f)) => assert_eq!(f.field, "kind", "{body}"),
                other => panic!("{body}: expected a field error, got {other:?}"),
            }
        }
    }

    #[test]
    fn only_objects_make_bodies() {
        for body in [r#"["x"]"#, "[]", "3", r#""x""#, "null"] {
            match object_from_slice::<Req>(body.as_bytes()) {
                Err(ApiError::Field(f)) => assert_eq!(f.field, "body", "{body}"),
                other => panic!("{body}: expected a field error, got {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_json_is_not_a_field_error() {
        assert!(matches!(
            from_slice::<Req>(b"{\"name\":"),
            Err(ApiError::InvalidJson(_))
        ));
        assert!(matches!(
            from_slice::<Req>(b"{\"name\":\"a\"} x"),
            Err(ApiError::InvalidJson(_))
        ));
        assert!(matches!(
            from_slice::<Req>(b""),
            Err(ApiError::InvalidJson(_))
        ));
    }
}
