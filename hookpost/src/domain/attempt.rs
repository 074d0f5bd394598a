//! Attempts: one try at delivery, the primary URL then (if it fails) the failover,
//! under one attempt number. This module decides what counts as success and names
//! each kind of failure; it never touches the network.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How much of a receiver's response body the attempt log keeps.
pub const KEPT_RESPONSE_BYTES: usize = 1024;

/// Which URL of the target a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Leg {
    /// The target's `webhook_url`.
    Primary,
    /// The target's `webhook_failover_url`.
    Failover,
}

impl Leg {
    /// The name used in storage, the API and the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Leg::Primary => "primary",
            Leg::Failover => "failover",
        }
    }
}

/// Why a request did not succeed. The names are part of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The receiver answered, but not 2xx (and not a redirect).
    HttpStatus,
    /// A 3xx: redirects are never followed.
    Redirect,
    /// No answer within the timeout.
    Timeout,
    /// The TCP connection could not be made or broke.
    Connection,
    /// The host name did not resolve.
    Dns,
    /// The address is in a range deliveries may not reach.
    BlockedAddress,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The mail relay refused the message or could not be reached.
    Smtp,
    /// Anything else (a malformed response, for instance).
    Other,
}

impl FailureKind {
    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::HttpStatus => "http_status",
            FailureKind::Redirect => "redirect",
            FailureKind::Timeout => "timeout",
            FailureKind::Connection => "connection",
            FailureKind::Dns => "dns",
            FailureKind::BlockedAddress => "blocked_address",
            FailureKind::Tls => "tls",
            FailureKind::Smtp => "smtp",
            FailureKind::Other => "other",
        }
    }

    /// Reads a name written by [`FailureKind::as_str`].
    pub fn parse(name: &str) -> FailureKind {
        [
            Self::HttpStatus,
            Self::Redirect,
            Self::Timeout,
            Self::Connection,
            Self::Dns,
            Self::BlockedAddress,
            Self::Tls,
            Self::Smtp,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
        .unwrap_or(FailureKind::Other)
    }

    /// The failure a receiver's status code means, or `None` for success (2xx).
    pub fn from_status(status: u16) -> Option<FailureKind> {
        match status {
            200..=299 => None,
            300..=399 => Some(FailureKind::Redirect),
            _ => Some(FailureKind::HttpStatus),
        }
    }
}

/// One request of an attempt, as recorded in the attempt log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegRecord {
    /// The delivery it belongs to (its number within the event).
    pub seq: u32,
    /// Attempt number, from 1; the failover shares the primary's.
    pub attempt: u32,
    /// Primary or failover.
    pub leg: Leg,
    /// The URL, password masked.
    pub url: String,
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The receiver's status code, if it answered.
    pub http_status: Option<u16>,
    /// Why it failed; `None` on success.
    pub error: Option<FailureKind>,
    /// The cause in words, for a failure (`connection refused`, `TLS: …`).
    pub error_detail: Option<String>,
    /// The first KiB of the response body (or the relay's answer), lossily UTF-8.
    pub response: Option<String>,
}

impl LegRecord {
    /// Success is a 2xx within the timeout (or, for e-mail, the relay's acceptance).
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// Keeps at most [`KEPT_RESPONSE_BYTES`] of a response, cut on a character boundary.
pub fn keep_response(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(KEPT_RESPONSE_BYTES)]);
    let mut end = text.len().min(KEPT_RESPONSE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_2xx_is_success_and_redirects_are_failures() {
        assert_eq!(FailureKind::from_status(200), None);
        assert_eq!(FailureKind::from_status(204), None);
        assert_eq!(FailureKind::from_status(302), Some(FailureKind::Redirect));
        assert_eq!(FailureKind::from_status(307), Some(FailureKind::Redirect));
        assert_eq!(FailureKind::from_status(404), Some(FailureKind::HttpStatus));
        assert_eq!(FailureKind::from_status(500), Some(FailureKind::HttpStatus));
        assert_eq!(FailureKind::from_status(100), Some(FailureKind::HttpStatus));
    }

    #[test]
    fn failure_names_round_trip() {
        for k in [
            FailureKind::Timeout,
            FailureKind::BlockedAddress,
            FailureKind::Redirect,
        ] {
            assert_eq!(FailureKind::parse(k.as_str()), k);
        }
    }

    #[test]
    fn keeps_the_first_kib_on_a_character_boundary() {
        let body = "é".repeat(KEPT_RESPONSE_BYTES);
        let kept = keep_response(body.as_bytes());
        assert!(kept.len() <= KEPT_RESPONSE_BYTES);
        assert!(kept.chars().all(|c| c == 'é'));
        assert_eq!(keep_response(b"ok"), "ok");
    }
}
