//! One attempt at delivering an event: the primary URL, then at once the failover
//! if the primary failed, under one attempt number; then the event's next state.

use super::email::Mailer;
use super::envelope::{body, EventContent};
use super::http::{HttpSender, Outgoing, Sent};
use super::signing::{AccountSigner, Signed};
use crate::domain::attempt::{FailureKind, Leg, LegRecord};
use crate::domain::event::select_payload;
use crate::domain::retry::AfterFailure;
use crate::domain::webhook_url::WebhookUrl;
use crate::storage::{AttemptReport, ClaimedEvent, NextState};
use chrono::Utc;
use std::time::Duration;

/// The ways out: HTTP(S) for web targets, SMTP for `mailto:` ones.
pub struct Channels {
    /// The shared HTTP client.
    pub http: HttpSender,
    /// The SMTP relay, if the operator configured one.
    pub mail: Option<Mailer>,
}

impl Channels {
    /// Makes one attempt of `event` and reports it with the event's next state.
    pub async fn attempt(&self, signer: &AccountSigner, event: &ClaimedEvent) -> AttemptReport {
        let target = &event.target;
        let number = event.attempts_made + 1;
        let content = EventContent {
            id: &event.id,
            event_type: &event.event_type,
            occurred_at: &event.occurred_at,
            payload: select_payload(
                &event.payload,
                event.payloads.as_deref(),
                target.version.as_deref(),
            ),
        };
        let legs = [
            (Leg::Primary, Some(&target.primary)),
            (Leg::Failover, target.failover.as_ref()),
        ];
        let mut records = Vec::with_capacity(2);
        for (leg, url) in legs {
            let Some(url) = url else { continue };
            let record = self
                .send_leg(signer, event, &content, number, leg, url)
                .await;
            let delivered = record.0.succeeded();
            records.push(record);
            if delivered {
                break;
            }
        }
        let delivered = records.last().is_some_and(|(record, _)| record.succeeded());
        let hint = records
            .iter()
            .filter_map(|(_, retry_after)| *retry_after)
            .max();
        AttemptReport {
            event_id: event.id.clone(),
            attempt: number,
            legs: records.into_iter().map(|(record, _)| record).collect(),
            next: next_state(delivered, event, hint),
        }
    }

    async fn send_leg(
        &self,
        signer: &AccountSigner,
        event: &ClaimedEvent,
        content: &EventContent<'_>,
        number: u32,
        leg: Leg,
        url: &WebhookUrl,
    ) -> (LegRecord, Option<Duration>) {
        let delivered_to = url.masked();
        let started_at = Utc::now();
        let timeout = event.target.timeout.0;
        let sent = if url.is_mailto() {
            match &self.mail {
                Some(mailer) => mailer.send(url, content, number, timeout).await,
                None => not_sent(FailureKind::Smtp, "no SMTP relay is configured"),
            }
        } else {
            self.send_http(signer, event, content, number, url, &delivered_to)
                .await
        };
        let record = LegRecord {
            attempt: number,
            leg,
            url: delivered_to,
            started_at,
            duration_ms: sent.duration.as_millis() as u64,
            http_status: sent.http_status,
            error: sent.error,
            error_detail: sent.detail,
            response: sent.response,
        };
        log_leg(&event.id, &record);
        (record, sent.retry_after)
    }

    async fn send_http(
        &self,
        signer: &AccountSigner,
        event: &ClaimedEvent,
        content: &EventContent<'_>,
        number: u32,
        url: &WebhookUrl,
        delivered_to: &str,
    ) -> Sent {
        let target = &event.target;
        let body = body(target.format, content, number, delivered_to);
        let wire_url = url.without_credentials();
        let signed = Signed {
            msg_id: &event.id,
            timestamp: Utc::now().timestamp(),
            url: wire_url.as_str(),
            body: &body,
        };
        let mut headers = signer.headers(&target.signatures, &signed);
        if let Some(version) = &target.version {
            headers.push(("webhook-version", version.clone()));
        }
        // Signed; the body now moves to the request instead of being copied.
        let out = Outgoing {
            url,
            content_type: &body.content_type,
            body: body.bytes,
            headers,
            timeout: target.timeout.0,
        };
        self.http.send(out).await
    }
}

/// One line per request at `info`, so deliveries can be followed in the log
/// alone. The URL is the masked one; nothing here carries a secret.
fn log_leg(event_id: &str, r: &LegRecord) {
    let leg = match r.leg {
        Leg::Primary => "primary",
        Leg::Failover => "failover",
    };
    let outcome = if r.succeeded() { "delivered" } else { "failed" };
    tracing::info!(
        event = event_id,
        attempt = r.attempt,
        leg,
        url = %r.url,
        outcome,
        http_status = r.http_status,
        duration_ms = r.duration_ms,
        error = r.error.map(FailureKind::as_str),
        detail = r.error_detail.as_deref(),
        "delivery attempt"
    );
}

fn not_sent(kind: FailureKind, why: &str) -> Sent {
    Sent {
        http_status: None,
        error: Some(kind),
        detail: Some(why.to_string()),
        response: Some(why.to_string()),
        duration: Duration::ZERO,
        retry_after: None,
    }
}

/// Where an event goes after an attempt; `hint` is a receiver's `Retry-After`.
fn next_state(delivered: bool, event: &ClaimedEvent, hint: Option<Duration>) -> NextState {
    if delivered {
        return NextState::Delivered;
    }
    match event
        .target
        .retry_schedule
        .after_failure(event.retries_left, hint, fastrand::f64())
    {
        AfterFailure::GiveUp => NextState::Failed,
        AfterFailure::RetryIn {
            delay,
            retries_left,
        } => {
            let at =
                Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            NextState::RetryAt(at, retries_left)
        }
    }
}
