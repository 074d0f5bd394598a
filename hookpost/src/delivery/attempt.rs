//! One attempt at delivering an event: the primary URL, then at once the failover
//! if the primary failed, under one attempt number; then the event's next state.

use super::clock::{Clock, Jitter};
use super::envelope::{body, EventContent, Layout};
use super::files::FileReader;
use super::links::AttachmentLinks;
use super::signing::{AccountSigner, Signed};
use super::transport::{Content, Outgoing, Post, Sent, Transport};
use crate::domain::attachment::Attachment;
use crate::domain::attempt::{FailureKind, Leg, LegRecord};
use crate::domain::control::Signal;
use crate::domain::event::select_payload;
use crate::domain::retry::AfterFailure;
use crate::domain::settings::Success;
use crate::domain::webhook_url::WebhookUrl;
use crate::storage::{AttemptReport, ClaimedDelivery, NextState};
use hookpost_signatures::Replay;
use std::sync::Arc;
use std::time::Duration;

/// The ways out (HTTP(S) for web targets, SMTP for `mailto:` ones) and the time
/// and jitter that attempts are made and retried by.
pub struct Channels {
    /// Sends to web targets.
    pub web: Arc<dyn Transport>,
    /// Sends to `mailto:` targets, if the operator configured an SMTP relay.
    pub mail: Option<Arc<dyn Transport>>,
    /// When legs start, signatures are made and retries fall due.
    pub clock: Arc<dyn Clock>,
    /// How much jitter each retry delay gets.
    pub jitter: Arc<dyn Jitter>,
    /// Reads the files of events that carry them.
    pub files: Option<FileReader>,
    /// Signs the download links JSON bodies give to files.
    pub links: Option<AttachmentLinks>,
}

impl Channels {
    /// Makes one attempt of `event` and reports it with the event's next state.
    pub async fn attempt(&self, signer: &AccountSigner, event: &ClaimedDelivery) -> AttemptReport {
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
            attachments: &event.attachments,
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
        let legs: Vec<LegRecord> = records.into_iter().map(|(record, _)| record).collect();
        AttemptReport {
            event_id: event.id.clone(),
            seq: event.seq,
            account_id: event.account_id.clone(),
            endpoint_id: target.endpoint_id.clone(),
            lane: event.lane.clone(),
            attempt: number,
            // The pause a receiver asks for is capped like its retry is.
            signal: Signal::of(&legs, hint.map(|h| h.min(target.retry_schedule.longest()))),
            legs,
            next: self.next_state(delivered, event, hint),
            admitted: false,
        }
    }

    async fn send_leg(
        &self,
        signer: &AccountSigner,
        event: &ClaimedDelivery,
        content: &EventContent<'_>,
        number: u32,
        leg: Leg,
        url: &WebhookUrl,
    ) -> (LegRecord, Option<Duration>) {
        let delivered_to = url.masked();
        let started_at = self.clock.now();
        let sent = if url.is_mailto() {
            self.send_mail(event, content, number, url).await
        } else {
            let sent = self
                .send_http(signer, event, content, number, url, &delivered_to)
                .await;
            held_to(event.target.success, sent)
        };
        let record = LegRecord {
            seq: event.seq,
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
        log_leg(event, &record);
        (record, sent.retry_after)
    }

    async fn send_mail(
        &self,
        event: &ClaimedDelivery,
        content: &EventContent<'_>,
        number: u32,
        url: &WebhookUrl,
    ) -> Sent {
        let Some(mail) = &self.mail else {
            return Sent::not_sent(FailureKind::Smtp, "no SMTP relay is configured");
        };
        let mut files = Vec::with_capacity(content.attachments.len());
        for (position, file) in content.attachments.iter().enumerate() {
            match self.read_whole(&event.id, position as u32, file).await {
                Ok(contents) => files.push((file, contents)),
                Err(why) => return Sent::not_sent(FailureKind::Other, &why),
            }
        }
        mail.send(Outgoing {
            url,
            timeout: event.target.timeout.0,
            content: Content::Mail {
                event: content,
                attempt: number,
                files,
            },
        })
        .await
    }

    /// A file's contents, for an e-mail.
    async fn read_whole(
        &self,
        event_id: &str,
        position: u32,
        file: &Attachment,
    ) -> Result<Vec<u8>, String> {
        let reader = self
            .files
            .as_ref()
            .ok_or("this node cannot read attachments")?;
        reader
            .whole(event_id, position, file)
            .await
            .map_err(|e| format!("the attachment could not be read: {e}"))
    }

    async fn send_http(
        &self,
        signer: &AccountSigner,
        event: &ClaimedDelivery,
        content: &EventContent<'_>,
        number: u32,
        url: &WebhookUrl,
        delivered_to: &str,
    ) -> Sent {
        let target = &event.target;
        let now = self.clock.now();
        let layout = Layout {
            format: target.format,
            form_fields: target.form_fields,
            links: self.links.as_ref(),
            now,
        };
        let body = body(&layout, content, number, delivered_to);
        let reader = match (&self.files, body.files.is_empty()) {
            (_, true) => None,
            (Some(reader), false) => Some(reader),
            (None, false) => {
                return Sent::not_sent(FailureKind::Other, "this node cannot read attachments")
            }
        };
        // In a block: the replayed body borrows the body, which moves on next.
        let signatures = {
            let stored = reader.map(|r| r.replay(&event.id, &body));
            let signed = Signed {
                msg_id: &event.id,
                timestamp: now.timestamp(),
                url: url.as_given(),
                body: &body,
                replay: stored.as_ref().map(|s| s as &dyn Replay),
            };
            match stored {
                // Reading the files blocks this thread: let the runtime move
                // its other tasks away meanwhile.
                Some(_) => {
                    tokio::task::block_in_place(|| signer.headers(&target.signatures, &signed))
                }
                None => signer.headers(&target.signatures, &signed),
            }
        };
        let mut headers = match signatures {
            Ok(headers) => headers,
            Err(why) => return Sent::not_sent(FailureKind::Other, &why.to_string()),
        };
        if let Some(version) = &target.version {
            headers.push(("webhook-version", version.clone()));
        }
        let content_type = body.content_type.clone();
        let post_body = match reader {
            Some(reader) => {
                headers.push(("content-length", body.len().to_string()));
                reader.http_body(&event.id, body)
            }
            // Signed; the body now moves to the request instead of being copied.
            None => reqwest::Body::from(body.bytes),
        };
        let out = Outgoing {
            url,
            timeout: target.timeout.0,
            content: Content::Post(Post {
                content_type: &content_type,
                body: post_body,
                headers,
                custom: &target.headers,
            }),
        };
        self.web.send(out).await
    }

    /// Where an event goes after an attempt; `hint` is a receiver's `Retry-After`.
    fn next_state(
        &self,
        delivered: bool,
        event: &ClaimedDelivery,
        hint: Option<Duration>,
    ) -> NextState {
        if delivered {
            return NextState::Delivered;
        }
        match event.target.retry_schedule.after_failure(
            event.retries_left,
            hint,
            self.jitter.fraction(),
        ) {
            AfterFailure::GiveUp => NextState::Failed,
            AfterFailure::RetryIn {
                delay,
                retries_left,
            } => {
                let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                NextState::RetryAt(self.clock.now() + delay, retries_left)
            }
        }
    }
}

/// A request judged by the target's rule of success: a 2xx other than `200`
/// fails where only `200` counts.
fn held_to(rule: Success, mut sent: Sent) -> Sent {
    if let (None, Some(status)) = (sent.error, sent.http_status) {
        if !rule.accepts(status) {
            sent.error = Some(FailureKind::HttpStatus);
            sent.detail = Some(format!(
                "the receiver answered {status}; this target counts only 200 as success"
            ));
        }
    }
    sent
}

/// One line per request at `info`, so deliveries can be followed in the log
/// alone. The URL is the masked one; nothing here carries a secret.
fn log_leg(delivery: &ClaimedDelivery, r: &LegRecord) {
    let leg = r.leg.as_str();
    let outcome = if r.succeeded() { "delivered" } else { "failed" };
    tracing::info!(
        event = %delivery.id,
        endpoint = delivery.target.endpoint_id.as_deref().unwrap_or("-"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::fakes::{
        answered, answered_after, channels, claimed, now, signer, target, FakeTransport,
        FixedClock, FixedJitter, Seen,
    };

    const PRIMARY: &str = "https://primary.example/hook";
    const FAILOVER: &str = "https://failover.example/hook";

    fn seen(url: &str, attempt: u32) -> Seen {
        Seen {
            url: url.into(),
            attempt,
            mail: false,
        }
    }

    fn at(secs: i64) -> chrono::DateTime<chrono::Utc> {
        now() + chrono::Duration::seconds(secs)
    }

    #[tokio::test]
    async fn a_failing_primary_sends_the_failover_under_the_same_attempt_number() {
        let web = FakeTransport::new();
        web.answer(PRIMARY, answered(500));
        let event = claimed(target(PRIMARY, Some(FAILOVER), &[60, 120]), 1, 1);
        let report = channels(&web, None).attempt(&signer(), &event).await;
        assert_eq!(web.seen(), [seen(PRIMARY, 2), seen(FAILOVER, 2)]);
        let legs: Vec<_> = report.legs.iter().map(|l| (l.leg, l.attempt)).collect();
        assert_eq!(legs, [(Leg::Primary, 2), (Leg::Failover, 2)]);
        assert_eq!(report.attempt, 2);
        assert_eq!(report.next, NextState::Delivered);
        assert!(report.legs.iter().all(|l| l.started_at == now()));
    }

    #[tokio::test]
    async fn both_failing_retry_at_now_plus_the_schedule_step() {
        let web = FakeTransport::new();
        web.answer(PRIMARY, answered(500));
        web.answer(FAILOVER, answered(404));
        // One attempt made, so the second step of the schedule applies.
        let event = claimed(target(PRIMARY, Some(FAILOVER), &[60, 120, 300]), 1, 2);
        let report = channels(&web, None).attempt(&signer(), &event).await;
        assert_eq!(report.legs.len(), 2);
        assert!(report.legs.iter().all(|l| !l.succeeded()));
        assert_eq!(report.next, NextState::RetryAt(at(120), 1));
    }

    #[tokio::test]
    async fn jitter_from_the_source_lengthens_the_delay() {
        let web = FakeTransport::new();
        web.answer(PRIMARY, answered(500));
        let event = claimed(target(PRIMARY, None, &[100]), 0, 1);
        let channels = Channels {
            jitter: Arc::new(FixedJitter(0.5)),
            ..channels(&web, None)
        };
        let report = channels.attempt(&signer(), &event).await;
        // 5% of 100 s: half of the most jitter.
        assert_eq!(report.next, NextState::RetryAt(at(105), 0));
    }

    #[tokio::test]
    async fn a_spent_schedule_fails_the_event() {
        let web = FakeTransport::new();
        web.answer(PRIMARY, answered(503));
        web.answer(FAILOVER, answered(503));
        let event = claimed(target(PRIMARY, Some(FAILOVER), &[60]), 1, 0);
        let report = channels(&web, None).attempt(&signer(), &event).await;
        assert_eq!(report.legs.len(), 2);
        assert_eq!(report.next, NextState::Failed);
    }

    #[tokio::test]
    async fn retry_after_delays_the_retry_but_never_past_the_longest_step() {
        let schedule = [60, 600];
        let web = FakeTransport::new();
        web.answer(PRIMARY, answered_after(429, 90));
        let event = claimed(target(PRIMARY, None, &schedule), 0, 2);
        let report = channels(&web, None).attempt(&signer(), &event).await;
        assert_eq!(report.next, NextState::RetryAt(at(90), 1));

        web.answer(PRIMARY, answered_after(503, 86_400));
        let report = channels(&web, None).attempt(&signer(), &event).await;
        assert_eq!(
            report.next,
            NextState::RetryAt(at(600), 1),
            "a day is capped"
        );
    }

    #[tokio::test]
    async fn the_longer_retry_after_of_two_legs_counts() {
        let web = FakeTransport::new();
        web.answer(PRIMARY, answered_after(429, 200));
        web.answer(FAILOVER, answered_after(503, 90));
        let event = claimed(target(PRIMARY, Some(FAILOVER), &[60, 600]), 0, 2);
        let report = channels(&web, None).attempt(&signer(), &event).await;
        assert_eq!(report.next, NextState::RetryAt(at(200), 1));
    }

    #[tokio::test]
    async fn a_delivered_primary_leaves_the_failover_alone() {
        let web = FakeTransport::new();
        let event = claimed(target(PRIMARY, Some(FAILOVER), &[60]), 0, 1);
        let report = channels(&web, None).attempt(&signer(), &event).await;
        assert_eq!(web.seen(), [seen(PRIMARY, 1)]);
        assert_eq!(report.legs.len(), 1);
        assert_eq!(report.legs[0].http_status, Some(200));
        assert_eq!(report.next, NextState::Delivered);
    }

    #[tokio::test]
    async fn a_mailto_leg_goes_to_the_mail_transport() {
        let (web, mail) = (FakeTransport::new(), FakeTransport::new());
        web.answer(PRIMARY, answered(500));
        let event = claimed(target(PRIMARY, Some("mailto:ops@example.com"), &[60]), 2, 1);
        let report = channels(&web, Some(&mail)).attempt(&signer(), &event).await;
        assert_eq!(web.seen(), [seen(PRIMARY, 3)]);
        let to_mail = Seen {
            url: "mailto:ops@example.com".into(),
            attempt: 3,
            mail: true,
        };
        assert_eq!(mail.seen(), [to_mail]);
        assert_eq!(report.next, NextState::Delivered);
    }

    #[tokio::test]
    async fn a_mailto_leg_without_a_relay_fails_as_smtp() {
        let web = FakeTransport::new();
        let event = claimed(target("mailto:ops@example.com", None, &[]), 0, 0);
        let report = channels(&web, None).attempt(&signer(), &event).await;
        assert!(web.seen().is_empty());
        assert_eq!(report.legs[0].error, Some(FailureKind::Smtp));
        assert_eq!(
            report.legs[0].error_detail.as_deref(),
            Some("no SMTP relay is configured")
        );
        assert_eq!(report.next, NextState::Failed);
    }

    #[tokio::test]
    async fn requests_are_signed_at_the_clock_time() {
        let web = FakeTransport::new();
        let event = claimed(target(PRIMARY, None, &[]), 0, 0);
        let channels = Channels {
            clock: Arc::new(FixedClock(at(42))),
            ..channels(&web, None)
        };
        let report = channels.attempt(&signer(), &event).await;
        assert_eq!(report.legs[0].started_at, at(42));
        let timestamp = at(42).timestamp().to_string();
        assert_eq!(web.header("webhook-timestamp"), [timestamp]);
    }
}
