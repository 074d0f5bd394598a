//! The body of a delivery, built once per request so that every signature covers
//! the very bytes that are sent: the JSON envelope of the spec, or the same facts
//! as `multipart/form-data` fields (the fax-provider style), with one file part
//! per attachment. A file's contents are not in the body built here: [`Body`]
//! says where each goes, and the sender streams it from storage.

use super::links::AttachmentLinks;
use crate::domain::attachment::Attachment;
use crate::domain::settings::{FormFields, Format};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// What one event contributes to every request of an attempt.
pub struct EventContent<'a> {
    /// Event id (also `webhook-id`).
    pub id: &'a str,
    /// e.g. `fax.delivered`.
    pub event_type: &'a str,
    /// As published.
    pub occurred_at: &'a str,
    /// The payload for this target's version, byte for byte as published.
    pub payload: &'a RawValue,
    /// The event's files.
    pub attachments: &'a [Attachment],
}

/// How a body is laid out: the target's format and form fields, and the
/// links JSON bodies give to files.
pub struct Layout<'a> {
    /// JSON or form.
    pub format: Format,
    /// For forms: the envelope's fields or the payload's.
    pub form_fields: FormFields,
    /// Signs download links for JSON bodies; `None` lists files without one.
    pub links: Option<&'a AttachmentLinks>,
    /// When the request is made (links expire from then).
    pub now: DateTime<Utc>,
}

/// A request body ready to send and sign.
#[derive(Debug, Clone)]
pub struct Body {
    /// `content-type` header value.
    pub content_type: String,
    /// The bytes on the wire before the first file's contents (all of them
    /// when there is no file part).
    pub bytes: Vec<u8>,
    /// File parts, in order: each file's contents go next, then its `after`.
    pub files: Vec<FilePart>,
    /// For forms: the text fields, by name, as sent (signatures over fields
    /// use them).
    pub fields: Vec<(String, String)>,
}

/// One file part of a form body.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The attachment's position in its event.
    pub position: u32,
    /// The file.
    pub file: Attachment,
    /// The bytes after its contents, up to the next file's contents or the end.
    pub after: Vec<u8>,
}

impl Body {
    /// The length of the whole body on the wire.
    pub fn len(&self) -> u64 {
        let files: u64 = self
            .files
            .iter()
            .map(|f| f.file.size + f.after.len() as u64)
            .sum();
        self.bytes.len() as u64 + files
    }

    /// True for a body with no bytes at all (never, in practice: for clippy).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    data: Data<'a>,
    meta: Meta<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    record_type: &'static str,
    id: &'a str,
    event_type: &'a str,
    occurred_at: &'a str,
    payload: &'a RawValue,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<FileView<'a>>,
}

/// An attachment as a JSON body lists it.
#[derive(Serialize)]
struct FileView<'a> {
    name: &'a str,
    filename: &'a str,
    content_type: &'a str,
    size: u64,
    sha256: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct Meta<'a> {
    attempt: u32,
    delivered_to: &'a str,
}

/// The body of one request laid out as `layout` says.
pub fn body(
    layout: &Layout<'_>,
    event: &EventContent<'_>,
    attempt: u32,
    delivered_to: &str,
) -> Body {
    match layout.format {
        Format::Json => Body {
            content_type: "application/json".into(),
            bytes: json_body(layout, event, attempt, delivered_to),
            files: Vec::new(),
            fields: Vec::new(),
        },
        Format::Form => {
            let fields = match layout.form_fields {
                FormFields::Envelope => envelope_fields(event, attempt, delivered_to),
                FormFields::Payload => payload_fields(event),
            };
            form_body(fields, event.attachments)
        }
    }
}

/// `{"data": {...}, "meta": {"attempt": n, "delivered_to": url}}`.
pub fn json_body(
    layout: &Layout<'_>,
    event: &EventContent<'_>,
    attempt: u32,
    delivered_to: &str,
) -> Vec<u8> {
    let attachments = event
        .attachments
        .iter()
        .enumerate()
        .map(|(position, f)| FileView {
            name: &f.name,
            filename: &f.filename,
            content_type: &f.content_type,
            size: f.size,
            sha256: &f.sha256,
            url: layout
                .links
                .and_then(|links| links.url(event.id, position as u32, layout.now)),
        })
        .collect();
    let envelope = Envelope {
        data: Data {
            record_type: "event",
            id: event.id,
            event_type: event.event_type,
            occurred_at: event.occurred_at,
            payload: event.payload,
            attachments,
        },
        meta: Meta {
            attempt,
            delivered_to,
        },
    };
    serde_json::to_vec(&envelope).expect("serializing borrowed strings and raw JSON cannot fail")
}

/// `event_type`, `id`, `occurred_at`, `attempt`, `delivered_to` and `payload`
/// (the payload as a JSON string).
fn envelope_fields(
    event: &EventContent<'_>,
    attempt: u32,
    delivered_to: &str,
) -> Vec<(String, String)> {
    vec![
        ("event_type".into(), event.event_type.to_string()),
        ("id".into(), event.id.to_string()),
        ("occurred_at".into(), event.occurred_at.to_string()),
        ("attempt".into(), attempt.to_string()),
        ("delivered_to".into(), delivered_to.to_string()),
        ("payload".into(), event.payload.get().to_string()),
    ]
}

/// `event_type`, then the payload's top-level keys in name order: a string as
/// it is, `null` as an empty field, anything else as its JSON text. A payload
/// key named `event_type` gives way to the event's own.
fn payload_fields(event: &EventContent<'_>) -> Vec<(String, String)> {
    let keys: BTreeMap<String, &RawValue> =
        serde_json::from_str(event.payload.get()).unwrap_or_default();
    let mut fields = vec![("event_type".to_string(), event.event_type.to_string())];
    for (name, value) in keys {
        if name == "event_type" {
            continue;
        }
        let text = match value.get() {
            "null" => String::new(),
            json if json.starts_with('"') => {
                serde_json::from_str(json).unwrap_or_else(|_| json.to_string())
            }
            json => json.to_string(),
        };
        fields.push((name, text));
    }
    fields
}

/// `multipart/form-data` with one part per field, then one file part per
/// attachment.
fn form_body(fields: Vec<(String, String)>, files: &[Attachment]) -> Body {
    // A boundary of 128 random bits cannot occur in the values by chance;
    // the text fields are checked anyway (file contents are streamed, unseen).
    let mut boundary = format!("hookpost-{}", uuid::Uuid::new_v4().simple());
    while fields.iter().any(|(_, v)| v.contains(&boundary)) {
        boundary = format!("hookpost-{}", uuid::Uuid::new_v4().simple());
    }
    let mut bytes = Vec::new();
    for (name, value) in &fields {
        bytes.extend_from_slice(part_header(&boundary, name, None).as_bytes());
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    let closing = format!("--{boundary}--\r\n");
    let mut parts: Vec<FilePart> = Vec::with_capacity(files.len());
    for (position, file) in files.iter().enumerate() {
        let header = part_header(&boundary, &file.name, Some(file));
        match parts.last_mut() {
            Some(previous) => previous.after.extend_from_slice(header.as_bytes()),
            None => bytes.extend_from_slice(header.as_bytes()),
        }
        parts.push(FilePart {
            position: position as u32,
            file: file.clone(),
            after: b"\r\n".to_vec(),
        });
    }
    match parts.last_mut() {
        Some(last) => last.after.extend_from_slice(closing.as_bytes()),
        None => bytes.extend_from_slice(closing.as_bytes()),
    }
    Body {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        bytes,
        files: parts,
        fields,
    }
}

/// A part's boundary line and headers, up to the blank line before its
/// contents.
fn part_header(boundary: &str, name: &str, file: Option<&Attachment>) -> String {
    let name = quoted(name);
    match file {
        None => format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        Some(f) => format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            quoted(&f.filename),
            f.content_type
        ),
    }
}

/// A name inside a quoted header parameter, escaped as browsers do (HTML's
/// form encoding): `"` `%22`, CR `%0D`, LF `%0A`.
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content<'a>(payload: &'a RawValue, attachments: &'a [Attachment]) -> EventContent<'a> {
        EventContent {
            id: "e1",
            event_type: "fax.delivered",
            occurred_at: "2026-01-07T10:01:43Z",
            payload,
            attachments,
        }
    }

    fn layout(format: Format, form_fields: FormFields) -> Layout<'static> {
        Layout {
            format,
            form_fields,
            links: None,
            now: Utc::now(),
        }
    }

    fn pdf() -> Attachment {
        Attachment {
            name: "file".into(),
            filename: "fax.pdf".into(),
            content_type: "application/pdf".into(),
            size: 4,
            sha1: "s1".into(),
            sha256: "s256".into(),
        }
    }

    #[test]
    fn the_envelope_carries_the_payload_verbatim() {
        let payload = RawValue::from_string(r#"{"fax_id":"f1", "n": 1.50}"#.into()).unwrap();
        let json = layout(Format::Json, FormFields::Envelope);
        let body = json_body(&json, &content(&payload, &[]), 2, "https://x.example/h");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"data":{"record_type":"event","id":"e1","event_type":"fax.delivered","occurred_at":"2026-01-07T10:01:43Z","payload":{"fax_id":"f1", "n": 1.50}},"meta":{"attempt":2,"delivered_to":"https://x.example/h"}}"#
        );
    }

    #[test]
    fn a_json_body_lists_its_files() {
        let payload = RawValue::from_string("{}".into()).unwrap();
        let json = layout(Format::Json, FormFields::Envelope);
        let body = json_body(&json, &content(&payload, &[pdf()]), 1, "u");
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value["data"]["attachments"],
            serde_json::json!([{"name": "file", "filename": "fax.pdf", "content_type": "application/pdf", "size": 4, "sha256": "s256"}])
        );
    }

    #[test]
    fn a_form_has_one_part_per_field_and_a_closing_boundary() {
        let payload = RawValue::from_string(r#"{"a":"x\r\ny"}"#.into()).unwrap();
        let form = layout(Format::Form, FormFields::Envelope);
        let body = body(&form, &content(&payload, &[]), 1, "https://x.example/h");
        let boundary = body
            .content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8(body.bytes).unwrap();
        assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 6);
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert!(text.contains("name=\"payload\"\r\n\r\n{\"a\":\"x\\r\\ny\"}\r\n"));
        assert_eq!(body.fields.len(), 6);
    }

    #[test]
    fn files_go_between_the_fields_and_the_closing_boundary() {
        let payload = RawValue::from_string("{}".into()).unwrap();
        let form = layout(Format::Form, FormFields::Envelope);
        let mut cover = pdf();
        cover.name = "cover\"x".into();
        let body = body(&form, &content(&payload, &[pdf(), cover]), 1, "u");
        let boundary = body.content_type.rsplit('=').next().unwrap().to_string();
        // What the sender puts on the wire, with each file's contents in place.
        let mut wire = body.bytes.clone();
        for part in &body.files {
            wire.extend_from_slice(b"%PDF");
            wire.extend_from_slice(&part.after);
        }
        assert_eq!(wire.len() as u64, body.len());
        let text = String::from_utf8(wire).unwrap();
        assert!(text.contains(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fax.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--{boundary}\r\n"
        )));
        assert!(text.contains("name=\"cover%22x\"; filename"));
        assert!(text.ends_with(&format!("%PDF\r\n--{boundary}--\r\n")));
    }

    #[test]
    fn payload_fields_lay_out_the_top_level_keys() {
        let payload = RawValue::from_string(
            r#"{"fax": {"id": 1}, "direction": "received", "is_test": false, "page": 2, "note": null, "event_type": "x"}"#.into(),
        )
        .unwrap();
        let fields = payload_fields(&content(&payload, &[]));
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("event_type"), Some("fax.delivered"));
        assert_eq!(get("fax"), Some(r#"{"id": 1}"#));
        assert_eq!(get("direction"), Some("received"));
        assert_eq!(get("is_test"), Some("false"));
        assert_eq!(get("page"), Some("2"));
        assert_eq!(get("note"), Some(""));
        assert_eq!(fields.len(), 6);
    }
}
