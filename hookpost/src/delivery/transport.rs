//! The ways out, behind one trait: a [`Transport`] takes one request of an
//! attempt ([`Outgoing`]) and tells what happened ([`Sent`]). The HTTP sender and
//! the mailer are the real ones; the attempt logic sees only the trait, so it is
//! tested with a fake one and no network.

use super::envelope::EventContent;
use crate::domain::attachment::Attachment;
use crate::domain::attempt::FailureKind;
use crate::domain::webhook_url::WebhookUrl;
use async_trait::async_trait;
use std::time::Duration;

/// Sends one request of an attempt. Whatever happens comes back as a [`Sent`],
/// never as an error: failures are data for the attempt log.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Sends `out` within its timeout and reports what happened.
    async fn send(&self, out: Outgoing<'_>) -> Sent;
}

/// One request of an attempt.
pub struct Outgoing<'a> {
    /// Destination: a web URL (credentials become Basic auth) or a `mailto:` one.
    pub url: &'a WebhookUrl,
    /// Deadline for the whole exchange.
    pub timeout: Duration,
    /// What goes out.
    pub content: Content<'a>,
}

/// What a request carries, by the way it goes out.
pub enum Content<'a> {
    /// Signed bytes for an HTTP POST.
    Post(Post<'a>),
    /// The event itself, which the mail transport renders, and its attempt number.
    Mail {
        /// The event.
        event: &'a EventContent<'a>,
        /// The attempt number (from 1), shown in the message.
        attempt: u32,
        /// The event's files with their contents, attached to the message.
        files: Vec<(&'a Attachment, Vec<u8>)>,
    },
}

/// The body of an HTTP POST, exactly as it was signed.
pub struct Post<'a> {
    /// `content-type` of the body.
    pub content_type: &'a str,
    /// The exact bytes that were signed (a stream of them when the body
    /// carries files).
    pub body: reqwest::Body,
    /// Signature and version headers.
    pub headers: Vec<(&'static str, String)>,
    /// The endpoint's custom headers.
    pub custom: &'a [(String, String)],
}

/// What happened to one request.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The receiver's status code, if it answered.
    pub http_status: Option<u16>,
    /// Why it failed; `None` on success.
    pub error: Option<FailureKind>,
    /// The cause in words, for a failure.
    pub detail: Option<String>,
    /// The first KiB of the answer.
    pub response: Option<String>,
    /// Wall time spent.
    pub duration: Duration,
    /// How long a `429` or `503` asked hookpost to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Sent {
    /// A request that never left: `why` is both the detail and the response.
    pub fn not_sent(kind: FailureKind, why: &str) -> Sent {
        Sent {
            http_status: None,
            error: Some(kind),
            detail: Some(why.to_string()),
            response: Some(why.to_string()),
            duration: Duration::ZERO,
            retry_after: None,
        }
    }
}
