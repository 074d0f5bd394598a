//! E-mail webhooks: a `mailto:` target is delivered as an HTML e-mail with a
//! plain-text part, through the operator's SMTP relay (`--smtp-url`). The relay
//! accepting the message is success; its answer goes into the attempt log.

use super::envelope::EventContent;
use super::transport::{Content, Outgoing, Sent, Transport};
use crate::domain::attachment::Attachment;
use crate::domain::attempt::{keep_response, FailureKind};
use crate::domain::webhook_url::WebhookUrl;
use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as LettreAttachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::{Duration, Instant};

/// Sends e-mail webhooks through one relay.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why the mailer could not be set up, or an address is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailError(String);

impl Mailer {
    /// A mailer for `smtp://` or `smtps://` URLs (credentials as `user:pass@`;
    /// `smtp://…?tls=required` for STARTTLS), sending from `from`.
    pub fn new(smtp_url: &str, from: &str) -> Result<Mailer, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| {
                MailError(format!(
                    "--smtp-url is not usable ({e}); write it like smtp://host:port, \
                     smtp://user:pass@host:587?tls=required or smtps://host"
                ))
            })?
            .build();
        let from = from
            .parse()
            .map_err(|e| MailError(format!("--smtp-from is not an address: {e}")))?;
        Ok(Mailer { transport, from })
    }

    /// Sends one event to the recipients of a `mailto:` URL, within `timeout`.
    async fn deliver(
        &self,
        to: &WebhookUrl,
        event: &EventContent<'_>,
        attempt: u32,
        files: Vec<(&Attachment, Vec<u8>)>,
        timeout: Duration,
    ) -> Sent {
        let started = Instant::now();
        let outcome = match self.message(to, event, attempt, files) {
            Err(e) => Err(e.0),
            Ok(message) => {
                match tokio::time::timeout(timeout, self.transport.send(message)).await {
                    Err(_) => Err("the relay did not answer within the timeout".into()),
                    Ok(Err(e)) => Err(format!("the relay refused or failed: {e}")),
                    Ok(Ok(response)) => Ok(format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    )),
                }
            }
        };
        let (error, response) = match outcome {
            Ok(answer) => (None, answer),
            Err(problem) => (Some(FailureKind::Smtp), problem),
        };
        Sent {
            http_status: None,
            error,
            detail: error.map(|_| response.clone()),
            response: Some(keep_response(response.as_bytes())),
            duration: started.elapsed(),
            retry_after: None,
        }
    }

    fn message(
        &self,
        to: &WebhookUrl,
        event: &EventContent<'_>,
        attempt: u32,
        files: Vec<(&Attachment, Vec<u8>)>,
    ) -> Result<Message, MailError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(format!("{} ({})", event.event_type, event.id));
        for mailbox in recipients(to)? {
            builder = builder.to(mailbox);
        }
        let payload = pretty(event.payload.get());
        let body = MultiPart::alternative_plain_html(
            text_part(event, attempt, &payload),
            html_part(event, attempt, &payload),
        );
        if files.is_empty() {
            return builder
                .multipart(body)
                .map_err(|e| MailError(e.to_string()));
        }
        let body = files.into_iter().try_fold(
            MultiPart::mixed().multipart(body),
            |mixed, (file, contents)| {
                let content_type = ContentType::parse(&file.content_type)
                    .map_err(|e| MailError(format!("content type of {}: {e}", file.filename)))?;
                let part =
                    LettreAttachment::new(file.filename.clone()).body(contents, content_type);
                Ok::<_, MailError>(mixed.singlepart(part))
            },
        )?;
        builder
            .multipart(body)
            .map_err(|e| MailError(e.to_string()))
    }
}

#[async_trait]
impl Transport for Mailer {
    async fn send(&self, out: Outgoing<'_>) -> Sent {
        match out.content {
            Content::Mail {
                event,
                attempt,
                files,
            } => {
                self.deliver(out.url, event, attempt, files, out.timeout)
                    .await
            }
            Content::Post(_) => Sent::not_sent(
                FailureKind::Smtp,
                "the mailer sends events, not HTTP bodies",
            ),
        }
    }
}

/// The addresses of a `mailto:` URL (comma-separated, percent-decoded).
pub fn recipients(url: &WebhookUrl) -> Result<Vec<Mailbox>, MailError> {
    let decoded = percent_encoding::percent_decode_str(url.url().path())
        .decode_utf8_lossy()
        .to_string();
    decoded
        .split(',')
        .map(|a| {
            a.trim()
                .parse::<Mailbox>()
                .map_err(|e| MailError(format!("`{a}` is not an e-mail address: {e}")))
        })
        .collect()
}

fn pretty(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| json.to_string())
}

fn text_part(event: &EventContent<'_>, attempt: u32, payload: &str) -> String {
    format!(
        "Event: {}\nId: {}\nOccurred at: {}\nAttempt: {attempt}\n\nPayload:\n{payload}\n",
        event.event_type, event.id, event.occurred_at
    )
}

fn html_part(event: &EventContent<'_>, attempt: u32, payload: &str) -> String {
    let row = |name: &str, value: &str| {
        format!(
            "<tr><th align=\"left\">{name}</th><td>{}</td></tr>",
            escape(value)
        )
    };
    format!(
        "<!DOCTYPE html><html><body><h2>{}</h2><table>{}{}{}{}</table><h3>Payload</h3><pre>{}</pre></body></html>",
        escape(event.event_type),
        row("Event", event.event_type),
        row("Id", event.id),
        row("Occurred at", event.occurred_at),
        row("Attempt", &attempt.to_string()),
        escape(payload)
    )
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    #[test]
    fn html_is_escaped_and_both_parts_carry_the_event() {
        let payload =
            RawValue::from_string(r#"{"note":"<script>x</script> & more"}"#.into()).unwrap();
        let event = EventContent {
            id: "e1",
            event_type: "fax.failed",
            occurred_at: "2026-01-01T00:00:00Z",
            payload: &payload,
            attachments: &[],
        };
        let html = html_part(&event, 3, &pretty(payload.get()));
        assert!(
            html.contains("&lt;script&gt;x&lt;/script&gt; &amp; more")
                && !html.contains("<script>")
        );
        let text = text_part(&event, 3, &pretty(payload.get()));
        assert!(text.contains("Attempt: 3") && text.contains("<script>"));
    }

    #[test]
    fn mailto_recipients_are_parsed_and_bad_ones_named() {
        let url = WebhookUrl::parse("mailto:ops@example.com,%20fax%2Bteam@example.com").unwrap();
        let to = recipients(&url).unwrap();
        assert_eq!(to.len(), 2);
        assert_eq!(to[1].email.to_string(), "fax+team@example.com");
        assert!(recipients(&WebhookUrl::parse("mailto:not-an-address").unwrap()).is_err());
    }
}
