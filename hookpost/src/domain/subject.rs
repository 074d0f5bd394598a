//! Erasure by subject: which events hold a person's data. A subject is a value
//! (a phone number, an e-mail address) at a path in the payload, such as
//! `payload.to` or, inside a list, `payload.to[].phone_number`. The match is
//! exact and pure, so both backends erase exactly the same events.

use super::validate::FieldError;
use serde_json::Value;

/// One step of a [`SubjectPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An object's member.
    Key(String),
    /// Every element of a list.
    Each,
}

/// A path into an event's payload: `payload`, then `.name` or `[]` steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectPath {
    text: String,
    steps: Vec<Step>,
}

/// [`SubjectPath::parse`]'s rule as a pattern (ECMA-262), for the API's schema.
pub const SUBJECT_PATH_PATTERN: &str = "^payload\\.[^.\\[\\]]+(\\.[^.\\[\\]]+|\\[\\])*$";

impl SubjectPath {
    /// Reads `payload.a.b`, `payload.a[].b`; anything else (another root, an
    /// index such as `[0]`, an empty name) is refused, so a typo cannot
    /// silently match nothing.
    pub fn parse(text: &str) -> Result<SubjectPath, String> {
        let form = "must look like `payload.to` or `payload.to[].phone_number`: `payload`, then `.name` or `[]` steps";
        let rest = text.strip_prefix("payload").ok_or(form)?;
        let mut steps = Vec::new();
        let mut rest = rest;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("[]") {
                steps.push(Step::Each);
                rest = after;
            } else if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() || name.contains(']') {
                    return Err(form.into());
                }
                steps.push(Step::Key(name.to_string()));
                rest = &after[end..];
            } else {
                return Err(form.into());
            }
        }
        if !matches!(steps.first(), Some(Step::Key(_))) {
            return Err(form.into());
        }
        Ok(SubjectPath {
            text: text.to_string(),
            steps,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `payload` holds `sought` at this path (at any element where
    /// the path goes through a list).
    pub fn holds(&self, payload: &Value, sought: &Value) -> bool {
        holds(&self.steps, payload, sought)
    }
}

fn holds(steps: &[Step], here: &Value, sought: &Value) -> bool {
    match steps.split_first() {
        None => here == sought,
        Some((Step::Key(name), rest)) => here.get(name).is_some_and(|v| holds(rest, v, sought)),
        Some((Step::Each, rest)) => here
            .as_array()
            .is_some_and(|items| items.iter().any(|v| holds(rest, v, sought))),
    }
}

/// Checks the value an erasure looks for: a non-empty string, a number or a
/// boolean (matching `null` or a whole object would erase far more than one
/// person's data).
pub fn check_value(value: &Value) -> Result<(), FieldError> {
    match value {
        Value::String(s) if s.is_empty() => Err(FieldError::new("value", "must not be empty")),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
        _ => Err(FieldError::new(
            "value",
            "must be a string, a number or a boolean",
        )),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_documented_pattern_says_what_parse_checks() {
        let pattern = super::SUBJECT_PATH_PATTERN;
        for path in [
            "payload.to",
            "payload.to[].phone_number",
            "payload.a.b[][]",
            "payload",
            "to",
            "payload[]",
            "payload.to[0]",
            "payload..to",
            "payload.to]",
            "payload.to[",
        ] {
            assert_eq!(
                crate::domain::validate::tests::matches(pattern, path),
                SubjectPath::parse(path).is_ok(),
                "{path:?}"
            );
        }
    }
    use super::*;
    use serde_json::json;

    #[test]
    fn a_member_path_matches_its_value_only() {
        let path = SubjectPath::parse("payload.to").unwrap();
        let phone = json!("+13125550000");
        assert!(path.holds(&json!({"to": "+13125550000"}), &phone));
        assert!(!path.holds(&json!({"to": "+13125550001"}), &phone));
        assert!(!path.holds(&json!({"from": "+13125550000"}), &phone));
        assert!(!path.holds(&json!({"to": ["+13125550000"]}), &phone));
    }

    #[test]
    fn a_list_step_matches_any_element() {
        let path = SubjectPath::parse("payload.to[].phone_number").unwrap();
        let phone = json!("+13125550000");
        let payload = json!({"to": [{"phone_number": "+1999"}, {"phone_number": "+13125550000"}]});
        assert!(path.holds(&payload, &phone));
        assert!(!path.holds(&json!({"to": [{"phone_number": "+1999"}]}), &phone));
        assert!(!path.holds(&json!({"to": {"phone_number": "+13125550000"}}), &phone));
        let nested = SubjectPath::parse("payload.pages[][]").unwrap();
        assert!(nested.holds(&json!({"pages": [[1, 2], [3]]}), &json!(3)));
        assert!(!nested.holds(&json!({"pages": [[1, 2], [3]]}), &json!("3")));
    }

    #[test]
    fn other_forms_are_refused() {
        for bad in [
            "",
            "to",
            "payload",
            "payload.",
            "payload..to",
            "payload.to[0]",
            "payload[]",
            "metadata.to",
            "payload.to]",
            "payloadx.to",
        ] {
            assert!(SubjectPath::parse(bad).is_err(), "{bad:?} was read");
        }
        assert_eq!(
            SubjectPath::parse("payload.a.b").unwrap().as_str(),
            "payload.a.b"
        );
    }

    #[test]
    fn an_empty_or_compound_value_is_refused() {
        assert!(check_value(&json!("x")).is_ok());
        assert!(check_value(&json!(7)).is_ok());
        for bad in [json!(""), json!(null), json!({}), json!([1])] {
            assert_eq!(check_value(&bad).unwrap_err().field, "value");
        }
    }
}
