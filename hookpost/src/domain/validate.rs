//! Checks on what callers send, each failing with the field it is about, so that
//! every refusal can say exactly what to fix.

use serde_json::value::RawValue;

/// Longest event type, profile id or idempotency key.
pub const MAX_NAME_LENGTH: usize = 128;
/// Longest idempotency key.
pub const MAX_IDEMPOTENCY_KEY_LENGTH: usize = 255;
/// Deepest JSON nesting accepted in a payload.
pub const MAX_JSON_DEPTH: usize = 32;
/// Longest `version` string; it travels in a header.
pub const MAX_VERSION_LENGTH: usize = 64;

/// A refusal that names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field, as a dotted path (`payloads.v2`, `events[3].event_type`).
    pub field: String,
    /// What is wrong, meant for the caller.
    pub message: String,
}

impl FieldError {
    /// A refusal of `field` with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same refusal, inside a list item (`events[3].` + field).
    pub fn within(self, prefix: &str) -> Self {
        FieldError {
            field: format!("{prefix}.{}", self.field),
            message: self.message,
        }
    }
}

/// [`event_type`]'s rule as a pattern (ECMA-262), for the API's schema.
pub const EVENT_TYPE_PATTERN: &str = "^[A-Za-z0-9._-]{1,128}$";
/// [`profile_id`]'s rule as a pattern (its bound is in bytes, the pattern's
/// in characters).
pub const PROFILE_ID_PATTERN: &str = "^[^/\\u0000-\\u001f\\u007f-\\u009f]{1,128}$";
/// [`version`]'s rule as a pattern.
pub const VERSION_PATTERN: &str = "^[!-~]{1,64}$";

/// Event types look like `fax.delivered`: letters, digits, `.`, `_`, `-`.
pub fn event_type(name: &str) -> Result<(), FieldError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LENGTH
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then_some(()).ok_or_else(|| {
        FieldError::new(
            "event_type",
            format!(
                "must be 1 to {MAX_NAME_LENGTH} characters of letters, digits, '.', '_' or '-'"
            ),
        )
    })
}

/// Profile ids are chosen by the caller (`+13125550000`, a UUID…): any printable
/// text without `/`, so that it fits in a URL path.
pub fn profile_id(id: &str) -> Result<(), FieldError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_NAME_LENGTH
        && id.chars().all(|c| !c.is_control() && c != '/');
    ok.then_some(()).ok_or_else(|| {
        FieldError::new(
            "profile_id",
            format!("must be 1 to {MAX_NAME_LENGTH} printable characters without '/'"),
        )
    })
}

/// Idempotency keys: printable text, bounded.
pub fn idempotency_key(key: &str) -> Result<(), FieldError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LENGTH
        && key.chars().all(|c| !c.is_control());
    ok.then_some(()).ok_or_else(|| {
        FieldError::new(
            "idempotency_key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters"),
        )
    })
}

/// Longest ordering key, in bytes.
pub const MAX_ORDERING_KEY_BYTES: usize = 256;

/// Ordering keys (a fax id, a message id): printable text of 1 to 256 bytes.
pub fn ordering_key(key: &str) -> Result<(), FieldError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_ORDERING_KEY_BYTES
        && key.chars().all(|c| !c.is_control());
    ok.then_some(()).ok_or_else(|| {
        FieldError::new(
            "ordering_key",
            format!("must be 1 to {MAX_ORDERING_KEY_BYTES} bytes of printable characters"),
        )
    })
}

/// `occurred_at` must be an RFC 3339 timestamp.
pub fn timestamp(field: &str, text: &str) -> Result<(), FieldError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|_| ())
        .map_err(|e| {
            FieldError::new(
                field,
                format!("must be an RFC 3339 timestamp like 2026-01-07T10:01:43.677850Z ({e})"),
            )
        })
}

/// A version name (`2025-01`): it travels in the `webhook-version` header, so
/// visible ASCII only, bounded.
pub fn version(field: &str, v: &str) -> Result<(), FieldError> {
    let ok =
        !v.is_empty() && v.len() <= MAX_VERSION_LENGTH && v.chars().all(|c| c.is_ascii_graphic());
    ok.then_some(()).ok_or_else(|| {
        FieldError::new(
            field,
            format!("must be 1 to {MAX_VERSION_LENGTH} visible ASCII characters"),
        )
    })
}

/// A payload must be a JSON object, nested no deeper than [`MAX_JSON_DEPTH`],
/// holding only values that survive a round trip (see [`round_trips`]).
pub fn json_object(field: &str, raw: &RawValue) -> Result<(), FieldError> {
    if !raw.get().trim_start().starts_with('{') {
        return Err(FieldError::new(field, "must be a JSON object"));
    }
    if json_depth(raw.get()) > MAX_JSON_DEPTH {
        return Err(FieldError::new(
            field,
            format!("is nested deeper than {MAX_JSON_DEPTH} levels"),
        ));
    }
    round_trips(raw.get()).map_err(|why| FieldError::new(field, why))
}

/// `payloads` maps version names to objects.
pub fn versioned_payloads(raw: &RawValue) -> Result<(), FieldError> {
    json_object("payloads", raw)?;
    let map: std::collections::BTreeMap<String, &RawValue> =
        serde_json::from_str(raw.get()).map_err(|e| FieldError::new("payloads", e.to_string()))?;
    for (name, payload) in map {
        version_key("payloads", &name)?;
        json_object(&format!("payloads.{name}"), payload)?;
    }
    Ok(())
}

/// A key of a map by version (`payloads`, an event type's `versions`) must be
/// a version name; the refusal names the map, since the key is not a field.
pub fn version_key(map: &str, name: &str) -> Result<(), FieldError> {
    version(map, name).map_err(|e| {
        FieldError::new(
            map,
            format!(
                "has a key {name:?} that is not a version name: it {}",
                e.message
            ),
        )
    })
}

/// Refuses JSON text that is well-formed but whose values cannot be read back
/// (a number out of range like `1e999`, a lone surrogate like `"\ud800"`): the
/// raw text is stored as given, and every reader would trip over it later.
pub fn round_trips(text: &str) -> Result<(), String> {
    serde_json::from_str::<Readable>(text)
        .map(|_| ())
        .map_err(|e| {
            let why = e.to_string();
            let why = why.rsplit_once(" at line ").map_or(why.as_str(), |(w, _)| w);
            format!("holds a value that cannot be read back ({why}): numbers must fit a 64-bit float and strings be valid Unicode")
        })
}

/// Visits every value of a JSON document, keeping nothing: parsing into it
/// performs every check a reader will (number range, string escapes).
struct Readable;

impl<'de> serde::Deserialize<'de> for Readable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ReadableVisitor)
    }
}

struct ReadableVisitor;

impl<'de> serde::de::Visitor<'de> for ReadableVisitor {
    type Value = Readable;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_str<E>(self, _: &str) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_unit<E>(self) -> Result<Readable, E> {
        Ok(Readable)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Readable, A::Error> {
        while seq.next_element::<Readable>()?.is_some() {}
        Ok(Readable)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Readable, A::Error> {
        while map.next_entry::<Readable, Readable>()?.is_some() {}
        Ok(Readable)
    }
}

/// Nesting depth of well-formed JSON text, counting brackets outside strings.
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    /// Whether `text` matches `pattern` as a JSON Schema validator reads it.
    pub(crate) fn matches(pattern: &str, text: &str) -> bool {
        let schema = serde_json::json!({"type": "string", "pattern": pattern});
        jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&serde_json::json!(text))
    }

    #[test]
    fn the_documented_patterns_say_what_the_rules_check() {
        let long = "a".repeat(129);
        for name in [
            "fax.delivered",
            "a_b-c.9",
            "",
            "fax delivered",
            "fax/x",
            "é",
            &long,
        ] {
            assert_eq!(
                matches(EVENT_TYPE_PATTERN, name),
                event_type(name).is_ok(),
                "{name:?}"
            );
        }
        for id in [
            "+13125550000",
            "a b",
            "é",
            "",
            "a/b",
            "a\u{7}b",
            "a\u{85}",
            &long,
        ] {
            assert_eq!(
                matches(PROFILE_ID_PATTERN, id),
                profile_id(id).is_ok(),
                "{id:?}"
            );
        }
        for v in ["v2", "2024-01-01", "", "v 2", "v\u{e9}", &"v".repeat(65)] {
            assert_eq!(
                matches(VERSION_PATTERN, v),
                version("v", v).is_ok(),
                "{v:?}"
            );
        }
    }

    #[test]
    fn event_types_are_dotted_names() {
        assert!(event_type("fax.delivered").is_ok());
        assert!(event_type("message.finalized_v2-x").is_ok());
        assert!(event_type("").is_err());
        assert!(event_type("fax delivered").is_err());
        assert!(event_type(&"a".repeat(MAX_NAME_LENGTH + 1)).is_err());
    }

    #[test]
    fn profile_ids_are_printable_without_slashes() {
        assert!(profile_id("+13125550000").is_ok());
        assert!(profile_id("a/b").is_err());
        assert!(profile_id("a\nb").is_err());
    }

    #[test]
    fn payloads_must_be_shallow_objects() {
        assert!(json_object("payload", &raw(r#"{"a":[1,{"b":"}}}}"}]}"#)).is_ok());
        assert!(json_object("payload", &raw("[1]")).is_err());
        assert!(json_object("payload", &raw("\"x\"")).is_err());
        let deep = format!(
            "{}{}",
            r#"{"a":"#.repeat(MAX_JSON_DEPTH + 1),
            "1".to_string() + &"}".repeat(MAX_JSON_DEPTH + 1)
        );
        assert_eq!(
            json_object("payload", &raw(&deep)).unwrap_err().field,
            "payload"
        );
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(r#"{"a":"[[[{{{\"]]"}"#), 1);
        assert_eq!(json_depth(r#"[[[]]]"#), 3);
    }

    #[test]
    fn versioned_payloads_name_the_bad_version() {
        assert!(versioned_payloads(&raw(r#"{"v2":{"a":1}}"#)).is_ok());
        assert_eq!(
            versioned_payloads(&raw(r#"{"v2":3}"#)).unwrap_err().field,
            "payloads.v2"
        );
    }

    #[test]
    fn values_that_cannot_be_read_back_are_refused() {
        assert!(json_object(
            "payload",
            &raw(r#"{"n": 1e308, "s": "\ud83d\ude00", "a": [-1.5, null, true]}"#)
        )
        .is_ok());
        for bad in [
            r#"{"n": 1e999}"#,
            r#"{"n": [-1e999]}"#,
            r#"{"s": "\ud800"}"#,
            r#"{"\udc00": 1}"#,
        ] {
            assert_eq!(
                json_object("payload", &raw(bad)).unwrap_err().field,
                "payload",
                "{bad}"
            );
        }
    }

    #[test]
    fn payload_versions_must_be_version_names() {
        assert_eq!(
            versioned_payloads(&raw(r#"{"": {}}"#)).unwrap_err().field,
            "payloads"
        );
        assert_eq!(
            versioned_payloads(&raw(r#"{"v\r\n": {}}"#))
                .unwrap_err()
                .field,
            "payloads"
        );
    }

    #[test]
    fn timestamps_must_be_rfc3339() {
        assert!(timestamp("occurred_at", "2026-01-07T10:01:43.677850Z").is_ok());
        assert!(timestamp("occurred_at", "2019-12-09T21:32:14.148+00:00").is_ok());
        assert!(timestamp("occurred_at", "yesterday").is_err());
    }
}
