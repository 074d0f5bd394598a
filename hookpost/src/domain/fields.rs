//! Reading JSON into typed values with refusals that name the field: serde's
//! `missing field`, `unknown field` and type errors become a [`FieldError`]
//! whose `field` is the dotted path to the culprit. The HTTP edge and the
//! application services both read JSON this way, so it lives here, below both.

use super::validate::FieldError;
use serde::de::DeserializeOwned;

/// Reads an already-parsed JSON value, naming the field at fault.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &strip_position(&e.into_inner().to_string()))
    })
}

/// Turns serde's message and path into a field error: `missing field `x`` and
/// `unknown field `x`` name `x` under the path.
pub fn field_error(path: &str, message: &str) -> FieldError {
    let base = if path == "." { "" } else { path };
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    // The path of an unknown field already ends with it; a missing one's does not.
    let missing = message.starts_with("missing field");
    let field = match (named, base) {
        // `{"": 1}`: an empty name cannot point at anything.
        (Some(""), "") => "body".to_string(),
        (Some(name), "") => name.to_string(),
        (Some(name), base) if missing => format!("{base}.{name}"),
        (None, "") => "body".to_string(),
        (_, base) => base.to_string(),
    };
    let message = match named {
        Some(_) if missing => "is required".to_string(),
        Some(_) if message.starts_with("duplicate field") => "is given more than once".to_string(),
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

/// serde_json's message without its ` at line L column C` suffix, which means
/// nothing to a caller who sent a body rather than a file.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_or_nameless_field_is_named_sensibly() {
        assert_eq!(field_error("", "duplicate field `limit`").field, "limit");
        assert_eq!(
            field_error("", "unknown field ``, expected `a`").field,
            "body"
        );
    }

    #[test]
    fn a_missing_field_is_named_under_its_parent() {
        let e = field_error("settings", "missing field `url`");
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("settings.url", "is required")
        );
    }
}
