//! Request bodies and query strings read into typed values, with refusals that
//! name the field: `missing field`, `unknown field` and type errors all become a
//! [`FieldError`] whose `field` is the dotted path to the culprit.

use super::error::ApiError;
use crate::api::AppState;
use crate::domain::validate::FieldError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON body of type `T`, refused with field-naming errors.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        from_slice(&bytes).map(JsonBody)
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
        from_slice(&bytes).map(OptionalJson)
    }
}

/// The raw body, within the configured size limit.
async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(state.config.max_body_bytes)
        } else {
            ApiError::InvalidJson(format!("could not read the request body: {rejection}"))
        }
    })
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

/// Parses JSON text: malformed JSON is `invalid_json` (400), JSON of the wrong
/// shape is a field error (422).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            ApiError::Field(field_error(&path, &strip_position(&inner.to_string())))
        } else {
            ApiError::InvalidJson(format!("the body is not valid JSON: {inner}"))
        }
    })?;
    de.end()
        .map_err(|e| ApiError::InvalidJson(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Reads an already-parsed JSON value, naming the field at fault.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &strip_position(&e.into_inner().to_string()))
    })
}

/// Turns serde's message and path into a field error: `missing field `x`` and
/// `unknown field `x`` name `x` under the path.
fn field_error(path: &str, message: &str) -> FieldError {
    let base = if path == "." { "" } else { path };
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    // The path of an unknown field already ends with it; a missing one's does not.
    let missing = message.starts_with("missing field");
    let field = match (named, base) {
        (Some(name), "") => name.to_string(),
        (Some(name), base) if missing => format!("{base}.{name}"),
        (None, "") => "body".to_string(),
        (_, base) => base.to_string(),
    };
    let message = match named {
        Some(_) if missing => "is required".to_string(),
        Some(_) => {
            message
                .split(", expected")
                .next()
                .unwrap_or(message)
                .to_string()
                + " (not a field of this request)"
        }
        None => message.to_string(),
    };
    FieldError::new(field, message)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
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
