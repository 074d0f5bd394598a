//! # hookpost-signatures
//!
//! The signatures a webhook delivery carries, computed over the exact bytes that
//! are sent, with no I/O, no clock and no async runtime: hookpost signs through
//! this crate, and a receiver (or a test) verifies with it without the server.
//!
//! | scheme | headers | signed content |
//! | --- | --- | --- |
//! | [`Scheme::Standard`] | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<HMAC-SHA256> v1a,<Ed25519>` | `{id}.{timestamp}.{body}` |
//! | [`Scheme::Telnyx`] | `telnyx-timestamp`, `telnyx-signature-ed25519` | `{timestamp}\|{body}` |
//! | [`Scheme::Phaxio`] | `x-phaxio-signature` (hex HMAC-SHA1) | the URL, then each form field's name and value sorted by name (or the body, for JSON) |
//!
//! # Layout
//!
//! - `keys`: decoding secrets, seeds, public keys and tokens; [`KeyError`].
//! - `content`: what each scheme signs, shared by the signer and the verifier so
//!   the two cannot drift apart.
//! - `sign`: [`Keys`] and [`Message`], the sender's side; `ed25519` makes its
//!   Ed25519 signatures (with the `aws-lc` feature, through AWS-LC's faster
//!   signer for bodies in memory).
//! - `verify`: [`VerifyKeys`], [`Request`], [`Verifier`] and [`VerifyError`], the
//!   receiver's side: timestamp tolerance, key rotation, constant-time comparisons.
//! - `dedup` and `latest`: the two other things a receiver needs, because
//!   delivery is at least once and in no guaranteed order: [`Deduplicator`] and
//!   [`LatestState`].
//!
//! # Signing
//!
//! ```
//! use hookpost_signatures::{Body, Keys, Message, Scheme};
//!
//! let keys = Keys::decode(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], &[], &[]).unwrap();
//! let message = Message {
//!     id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
//!     timestamp: 1614265330,
//!     url: "https://example.com/hooks",
//!     body: Body::Bytes(br#"{"test": 2432232314}"#),
//!     form_fields: None, form_files: &[],
//! };
//! let headers = keys.headers(&[Scheme::Standard], &message).unwrap();
//! assert_eq!(headers[2], ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_string()));
//! ```
//!
//! # Receiving
//!
//! A receiver decodes its keys once, then checks each request against the
//! current Unix time (any clock will do; the crate reads none). During a key
//! rotation, list both keys, newest first: either one is accepted.
//!
//! ```
//! use hookpost_signatures::{Request, Scheme, Verifier, VerifyKeys};
//!
//! let keys = VerifyKeys::decode(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], &[], &[])?;
//! let verifier = Verifier::new(keys); // five minutes of tolerance
//! let headers = [
//!     ("Webhook-Id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
//!     ("Webhook-Timestamp", "1614265330"),
//!     ("Webhook-Signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
//! ];
//! let body = br#"{"test": 2432232314}"#;
//! let request = Request { headers: &headers, url: "https://example.com/hooks", body, form_fields: None, form_files: &[] };
//! let now = 1614265330; // in a real receiver: the current Unix time
//! verifier.verify(Scheme::Standard, &request, now)?; // Err: answer 400 and drop it
//! assert!(verifier.verify(Scheme::Standard, &request, now + 3600).is_err()); // replayed an hour later
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Verifier::verify_present`] checks every scheme whose headers a request
//! carries, for a receiver that does not know in advance which ones are sent.
//!
//! # Repeated and out-of-order deliveries
//!
//! Delivery is at least once: a retry after a timeout can bring an event the
//! receiver already handled. Drop it by its id (`webhook-id`, or the event's
//! `id`) and still answer 2xx, or the sender retries again:
//!
//! ```
//! use hookpost_signatures::Deduplicator;
//! use std::time::Duration;
//!
//! // Remember ids as long as the sender may retry (hookpost: about three days).
//! let mut seen = Deduplicator::new(Duration::from_secs(4 * 24 * 3600));
//! assert!(seen.first_time("evt_1", 1_700_000_000));
//! assert!(!seen.first_time("evt_1", 1_700_000_300)); // the retry: skip it, answer 200
//! assert!(seen.first_time("evt_2", 1_700_000_300));
//! ```
//!
//! Events also arrive out of order (a retried `fax.queued` after `fax.delivered`).
//! Keep the latest state of each resource by the event's `occurred_at`:
//!
//! ```
//! use hookpost_signatures::LatestState;
//!
//! let mut latest = LatestState::new();
//! assert!(latest.is_newer("fax_1", "2026-01-07T10:01:43Z")?); // delivered: apply it
//! assert!(!latest.is_newer("fax_1", "2026-01-07T10:00:05Z")?); // queued, late: ignore it
//! assert!(latest.is_newer("fax_1", "2026-01-07T11:30:00+01:00")?); // offsets compare as instants
//! assert!(latest.is_newer("fax_2", "2026-01-07T09:00:00Z")?); // each resource on its own
//! assert!(latest.is_newer("fax_1", "yesterday").is_err());
//! # Ok::<(), hookpost_signatures::TimestampError>(())
//! ```

#![forbid(unsafe_code)]

mod content;
mod dedup;
mod ed25519;
mod keys;
mod latest;
mod sign;
mod verify;

pub use dedup::Deduplicator;
pub use keys::KeyError;
pub use latest::{LatestState, TimestampError};
pub use sign::{public_key, Body, Keys, Message, Replay, ReplayError};
pub use verify::{Request, Verifier, VerifyError, VerifyKeys};

/// The README's example runs as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// A signature scheme whose headers a delivery carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    Standard,
    /// Telnyx-style: `telnyx-timestamp`, `telnyx-signature-ed25519`.
    Telnyx,
    /// Phaxio-style: `x-phaxio-signature`, HMAC-SHA1 with the callback token.
    Phaxio,
}

impl Scheme {
    /// Every scheme, in the order [`Verifier::verify_present`] reports them.
    pub const ALL: [Scheme; 3] = [Scheme::Standard, Scheme::Telnyx, Scheme::Phaxio];

    /// The scheme's name as hookpost's settings spell it: `standard`, `telnyx`,
    /// `phaxio`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Standard => "standard",
            Scheme::Telnyx => "telnyx",
            Scheme::Phaxio => "phaxio",
        }
    }
}
