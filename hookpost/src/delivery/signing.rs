//! Signatures, per the scheme table of the spec. Each scheme signs the exact body
//! bytes that are sent; the same timestamp is used for every scheme of a request.

use crate::domain::settings::SignatureScheme;
use crate::secrets::SigningKeys;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// An account's keys, decoded once and ready to sign.
pub struct AccountSigner {
    hmac: Vec<Vec<u8>>,
    ed25519: Vec<SigningKey>,
}

/// A stored key that does not decode: corrupt data.
#[derive(Debug, thiserror::Error)]
#[error("stored signing key is malformed: {0}")]
pub struct KeyError(String);

impl AccountSigner {
    /// Decodes stored key material.
    pub fn new(keys: &SigningKeys) -> Result<Self, KeyError> {
        let hmac = keys
            .hmac
            .iter()
            .map(|s| decode_whsec(s.expose()))
            .collect::<Result<Vec<_>, _>>()?;
        let ed25519 = keys
            .ed25519
            .iter()
            .map(|s| decode_seed(s.expose()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AccountSigner { hmac, ed25519 })
    }

    /// The headers of every scheme in `schemes` for one request.
    pub fn headers(
        &self,
        schemes: &[SignatureScheme],
        msg_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let mut headers = Vec::with_capacity(4);
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
            }
        }
        headers
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
        };
        let signer = AccountSigner::new(&keys).unwrap();
        let sig = signer.standard(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_requested_scheme_gets_its_headers() {
        let signer = AccountSigner::new(&SigningKeys::generate()).unwrap();
        let schemes = [SignatureScheme::Standard, SignatureScheme::Telnyx];
        let headers = signer.headers(&schemes, "evt", 1_700_000_000, b"{}");
        let names: Vec<_> = headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
                "telnyx-timestamp",
                "telnyx-signature-ed25519"
            ]
        );
        let sig = &headers[2].1;
        assert!(sig.starts_with("v1,") && sig.contains(" v1a,"));
        assert!(signer.headers(&[], "evt", 1, b"{}").is_empty());
    }
}
