//! Test doubles for the delivery logic: a transport that answers from a script
//! and remembers what it was given, a clock that stands still and a fixed jitter.
//! No network is touched.

use super::attempt::Channels;
use super::clock::{Clock, Jitter};
use super::signing::AccountSigner;
use super::transport::{Content, Outgoing, Sent, Transport};
use crate::domain::attempt::FailureKind;
use crate::domain::duration::HumanDuration;
use crate::domain::retry::RetrySchedule;
use crate::domain::settings::{Format, SignatureScheme};
use crate::domain::target::{Level, Target};
use crate::domain::webhook_url::WebhookUrl;
use crate::secrets::SigningKeys;
use crate::storage::ClaimedDelivery;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request a [`FakeTransport`] was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The masked URL.
    pub url: String,
    /// The attempt number it carried (`meta.attempt` of a JSON body, or the
    /// e-mail's).
    pub attempt: u32,
    /// Whether it came as an e-mail rather than as an HTTP POST.
    pub mail: bool,
}

/// Answers each URL as scripted (a `200` when nothing is), and records requests.
#[derive(Default)]
pub struct FakeTransport {
    answers: Mutex<HashMap<String, Sent>>,
    seen: Mutex<Vec<Seen>>,
    headers: Mutex<Vec<(&'static str, String)>>,
}

impl FakeTransport {
    /// A transport that answers `200` to everything until told otherwise.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Makes every request to `url` come back as `sent`.
    pub fn answer(&self, url: &str, sent: Sent) {
        self.answers.lock().unwrap().insert(url.to_string(), sent);
    }

    /// The requests given so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The values of header `name` over every POST so far, in order.
    pub fn header(&self, name: &str) -> Vec<String> {
        let headers = self.headers.lock().unwrap();
        headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, value)| value.clone())
            .collect()
    }
}

#[async_trait]
impl Transport for FakeTransport {
    async fn send(&self, out: Outgoing<'_>) -> Sent {
        let url = out.url.masked();
        let (attempt, mail) = match out.content {
            Content::Post(post) => {
                self.headers.lock().unwrap().extend(post.headers);
                let bytes = post.body.as_bytes().expect("fake bodies are whole");
                let body: serde_json::Value = serde_json::from_slice(bytes).unwrap();
                (body["meta"]["attempt"].as_u64().unwrap() as u32, false)
            }
            Content::Mail { attempt, .. } => (attempt, true),
        };
        self.seen.lock().unwrap().push(Seen {
            url: url.clone(),
            attempt,
            mail,
        });
        let answers = self.answers.lock().unwrap();
        answers.get(&url).cloned().unwrap_or_else(|| answered(200))
    }
}

/// A receiver's answer with `status` (a failure unless it is a 2xx).
pub fn answered(status: u16) -> Sent {
    Sent {
        http_status: Some(status),
        error: FailureKind::from_status(status),
        detail: None,
        response: Some(String::new()),
        duration: Duration::from_millis(3),
        retry_after: None,
    }
}

/// A `status` answer asking hookpost to wait `secs` (`Retry-After`).
pub fn answered_after(status: u16, secs: u64) -> Sent {
    Sent {
        retry_after: Some(Duration::from_secs(secs)),
        ..answered(status)
    }
}

/// A clock that always tells the same time.
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The moment the [`FixedClock`] of [`channels`] stands at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// Jitter that is always the same fraction.
pub struct FixedJitter(pub f64);

impl Jitter for FixedJitter {
    fn fraction(&self) -> f64 {
        self.0
    }
}

/// Channels over `web` and `mail`, at [`now`], with no jitter.
pub fn channels(web: &Arc<FakeTransport>, mail: Option<&Arc<FakeTransport>>) -> Channels {
    Channels {
        web: web.clone(),
        mail: mail.map(|m| m.clone() as Arc<dyn Transport>),
        clock: Arc::new(FixedClock(now())),
        jitter: Arc::new(FixedJitter(0.0)),
        files: None,
        links: None,
    }
}

/// A JSON target signed the Standard Webhooks way, retried after each delay of
/// `schedule` (in seconds).
pub fn target(primary: &str, failover: Option<&str>, schedule: &[u64]) -> Target {
    Target {
        primary: WebhookUrl::parse(primary).unwrap(),
        failover: failover.map(|f| WebhookUrl::parse(f).unwrap()),
        level: Level::Request,
        endpoint_id: None,
        headers: Vec::new(),
        format: Format::Json,
        form_fields: Default::default(),
        signatures: vec![SignatureScheme::Standard],
        inflight: false,
        version: None,
        retry_schedule: RetrySchedule(
            schedule
                .iter()
                .map(|s| HumanDuration(Duration::from_secs(*s)))
                .collect(),
        ),
        timeout: HumanDuration(Duration::from_secs(5)),
        success: Default::default(),
        gated: false,
    }
}

/// An event for `target` with `attempts_made` attempts behind it and
/// `retries_left` retries ahead.
pub fn claimed(target: Target, attempts_made: u32, retries_left: u32) -> ClaimedDelivery {
    ClaimedDelivery {
        id: "evt_1".into(),
        seq: 0,
        account_id: "acct_1".into(),
        event_type: "fax.delivered".into(),
        payload: RawValue::from_string(r#"{"pages":3}"#.into()).unwrap(),
        payloads: None,
        occurred_at: "2026-03-01T11:59:00Z".into(),
        attachments: Vec::new(),
        target,
        attempts_made,
        retries_left,
        lane: None,
        gated: false,
    }
}

/// A signer over fresh keys.
pub fn signer() -> AccountSigner {
    AccountSigner::new(&SigningKeys::generate()).unwrap()
}
