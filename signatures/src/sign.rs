//! Signing: the headers hookpost puts on a delivery, per scheme.

use crate::content::{self, FormParts};
use crate::ed25519::Ed25519Key;
use crate::keys::{decode_seed, decode_whsec, KeyError};
use crate::Scheme;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::Mac;

/// What one request's signatures cover.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    /// The message id (`webhook-id`; hookpost's event id).
    pub id: &'a str,
    /// Unix seconds, the same for every scheme of the request.
    pub timestamp: i64,
    /// The URL the request goes to, as the receiver configured it (the
    /// Phaxio scheme signs it so).
    pub url: &'a str,
    /// The body, as sent.
    pub body: Body<'a>,
    /// For a form body: its fields by name, as sent (the Phaxio scheme signs
    /// these instead of the body).
    pub form_fields: Option<&'a [(&'a str, String)]>,
    /// For a form body: its file parts' names and the hex SHA-1 of each
    /// file (the Phaxio scheme signs these after the fields).
    pub form_files: &'a [(&'a str, String)],
}

/// A request body, whole in memory or read again for each pass over it: a
/// body carrying a large file is not held whole, and an Ed25519 signature
/// hashes its message twice.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    /// The bytes, in memory.
    Bytes(&'a [u8]),
    /// A body that feeds itself to a sink, in order, each time it is asked.
    Replayed(&'a dyn Replay),
}

/// A body read from somewhere each time it is signed.
pub trait Replay {
    /// Feeds every byte of the body to `sink`, in order; each call feeds the
    /// same bytes.
    fn replay(&self, sink: &mut dyn FnMut(&[u8])) -> Result<(), ReplayError>;
}

/// A body that could not be read again; no signature is made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the body could not be read for signing: {0}")]
pub struct ReplayError(pub String);

impl Body<'_> {
    /// Feeds `prefix` then the body to `sink`.
    pub(crate) fn feed(
        &self,
        prefix: &str,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ReplayError> {
        sink(prefix.as_bytes());
        match self {
            Body::Bytes(bytes) => {
                sink(bytes);
                Ok(())
            }
            Body::Replayed(source) => source.replay(sink),
        }
    }

    /// The body whole, when it is in memory (Phaxio signs a non-form body as
    /// bytes; a replayed body is always a form).
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Bytes(bytes) => bytes,
            Body::Replayed(_) => &[],
        }
    }
}

/// An account's keys, decoded once and ready to sign. Lists are newest first:
/// during a rotation the old key follows the new, and schemes whose header holds
/// several signatures (Standard Webhooks) sign with both.
pub struct Keys {
    hmac: Vec<Vec<u8>>,
    ed25519: Vec<Ed25519Key>,
    phaxio: Vec<Vec<u8>>,
}

impl Keys {
    /// Decodes `whsec_<base64>` HMAC secrets, base64 Ed25519 seeds and Phaxio
    /// callback tokens (used as they are).
    pub fn decode(
        hmac: &[&str],
        ed25519_seeds: &[&str],
        phaxio_tokens: &[&str],
    ) -> Result<Keys, KeyError> {
        Ok(Keys {
            hmac: hmac
                .iter()
                .map(|s| decode_whsec(s))
                .collect::<Result<_, _>>()?,
            ed25519: ed25519_seeds
                .iter()
                .map(|s| decode_seed(s).map(Ed25519Key::new))
                .collect::<Result<_, _>>()?,
            phaxio: phaxio_tokens
                .iter()
                .map(|t| t.as_bytes().to_vec())
                .collect(),
        })
    }

    /// The headers of every scheme in `schemes` for one request, in that
    /// order; an error only when a replayed body could not be read.
    pub fn headers(
        &self,
        schemes: &[Scheme],
        message: &Message<'_>,
    ) -> Result<Vec<(&'static str, String)>, ReplayError> {
        let mut headers = Vec::with_capacity(6);
        for scheme in schemes {
            match scheme {
                Scheme::Standard => {
                    headers.push(("webhook-id", message.id.to_string()));
                    headers.push(("webhook-timestamp", message.timestamp.to_string()));
                    headers.push(("webhook-signature", self.standard(message)?));
                }
                Scheme::Telnyx => {
                    if let Some(signature) = self.telnyx(message)? {
                        headers.push(("telnyx-timestamp", message.timestamp.to_string()));
                        headers.push(("telnyx-signature-ed25519", signature));
                    }
                }
                Scheme::Phaxio => {
                    if let Some(signature) = self.phaxio(message) {
                        headers.push(("x-phaxio-signature", signature));
                    }
                }
            }
        }
        Ok(headers)
    }

    /// `v1,<HMAC-SHA256>` for each secret, then `v1a,<Ed25519>` for each key, over
    /// `{id}.{timestamp}.{body}`, space-separated (Standard Webhooks).
    pub fn standard(&self, m: &Message<'_>) -> Result<String, ReplayError> {
        let prefix = content::standard_prefix(m.id, &m.timestamp.to_string());
        let mut signatures = Vec::with_capacity(self.hmac.len() + self.ed25519.len());
        for key in &self.hmac {
            let mut mac = content::hmac_sha256(key);
            m.body.feed(&prefix, &mut |chunk| mac.update(chunk))?;
            signatures.push(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ));
        }
        for key in &self.ed25519 {
            signatures.push(format!("v1a,{}", key.sign(&prefix, m.body)?));
        }
        Ok(signatures.join(" "))
    }

    /// Base64 Ed25519 over `{timestamp}|{body}` with the newest key (Telnyx). The
    /// header holds one signature, so only the newest key signs it.
    pub fn telnyx(&self, m: &Message<'_>) -> Result<Option<String>, ReplayError> {
        let Some(key) = self.ed25519.first() else {
            return Ok(None);
        };
        let prefix = content::telnyx_prefix(&m.timestamp.to_string());
        key.sign(&prefix, m.body).map(Some)
    }

    /// Hex HMAC-SHA1 with the newest callback token over the URL, then each form
    /// field's name and value sorted by name, then each file part's name and
    /// SHA-1 sorted by name; for a body that is not a form, over the URL then
    /// the body.
    pub fn phaxio(&self, m: &Message<'_>) -> Option<String> {
        let token = self.phaxio.first()?;
        let form = m.form_fields.map(|fields| FormParts {
            fields,
            files: m.form_files,
        });
        let mac = content::phaxio(token, m.url, m.body.bytes(), form);
        Some(
            mac.finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }
}

/// The public half of a base64 Ed25519 seed, base64 (raw 32 bytes): what a
/// receiver configures to verify.
pub fn public_key(seed: &str) -> Result<String, KeyError> {
    decode_seed(seed).map(|k| STANDARD.encode(k.verifying_key().to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<'a>(
        body: &'a [u8],
        url: &'a str,
        form_fields: Option<&'a [(&'a str, String)]>,
    ) -> Message<'a> {
        Message {
            id: "evt",
            timestamp: 1_700_000_000,
            url,
            body: Body::Bytes(body),
            form_fields,
            form_files: &[],
        }
    }

    // The example of the Standard Webhooks specification, with its reference
    // secret: computed by the specification's authors, not by this crate.
    #[test]
    fn standard_hmac_matches_the_specification_example() {
        let keys = Keys::decode(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], &[], &[]).unwrap();
        let m = Message {
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1614265330,
            url: "",
            body: Body::Bytes(br#"{"test": 2432232314}"#),
            form_fields: None,
            form_files: &[],
        };
        assert_eq!(
            keys.standard(&m).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_requested_scheme_gets_its_headers_in_order() {
        let seed = STANDARD.encode([7u8; 32]);
        let keys = Keys::decode(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            &[&seed],
            &["token"],
        )
        .unwrap();
        let schemes = [Scheme::Standard, Scheme::Telnyx, Scheme::Phaxio];
        let headers = keys
            .headers(&schemes, &message(b"{}", "https://x.example/", None))
            .unwrap();
        let names: Vec<_> = headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
                "telnyx-timestamp",
                "telnyx-signature-ed25519",
                "x-phaxio-signature"
            ]
        );
        assert!(headers[2].1.starts_with("v1,") && headers[2].1.contains(" v1a,"));
        assert!(keys
            .headers(&[], &message(b"{}", "https://x.example/", None))
            .unwrap()
            .is_empty());
    }

    // Expected values computed with Python's hmac module from the published
    // algorithm, not by this crate.
    #[test]
    fn phaxio_signs_the_url_then_sorted_fields_or_the_body() {
        let keys = Keys::decode(&[], &[], &["test-callback-token"]).unwrap();
        let url = "https://example.com/cb?x=1";
        let fields: Vec<(&str, String)> = [
            ("event_type", "fax.delivered"),
            ("id", "e1"),
            ("occurred_at", "2026-01-07T10:01:43Z"),
            ("attempt", "1"),
            ("delivered_to", url),
            ("payload", r#"{"a":1}"#),
        ]
        .iter()
        .map(|(n, v)| (*n, v.to_string()))
        .collect();
        assert_eq!(
            keys.phaxio(&message(b"", url, Some(&fields))).unwrap(),
            "931bc5b6bfeb814a771e587d9972da2c010ef076"
        );
        assert_eq!(
            keys.phaxio(&message(br#"{"x":1}"#, url, None)).unwrap(),
            "8be9810cb2e783eef90e6d4d55d6f35e87668718"
        );
    }

    // Computed with Python's hmac and hashlib from the published algorithm.
    #[test]
    fn phaxio_signs_file_parts_by_name_and_sha1_after_the_fields() {
        let keys = Keys::decode(&[], &[], &["test-callback-token"]).unwrap();
        let fields = [
            ("fax", r#"{"id":1}"#.to_string()),
            ("event_type", "fax_completed".to_string()),
        ];
        let files = [
            (
                "file",
                "a6a1c8998d4f5f1b2224127ad170540cd46ebf3d".to_string(),
            ),
            (
                "cover",
                "a555df26e6199d1fb091cde390bd831be7f8cfb4".to_string(),
            ),
        ];
        let m = Message {
            form_files: &files,
            ..message(b"", "https://example.com/cb?x=1", Some(&fields))
        };
        assert_eq!(
            keys.phaxio(&m).unwrap(),
            "9ecf2c433dcbaa4e2d5a30a664806257672628fc"
        );
    }

    /// A body fed in pieces, counting how often it was read.
    struct Pieces(Vec<&'static [u8]>, std::cell::Cell<u32>);

    impl Replay for Pieces {
        fn replay(&self, sink: &mut dyn FnMut(&[u8])) -> Result<(), ReplayError> {
            self.1.set(self.1.get() + 1);
            self.0.iter().for_each(|piece| sink(piece));
            Ok(())
        }
    }

    #[test]
    fn a_replayed_body_signs_like_the_same_bytes_in_memory() {
        let seed = STANDARD.encode([9u8; 32]);
        let keys =
            Keys::decode(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], &[&seed], &[]).unwrap();
        let whole = message(b"--b\r\nfile bytes\r\n--b--", "u", None);
        let pieces = Pieces(vec![b"--b\r\n", b"file ", b"bytes\r\n--b--"], 0.into());
        let replayed = Message {
            body: Body::Replayed(&pieces),
            ..whole
        };
        let schemes = [Scheme::Standard, Scheme::Telnyx];
        assert_eq!(
            keys.headers(&schemes, &replayed).unwrap(),
            keys.headers(&schemes, &whole).unwrap()
        );
        // HMAC once, each Ed25519 signature twice (v1a and Telnyx).
        assert_eq!(pieces.1.get(), 5);
    }

    struct Unreadable;

    impl Replay for Unreadable {
        fn replay(&self, _: &mut dyn FnMut(&[u8])) -> Result<(), ReplayError> {
            Err(ReplayError("gone".into()))
        }
    }

    #[test]
    fn a_body_that_cannot_be_read_makes_no_signature() {
        let seed = STANDARD.encode([9u8; 32]);
        let keys = Keys::decode(&[], &[&seed], &[]).unwrap();
        let m = Message {
            body: Body::Replayed(&Unreadable),
            ..message(b"", "u", None)
        };
        for scheme in [Scheme::Standard, Scheme::Telnyx] {
            assert_eq!(keys.headers(&[scheme], &m), Err(ReplayError("gone".into())));
        }
    }

    #[test]
    fn bad_key_material_is_named() {
        assert!(matches!(
            Keys::decode(&["whsec_***"], &[], &[]),
            Err(KeyError::NotBase64(_))
        ));
        assert_eq!(
            Keys::decode(&[], &["AAAA"], &[]).err(),
            Some(KeyError::SeedLength(3))
        );
    }

    #[test]
    fn without_keys_a_scheme_adds_no_header() {
        let keys = Keys::decode(&[], &[], &[]).unwrap();
        assert!(keys
            .headers(
                &[Scheme::Telnyx, Scheme::Phaxio],
                &message(b"{}", "u", None)
            )
            .unwrap()
            .is_empty());
    }
}
