//! Attachments: files published with an event (a received fax's PDF), checked
//! once at publish, stored with the event in chunks and described by
//! [`Attachment`] everywhere after (deliveries read the bytes chunk by chunk,
//! so a large file is never held whole per delivery).

use super::validate::FieldError;
use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Bytes per stored chunk: large enough that a 10 MiB file is 40 rows, small
/// enough that a delivery holds little of it at a time.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Most files one event may carry.
pub const MAX_FILES: usize = 20;

/// Longest filename, in bytes.
const MAX_FILENAME: usize = 255;

/// Longest form field name and content type.
const MAX_TOKEN: usize = 128;

/// A file as a publisher sent it, checked and hashed, before it is stored.
/// Its `Debug` shows the description, not megabytes of contents.
#[derive(Clone)]
pub struct NewAttachment {
    /// Its description, hashes and size included.
    pub meta: Attachment,
    /// The bytes (shared, so cloning an event does not copy them).
    pub content: Bytes,
}

impl std::fmt::Debug for NewAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAttachment")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// A stored file's description: what deliveries, listings and download links
/// need without reading its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    /// The form field it is sent as (`file`).
    pub name: String,
    /// The filename a receiver sees (`fax.pdf`).
    pub filename: String,
    /// e.g. `application/pdf`.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Hex SHA-1 of the contents (the Phaxio signature covers it).
    pub sha1: String,
    /// Hex SHA-256 of the contents (shown to receivers to check a download).
    pub sha256: String,
}

impl Attachment {
    /// How many chunks its bytes are stored in.
    pub fn chunks(&self) -> u32 {
        self.size.div_ceil(CHUNK_BYTES as u64) as u32
    }
}

/// A file in a JSON publish: its bytes in base64.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Base64File {
    /// Form field name; defaults to `file`.
    #[serde(default)]
    pub name: Option<String>,
    /// Required.
    #[serde(default)]
    pub filename: Option<String>,
    /// Defaults to `application/octet-stream`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Standard base64 (padding optional).
    #[serde(default)]
    pub content_base64: Option<String>,
}

impl Base64File {
    /// Decodes and checks the file; `field` names it in errors
    /// (`attachments[0]`).
    pub fn decode(self, field: &str) -> Result<NewAttachment, FieldError> {
        let content = self
            .content_base64
            .ok_or_else(|| FieldError::new(format!("{field}.content_base64"), "is required"))?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(content.trim_end_matches('='))
            .map_err(|e| {
                FieldError::new(
                    format!("{field}.content_base64"),
                    format!("is not base64: {e}"),
                )
            })?;
        let filename = self
            .filename
            .ok_or_else(|| FieldError::new(format!("{field}.filename"), "is required"))?;
        new_attachment(
            field,
            self.name.unwrap_or_else(|| "file".into()),
            filename,
            self.content_type,
            Bytes::from(bytes),
        )
    }
}

/// Checks a file's name, filename and content type and hashes its bytes.
pub fn new_attachment(
    field: &str,
    name: String,
    filename: String,
    content_type: Option<String>,
    content: Bytes,
) -> Result<NewAttachment, FieldError> {
    check_name(&name).map_err(|why| FieldError::new(format!("{field}.name"), why))?;
    check_filename(&filename).map_err(|why| FieldError::new(format!("{field}.filename"), why))?;
    let content_type = content_type.unwrap_or_else(|| "application/octet-stream".into());
    check_content_type(&content_type)
        .map_err(|why| FieldError::new(format!("{field}.content_type"), why))?;
    let meta = Attachment {
        name,
        filename,
        content_type,
        size: content.len() as u64,
        sha1: hex(&Sha1::digest(&content)),
        sha256: hex(&Sha256::digest(&content)),
    };
    Ok(NewAttachment { meta, content })
}

/// The limits on one event's files: how many, and how many bytes in all.
pub fn check_sizes(files: &[NewAttachment], max_bytes: u64) -> Result<(), FieldError> {
    if files.len() > MAX_FILES {
        return Err(FieldError::new(
            "attachments",
            format!(
                "holds {} files; at most {MAX_FILES} are allowed",
                files.len()
            ),
        ));
    }
    let total: u64 = files.iter().map(|f| f.meta.size).sum();
    if total > max_bytes {
        return Err(FieldError::new(
            "attachments",
            format!("hold {total} bytes; at most {max_bytes} are allowed per event (--max-attachment-bytes)"),
        ));
    }
    Ok(())
}

/// A form field name: letters, digits, `_`, `-`, `.`, `[`, `]`.
fn check_name(name: &str) -> Result<(), String> {
    let fine = |c: char| c.is_ascii_alphanumeric() || "_-.[]".contains(c);
    if name.is_empty() || name.len() > MAX_TOKEN || !name.chars().all(fine) {
        return Err(format!(
            "must be 1 to {MAX_TOKEN} letters, digits, `_`, `-`, `.`, `[` or `]`"
        ));
    }
    Ok(())
}

/// A filename a receiver can save as is: no path, no control character (CR
/// and LF would break the part's headers), no quote.
fn check_filename(filename: &str) -> Result<(), String> {
    if filename.is_empty() || filename.len() > MAX_FILENAME {
        return Err(format!("must be 1 to {MAX_FILENAME} bytes"));
    }
    if filename.contains(['/', '\\']) {
        return Err("must not hold a path separator (`/` or `\\`)".into());
    }
    if filename.chars().any(|c| c.is_control() || c == '"') {
        return Err("must not hold a control character (CR, LF, …) or `\"`".into());
    }
    if filename == "." || filename == ".." {
        return Err("must name a file".into());
    }
    Ok(())
}

/// `type/subtype`, optionally with parameters, in printable ASCII.
fn check_content_type(value: &str) -> Result<(), String> {
    let printable = value.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    let essence = value.split(';').next().unwrap_or("").trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    let well_formed = essence
        .split_once('/')
        .is_some_and(|(kind, sub)| token(kind) && token(sub));
    if value.len() > MAX_TOKEN || !printable || !well_formed {
        return Err("must be a media type such as `application/pdf`".into());
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(filename: &str, content_type: Option<&str>) -> Result<NewAttachment, FieldError> {
        new_attachment(
            "attachments[0]",
            "file".into(),
            filename.into(),
            content_type.map(str::to_string),
            Bytes::from_static(b"%PDF-1.4 fake"),
        )
    }

    #[test]
    fn a_file_is_hashed_and_described() {
        let f = file("fax.pdf", Some("application/pdf")).unwrap();
        // `sha1sum`/`sha256sum` of the same 13 bytes.
        assert_eq!(f.meta.sha1, "a6a1c8998d4f5f1b2224127ad170540cd46ebf3d");
        assert_eq!(f.meta.size, 13);
        assert_eq!(f.meta.chunks(), 1);
        assert_eq!(
            file("x.bin", None).unwrap().meta.content_type,
            "application/octet-stream"
        );
    }

    #[test]
    fn filenames_with_paths_or_line_breaks_are_refused() {
        for bad in [
            "../etc/passwd",
            "a\\b.pdf",
            "a\r\nX-Evil: 1",
            "",
            "..",
            "a\"b",
        ] {
            let e = file(bad, None).unwrap_err();
            assert_eq!(e.field, "attachments[0].filename", "{bad:?}");
        }
        assert!(file("fax 2026-01-07.pdf", None).is_ok());
    }

    #[test]
    fn content_types_must_be_media_types() {
        for bad in ["pdf", "application/", "text/plain\r\nX: 1", "a b/c"] {
            let e = file("f", Some(bad)).unwrap_err();
            assert_eq!(e.field, "attachments[0].content_type", "{bad:?}");
        }
        assert!(file("f", Some("text/plain; charset=utf-8")).is_ok());
    }

    #[test]
    fn base64_files_decode_and_name_their_faults() {
        let ok = Base64File {
            name: None,
            filename: Some("a.txt".into()),
            content_type: None,
            content_base64: Some("aGVsbG8=".into()),
        };
        let f = ok.decode("attachments[1]").unwrap();
        assert_eq!(&f.content[..], b"hello");
        assert_eq!(f.meta.name, "file");
        let bad = Base64File {
            name: None,
            filename: Some("a.txt".into()),
            content_type: None,
            content_base64: Some("not base64!".into()),
        };
        assert_eq!(
            bad.decode("attachments[1]").unwrap_err().field,
            "attachments[1].content_base64"
        );
    }

    #[test]
    fn an_event_is_limited_in_files_and_bytes() {
        let one = file("a", None).unwrap();
        assert!(check_sizes(&[one.clone(), one.clone()], 26).is_ok());
        assert_eq!(
            check_sizes(&[one.clone(), one.clone()], 25)
                .unwrap_err()
                .field,
            "attachments"
        );
        assert!(check_sizes(&vec![one; MAX_FILES + 1], u64::MAX).is_err());
    }
}
