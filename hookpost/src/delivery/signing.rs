//! Signatures, per the scheme table of the spec. Each scheme signs the exact body
//! bytes that are sent; the same timestamp is used for every scheme of a request.

use super::envelope::Body;
use crate::domain::settings::SignatureScheme;
use crate::secrets::SigningKeys;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// An account's keys, decoded once and ready to sign.
pub struct AccountSigner {
    hmac: Vec<Vec<u8>>,
    ed25519: Vec<SigningKey>,
    phaxio: Vec<Vec<u8>>,
}

/// A stored key that does not decode: corrupt data.
#[derive(Debug, thiserror::Error)]
#[error("stored signing key is malformed: {0}")]
pub struct KeyError(String);

/// What a request's signatures cover.
pub struct Signed<'a> {
    /// The event id (`webhook-id`).
    pub msg_id: &'a str,
    /// Unix seconds, the same for every scheme of the request.
    pub timestamp: i64,
    /// The URL the request goes to, as sent (Phaxio signs it).
    pub url: &'a str,
    /// The body as sent.
    pub body: &'a Body,
}

impl AccountSigner {
    /// Decodes stored key material.
    pub fn new(keys: &SigningKeys) -> Result<Self, KeyError> {
        Ok(AccountSigner {
            hmac: decode_all(&keys.hmac, decode_whsec)?,
            ed25519: decode_all(&keys.ed25519, decode_seed)?,
            phaxio: keys
                .phaxio
                .iter()
                .map(|s| s.expose().as_bytes().to_vec())
                .collect(),
        })
    }

    /// The headers of every scheme in `schemes` for one request.
    pub fn headers(
        &self,
        schemes: &[SignatureScheme],
        signed: &Signed<'_>,
    ) -> Vec<(&'static str, String)> {
        let (msg_id, timestamp, body) = (signed.msg_id, signed.timestamp, &signed.body.bytes[..]);
        let mut headers = Vec::with_capacity(6);
        for scheme in schemes {
            match scheme {
                SignatureScheme::Standard => {
                    headers.push(("webhook-id", msg_id.to_string()));
                    headers.push(("webhook-timestamp", timestamp.to_string()));
                    headers.push(("webhook-signature", self.standard(msg_id, timestamp, body)));
                }
                SignatureScheme::Telnyx => {
                    headers.push(("telnyx-timestamp", timestamp.to_string()));
                    headers.push(("telnyx-signature-ed25519", self.telnyx(timestamp, body)));
                }
                SignatureScheme::Phaxio => {
                    if let Some(signature) = self.phaxio(signed.url, signed.body) {
                        headers.push(("x-phaxio-signature", signature));
                    }
                }
            }
        }
        headers
    }

    /// Hex HMAC-SHA1 with the callback token over the URL, then each form field's
    /// name and value sorted by name (there are no file parts); for a JSON body,
    /// over the URL then the body.
    fn phaxio(&self, url: &str, body: &Body) -> Option<String> {
        let token = self.phaxio.first()?;
        let mut mac = Hmac::<Sha1>::new_from_slice(token).expect("HMAC takes any key length");
        mac.update(url.as_bytes());
        if body.fields.is_empty() {
            mac.update(&body.bytes);
        } else {
            let mut fields: Vec<_> = body.fields.iter().collect();
            fields.sort_by_key(|(name, _)| *name);
            for (name, value) in fields {
                mac.update(name.as_bytes());
                mac.update(value.as_bytes());
            }
        }
        Some(
            mac.finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }

    /// `v1,<HMAC-SHA256>` for each secret, then `v1a,<Ed25519>` for each key, over
    /// `{id}.{timestamp}.{body}`, space-separated (Standard Webhooks).
    fn standard(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let prefix = format!("{msg_id}.{timestamp}.");
        let hmacs = self.hmac.iter().map(|key| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(prefix.as_bytes());
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        });
        let content = [prefix.as_bytes(), body].concat();
        let asymmetric = self
            .ed25519
            .iter()
            .map(|k| format!("v1a,{}", STANDARD.encode(k.sign(&content).to_bytes())));
        hmacs.chain(asymmetric).collect::<Vec<_>>().join(" ")
    }

    /// Base64 Ed25519 over `{timestamp}|{body}` with the current key (Telnyx). The
    /// header holds one signature, so only the newest key signs it.
    fn telnyx(&self, timestamp: i64, body: &[u8]) -> String {
        let Some(key) = self.ed25519.first() else {
            return String::new();
        };
        let content = [format!("{timestamp}|").as_bytes(), body].concat();
        STANDARD.encode(key.sign(&content).to_bytes())
    }
}

fn decode_all<T>(
    list: &[crate::secrets::Secret],
    decode: fn(&str) -> Result<T, KeyError>,
) -> Result<Vec<T>, KeyError> {
    list.iter().map(|s| decode(s.expose())).collect()
}

/// The raw secret bytes of a `whsec_<base64>` secret.
fn decode_whsec(secret: &str) -> Result<Vec<u8>, KeyError> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(b64).map_err(|e| KeyError(e.to_string()))
}

fn decode_seed(seed: &str) -> Result<SigningKey, KeyError> {
    let bytes: [u8; 32] = STANDARD
        .decode(seed)
        .map_err(|e| KeyError(e.to_string()))?
        .try_into()
        .map_err(|_| KeyError("an Ed25519 seed is 32 bytes".into()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// The public halves of an account's Ed25519 keys, base64 (raw 32 bytes), newest
/// first: what receivers configure to verify.
pub fn public_keys(keys: &SigningKeys) -> Result<Vec<String>, KeyError> {
    keys.ed25519
        .iter()
        .map(|s| decode_seed(s.expose()).map(|k| STANDARD.encode(k.verifying_key().to_bytes())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secret;

    // A test vector computed from the Standard Webhooks specification with the
    // reference secret of its documentation, not by this module.
    #[test]
    fn standard_hmac_matches_the_specification_example() {
        let keys = SigningKeys {
            hmac: vec![Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
            ed25519: vec![],
            phaxio: vec![],
            previous_until: None,
        };
        let signer = AccountSigner::new(&keys).unwrap();
        let sig = signer.standard(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    fn json(bytes: &[u8]) -> Body {
        Body {
            content_type: "application/json".into(),
            bytes: bytes.to_vec(),
            fields: vec![],
        }
    }

    fn signed<'a>(body: &'a Body, url: &'a str) -> Signed<'a> {
        Signed {
            msg_id: "evt",
            timestamp: 1_700_000_000,
            url,
            body,
        }
    }

    #[test]
    fn every_requested_scheme_gets_its_headers() {
        let signer = AccountSigner::new(&SigningKeys::generate()).unwrap();
        let schemes = [
            SignatureScheme::Standard,
            SignatureScheme::Telnyx,
            SignatureScheme::Phaxio,
        ];
        let body = json(b"{}");
        let headers = signer.headers(&schemes, &signed(&body, "https://x.example/"));
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
        let sig = &headers[2].1;
        assert!(sig.starts_with("v1,") && sig.contains(" v1a,"));
        assert!(signer
            .headers(&[], &signed(&body, "https://x.example/"))
            .is_empty());
    }

    // Expected values computed with Python's hmac module from the published
    // algorithm, not by this module.
    #[test]
    fn phaxio_signs_the_url_then_sorted_fields_or_the_body() {
        let keys = SigningKeys {
            hmac: vec![],
            ed25519: vec![],
            phaxio: vec![Secret::new("test-callback-token")],
            previous_until: None,
        };
        let signer = AccountSigner::new(&keys).unwrap();
        let url = "https://example.com/cb?x=1";
        let fields = [
            ("event_type", "fax.delivered"),
            ("id", "e1"),
            ("occurred_at", "2026-01-07T10:01:43Z"),
            ("attempt", "1"),
            ("delivered_to", url),
            ("payload", r#"{"a":1}"#),
        ];
        let form = Body {
            content_type: "multipart/form-data".into(),
            bytes: vec![],
            fields: fields.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        };
        assert_eq!(
            signer.phaxio(url, &form).unwrap(),
            "931bc5b6bfeb814a771e587d9972da2c010ef076"
        );
        assert_eq!(
            signer.phaxio(url, &json(br#"{"x":1}"#)).unwrap(),
            "8be9810cb2e783eef90e6d4d55d6f35e87668718"
        );
    }
}
