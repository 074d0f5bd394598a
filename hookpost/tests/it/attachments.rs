//! Attachments: files published in base64 or as multipart file parts, sent as
//! file parts of a form (with the Phaxio signature over their SHA-1), attached
//! to e-mails, and linked from JSON deliveries through signed, expiring
//! download links.

use crate::helpers::forms::{parse_form, publish_multipart};
use crate::helpers::smtp::SmtpSink;
use crate::helpers::verify::verify;
use crate::helpers::*;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A PDF-like file of `size` bytes: a PDF header, binary noise, a trailer.
fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while bytes.len() < size - 6 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    bytes.extend_from_slice(b"\n%%EOF");
    bytes
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn a_file_published_both_ways_arrives_as_a_file_part_byte_for_byte() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/fax"), "format": "form",
                             "signatures": ["phaxio", "standard"]}))
        .await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    let file = pdf(2 * 1024 * 1024);
    let event = json!({"event_type": "fax.received", "payload": {"fax_id": "f-1"}});

    let mut in_json = event.clone();
    in_json["attachments"] = json!([{"filename": "fax.pdf", "content_type": "application/pdf",
                                     "content_base64": base64(&file)}]);
    let first = server.publish(&acct, in_json).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fax.pdf");
    std::fs::write(&path, &file).unwrap();
    let (status, answer) = publish_multipart(
        &server,
        &acct,
        &event,
        &[("file", &path, "application/pdf")],
    )
    .await;
    assert_eq!(status, 202, "{answer}");

    let got = rx.wait_for(2, SOON).await;
    for request in &got {
        let form = parse_form(request).await;
        let part = &form.files["file"];
        assert!(part.bytes == file, "the file arrives byte for byte");
        assert_eq!(part.filename, "fax.pdf");
        assert_eq!(part.content_type, "application/pdf");
        assert_eq!(form.fields["event_type"], "fax.received");
        let verdicts = verify(request, &request.body, &keys);
        assert_eq!(verdicts["phaxio"], "ok", "{verdicts}");
        assert_eq!(verdicts["standard_v1a"], "ok", "{verdicts}");
        // The binary body is not text, which the standardwebhooks library needs.
        assert_eq!(verdicts["standard_v1"], "not_utf8", "{verdicts}");
        let tampered = request.body.to_vec().tap_last_byte_of(&file);
        assert_ne!(verify(request, &tampered, &keys)["phaxio"], "ok");
    }
    let shown = server.event(&acct, &first).await;
    assert_eq!(shown["attachments"][0]["size"], file.len());
    assert_eq!(shown["attachments"][0]["sha256"], sha256(&file));
}

/// A copy of a form body with one byte of the file changed.
trait Tamper {
    fn tap_last_byte_of(self, file: &[u8]) -> Vec<u8>;
}

impl Tamper for Vec<u8> {
    fn tap_last_byte_of(mut self, file: &[u8]) -> Vec<u8> {
        let start = self
            .windows(file.len().min(64))
            .position(|w| w == &file[..w.len()])
            .expect("the file is in the body");
        self[start + file.len() / 2] ^= 0xff;
        self
    }
}

#[tokio::test]
async fn text_files_verify_with_every_library() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/t"), "format": "form",
                             "signatures": ["standard", "telnyx", "phaxio"]}))
        .await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    server
        .publish(&acct, json!({"event_type": "fax.received", "payload": {},
            "attachments": [
                {"name": "cover", "filename": "cover.txt", "content_type": "text/plain", "content_base64": base64(b"To: ops\n")},
                {"filename": "fax.txt", "content_base64": base64(b"page one")}]}))
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    let form = parse_form(got).await;
    assert_eq!(form.files["cover"].bytes, b"To: ops\n");
    assert_eq!(form.files["file"].bytes, b"page one");
    assert_eq!(form.files["file"].content_type, "application/octet-stream");
    assert_eq!(
        verify(got, &got.body, &keys),
        json!({"standard_v1": "ok", "standard_v1a": "ok", "telnyx": "ok", "phaxio": "ok"})
    );
}

#[tokio::test]
async fn payload_fields_make_a_fax_providers_received_fax_form() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/received"), "format": "form",
                             "form_fields": "payload", "signatures": ["phaxio"]}))
        .await;
    let keys = server.get("/v1/account/keys", &acct.key).await.body;
    let fax = json!({"id": 1234, "direction": "received", "num_pages": 1, "status": "success",
                     "is_test": false, "from_number": "+14141234567"});
    let file = pdf(64 * 1024);
    server
        .publish(&acct, json!({"event_type": "fax_completed",
            "payload": {"fax": fax, "direction": "received", "is_test": false, "success": true},
            "attachments": [{"filename": "fax.pdf", "content_type": "application/pdf", "content_base64": base64(&file)}]}))
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    let form = parse_form(got).await;
    let mut names: Vec<&str> = form.fields.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        ["direction", "event_type", "fax", "is_test", "success"]
    );
    assert_eq!(form.fields["event_type"], "fax_completed");
    assert_eq!(form.fields["direction"], "received");
    assert_eq!(form.fields["is_test"], "false");
    assert_eq!(form.fields["success"], "true");
    assert_eq!(
        serde_json::from_str::<Value>(&form.fields["fax"]).unwrap(),
        fax
    );
    assert!(form.files["file"].bytes == file);
    assert_eq!(verify(got, &got.body, &keys)["phaxio"], "ok");
}

#[tokio::test]
async fn json_deliveries_link_to_files_that_download_in_ranges_and_expire() {
    let server = TestServer::start_with(&["--attachment-link-ttl", "3s"]).await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/j")}))
        .await;
    let file = pdf(700 * 1024);
    let id = server
        .publish(&acct, json!({"event_type": "fax.received", "payload": {},
            "attachments": [{"filename": "fax.pdf", "content_type": "application/pdf", "content_base64": base64(&file)}]}))
        .await;
    let got = &rx.wait_for(1, SOON).await[0];
    let listed = &got.json()["data"]["attachments"][0];
    assert_eq!(listed["filename"], "fax.pdf");
    assert_eq!(listed["size"], file.len());
    assert_eq!(listed["sha256"], sha256(&file));
    let url = listed["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("http://{}/v1/attachments/{id}/0?", server.addr())),
        "{url}"
    );

    let http = reqwest::Client::new();
    let whole = http.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "application/pdf");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert!(
        whole.bytes().await.unwrap() == file,
        "the link downloads the same bytes"
    );

    // A range that crosses a stored chunk's edge (256 KiB).
    let from = 256 * 1024 - 10;
    let part = http
        .get(&url)
        .header("range", format!("bytes={from}-{}", from + 19))
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    let range = part.headers()["content-range"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(range, format!("bytes {from}-{}/{}", from + 19, file.len()));
    assert_eq!(part.bytes().await.unwrap(), &file[from..from + 20]);
    let past = http
        .get(&url)
        .header("range", format!("bytes={}-", file.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);

    let tampered = url.replace("/0?", "/1?");
    let refused = http.get(&tampered).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "link_refused");
    // The signature's last hex digit changed (to another digit, always).
    let last = if url.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &url[..url.len() - 1]);
    assert_eq!(http.get(&forged).send().await.unwrap().status(), 403);

    tokio::time::sleep(Duration::from_secs(4)).await;
    let expired = http.get(&url).send().await.unwrap();
    assert_eq!(expired.status(), 403, "the link has expired");
    let body: Value = serde_json::from_slice(&expired.bytes().await.unwrap()).unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn a_deleted_event_takes_its_files_and_their_links_with_it() {
    let server = TestServer::start().await;
    let rx = Receiver::start().await;
    let acct = server
        .account_with(json!({"webhook_url": rx.url("/j")}))
        .await;
    let id = server
        .publish(
            &acct,
            json!({"event_type": "x", "payload": {},
            "attachments": [{"filename": "a.bin", "content_base64": base64(b"abc")}]}),
        )
        .await;
    let url = rx.wait_for(1, SOON).await[0].json()["data"]["attachments"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(
        server
            .call("DELETE", &format!("/v1/events/{id}"), &acct.key, None)
            .await
            .status,
        200
    );
    let gone = http.get(&url).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    let body: Value = serde_json::from_slice(&gone.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "attachment_not_found");
}

#[tokio::test]
async fn an_email_carries_the_file_as_an_attachment() {
    let sink = SmtpSink::start();
    let server = TestServer::start_with(&["--smtp-url", &sink.url()]).await;
    let acct = server.account().await;
    let file = pdf(2 * 1024 * 1024);
    let id = server
        .publish(&acct, json!({"event_type": "fax.received", "payload": {"fax_id": "f-3"},
            "webhook_url": "mailto:ops@example.com",
            "attachments": [{"filename": "fax.pdf", "content_type": "application/pdf", "content_base64": base64(&file)}]}))
        .await;
    server.wait_for_status(&acct, &id, "delivered", SOON).await;
    let mail = &sink.messages()[0];
    assert_eq!(mail["content_type"], "multipart/mixed");
    assert!(mail["text"].as_str().unwrap().contains("f-3"));
    assert_eq!(
        mail["attachments"],
        json!([{"filename": "fax.pdf", "content_type": "application/pdf",
                "size": file.len(), "sha256": sha256(&file)}])
    );
}

#[tokio::test]
async fn bad_files_are_refused_naming_the_field() {
    let server = TestServer::start_with(&["--max-attachment-bytes", "1000"]).await;
    let acct = server.account().await;
    let publish = |attachments: Value| {
        let body = json!({"event_type": "x", "payload": {}, "attachments": attachments});
        let server = &server;
        let key = acct.key.clone();
        async move { server.post("/v1/events", &key, &body).await }
    };
    let cases = [
        (
            json!([{"filename": "../etc/passwd", "content_base64": "YQ=="}]),
            "attachments[0].filename",
        ),
        (
            json!([{"filename": "a\r\nX-Evil: 1", "content_base64": "YQ=="}]),
            "attachments[0].filename",
        ),
        (
            json!([{"filename": "a", "content_base64": "!!"}]),
            "attachments[0].content_base64",
        ),
        (json!([{"filename": "a"}]), "attachments[0].content_base64"),
        (
            json!([{"content_base64": "YQ=="}]),
            "attachments[0].filename",
        ),
        (
            json!([{"filename": "a", "content_type": "pdf", "content_base64": "YQ=="}]),
            "attachments[0].content_type",
        ),
        (
            json!([{"filename": "a", "name": "a b", "content_base64": "YQ=="}]),
            "attachments[0].name",
        ),
        (
            json!([{"filename": "a", "content_base64": base64(&[0; 1001])}]),
            "attachments",
        ),
        (
            json!([{"filename": "a", "content_base64": "YQ==", "size": 1}]),
            "attachments[0].size",
        ),
    ];
    for (attachments, field) in cases {
        let answer = publish(attachments.clone()).await;
        assert_refused(&answer, 422, field);
    }
    let listed = server.get("/v1/events", &acct.key).await.body;
    assert_eq!(listed["data"], json!([]), "nothing was stored");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    std::fs::write(&path, b"abc").unwrap();
    let event = json!({"event_type": "x", "payload": {}});
    let (status, body) = publish_multipart(
        &server,
        &acct,
        &json!({"event_type": "x"}),
        &[("file", &path, "application/pdf")],
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("payload"))
    );
    let (status, body) =
        publish_multipart(&server, &acct, &event, &[("file", &path, "app@x/pdf")]).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("files[0].content_type"))
    );
    std::fs::write(&path, vec![7u8; 1001]).unwrap();
    let (status, body) = publish_multipart(
        &server,
        &acct,
        &event,
        &[("file", &path, "application/pdf")],
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("attachments"))
    );
}
