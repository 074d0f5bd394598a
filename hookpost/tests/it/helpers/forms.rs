//! multipart/form-data bodies as a receiver reads them, by a real multipart
//! parser (`multer`, which axum uses), and as a publisher sends them, by curl.

use super::receiver::Received;
use super::server::{TestAccount, TestServer};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// A file part of a received form.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// Its `filename`.
    pub filename: String,
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// A received form: text fields and file parts, by name.
#[derive(Debug, Default)]
pub struct Form {
    /// Text fields.
    pub fields: HashMap<String, String>,
    /// File parts.
    pub files: HashMap<String, FilePart>,
}

/// Parses a received multipart/form-data request.
pub async fn parse_form(got: &Received) -> Form {
    let content_type = got.header("content-type").unwrap();
    let boundary = multer::parse_boundary(&content_type).expect("a multipart boundary");
    let body = got.body.clone();
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut form = Form::default();
    while let Some(part) = parts.next_field().await.expect("a well-formed form") {
        let name = part.name().unwrap().to_string();
        match part.file_name().map(str::to_string) {
            None => {
                form.fields.insert(name, part.text().await.unwrap());
            }
            Some(filename) => {
                let content_type = part
                    .content_type()
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                let bytes = part.bytes().await.unwrap().to_vec();
                form.files.insert(
                    name,
                    FilePart {
                        filename,
                        content_type,
                        bytes,
                    },
                );
            }
        }
    }
    form
}

/// Publishes as `multipart/form-data` with curl: `event` holds the JSON, each
/// `(name, path, content type)` a file part. Answers the status and body.
pub async fn publish_multipart(
    server: &TestServer,
    account: &TestAccount,
    event: &Value,
    files: &[(&str, &Path, &str)],
) -> (u16, Value) {
    let mut args = vec![
        "-s".to_string(),
        "-o".into(),
        "-".into(),
        "-w".into(),
        "\n%{http_code}".into(),
        "-H".into(),
        format!("Authorization: Bearer {}", account.key),
        "-F".into(),
        format!("event={event};type=application/json"),
    ];
    for (name, path, content_type) in files {
        args.push("-F".into());
        args.push(format!("{name}=@{};type={content_type}", path.display()));
    }
    args.push(format!("http://{}/v1/events", server.addr()));
    let out = tokio::process::Command::new("curl")
        .args(&args)
        .output()
        .await
        .expect("curl");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').expect("curl printed the status");
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.into()));
    (status.trim().parse().unwrap(), body)
}
