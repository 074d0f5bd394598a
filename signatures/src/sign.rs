//! Signing: the headers hookpost puts on a delivery, per scheme.

use crate::content;
use crate::keys::{decode_seed, decode_whsec, KeyError};
use crate::Scheme;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::Mac;

/// What one request's signatures cover.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The message id (`webhook-id`; hookpost's event id).
    pub id: &'a str,
    /// Unix seconds, the same for every scheme of the request.
    pub timestamp: i64,
    /// The URL the request goes to, as the receiver configured it (the Phaxio
    /// scheme signs it so).
    pub url: &'a str,
    /// The body, as sent.
    pub body: &'a [u8],
    /// For a form body: its fields by name, as sent (the Phaxio scheme signs
    /// these instead of the body).
    pub form_fields: Option<&'a [(&'a str, String)]>,
}

/// An account's keys, decoded once and ready to sign. Lists are newest first:
/// during a rotation the old key follows the new, and schemes whose header holds
/// several signatures (Standard Webhooks) sign with both.
pub struct Keys {
    hmac: Vec<Vec<u8>>,
    ed25519: Vec<SigningKey>,
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
                .map(|s| decode_seed(s))
                .collect::<Result<_, _>>()?,
            phaxio: phaxio_tokens
                .iter()
                .map(|t| t.as_bytes().to_vec())
                .collect(),
        })
    }

    /// The headers of every scheme in `schemes` for one request, in that order.
    pub fn headers(
        &self,
        schemes: &[Scheme],
        message: &Message<'_>,
    ) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(6);
        for scheme in schemes {
            match scheme {
                Scheme::Standard => {
                    headers.push(("webhook-id", message.id.to_string()));
                    headers.push(("webhook-timestamp", message.timestamp.to_string()));
                    headers.push(("webhook-signature", self.standard(message)));
                }
                Scheme::Telnyx => {
                    if let Some(signature) = self.telnyx(message) {
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
        headers
    }

    /// `v1,<HMAC-SHA256>` for each secret, then `v1a,<Ed25519>` for each key, over
    /// `{id}.{timestamp}.{body}`, space-separated (Standard Webhooks).
    pub fn standard(&self, m: &Message<'_>) -> String {
        let content = content::standard(m.id, &m.timestamp.to_string(), m.body);
        let hmacs = self.hmac.iter().map(|key| {
            let mac = content::hmac_sha256(key, &content);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        });
        let asymmetric = self
            .ed25519
            .iter()
            .map(|k| format!("v1a,{}", STANDARD.encode(k.sign(&content).to_bytes())));
        hmacs.chain(asymmetric).collect::<Vec<_>>().join(" ")
    }

    /// Base64 Ed25519 over `{timestamp}|{body}` with the newest key (Telnyx). The
    /// header holds one signature, so only the newest key signs it.
    pub fn telnyx(&self, m: &Message<'_>) -> Option<String> {
        let key = self.ed25519.first()?;
        let content = content::telnyx(&m.timestamp.to_string(), m.body);
        Some(STANDARD.encode(key.sign(&content).to_bytes()))
    }

    /// Hex HMAC-SHA1 with the newest callback token over the URL, then each form
    /// field's name and value sorted by name; for a body that is not a form, over
    /// the URL then the body.
    pub fn phaxio(&self, m: &Message<'_>) -> Option<String> {
        let token = self.phaxio.first()?;
        let mac = content::phaxio(token, m.url, m.body, m.form_fields);
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
            body,
            form_fields,
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
            body: br#"{"test": 2432232314}"#,
            form_fields: None,
        };
        assert_eq!(
            keys.standard(&m),
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
        let headers = keys.headers(&schemes, &message(b"{}", "https://x.example/", None));
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
            .is_empty());
    }
}
