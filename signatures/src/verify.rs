//! Verifying: the receiver's side of every scheme. Timestamps are checked
//! against a tolerance (Standard Webhooks, Telnyx), every key of a rotation is
//! tried, and every comparison of a signature is constant-time (`hmac`'s
//! `verify_slice`, `ed25519-dalek`'s `verify_strict`).

use crate::content;
use crate::keys::{decode_callback_token, decode_public_key, decode_verify_secret, KeyError};
use crate::Scheme;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use hmac::Mac;
use std::fmt;
use std::time::Duration;

/// The most entries a `webhook-signature` header may hold. A rotation sends two
/// or four; the cap keeps a hostile header from costing thousands of Ed25519
/// verifications.
const MAX_SIGNATURES: usize = 32;

/// Keys a receiver verifies with. Lists newest first; any one key may match.
pub struct VerifyKeys {
    /// HMAC secrets (Standard Webhooks `v1`).
    hmac: Vec<Vec<u8>>,
    /// Ed25519 public keys (Standard Webhooks `v1a`, Telnyx).
    ed25519: Vec<VerifyingKey>,
    /// Phaxio callback tokens.
    phaxio: Vec<Vec<u8>>,
}

impl VerifyKeys {
    /// `whsec_<base64>` (or bare base64) HMAC secrets; Ed25519 public keys as
    /// base64 of the raw 32 bytes or `whpk_<base64>`; Phaxio callback tokens
    /// (used as they are). Base64 may be padded or not; an empty secret or token
    /// is refused ([`KeyError::Empty`]).
    pub fn decode(
        secrets: &[&str],
        public_keys: &[&str],
        callback_tokens: &[&str],
    ) -> Result<VerifyKeys, KeyError> {
        Ok(VerifyKeys {
            hmac: secrets
                .iter()
                .map(|s| decode_verify_secret(s))
                .collect::<Result<_, _>>()?,
            ed25519: public_keys
                .iter()
                .map(|k| decode_public_key(k))
                .collect::<Result<_, _>>()?,
            phaxio: callback_tokens
                .iter()
                .map(|t| decode_callback_token(t))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Counts only: key material never reaches a log.
impl fmt::Debug for VerifyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKeys")
            .field("secrets", &self.hmac.len())
            .field("public_keys", &self.ed25519.len())
            .field("callback_tokens", &self.phaxio.len())
            .finish()
    }
}

/// One received request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The request's headers; names compared case-insensitively. When a name
    /// repeats, the first one counts.
    pub headers: &'a [(&'a str, &'a str)],
    /// The callback URL as the receiver configured it with the sender, userinfo
    /// included (Phaxio signs it so, not the request line's form).
    pub url: &'a str,
    /// The body, exactly as received.
    pub body: &'a [u8],
    /// A multipart body's text fields, for Phaxio (which then signs them
    /// instead of the body).
    pub form_fields: Option<&'a [(&'a str, String)]>,
    /// A multipart body's file parts: field name and the hex SHA-1 of the
    /// file's contents (Phaxio signs these after the fields). Empty when the
    /// body has no files.
    pub form_files: &'a [(&'a str, String)],
}

impl Request<'_> {
    fn form(&self) -> Option<content::FormParts<'_>> {
        self.form_fields.map(|fields| content::FormParts {
            fields,
            files: self.form_files,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    fn require(&self, name: &'static str) -> Result<&str, VerifyError> {
        self.header(name).ok_or(VerifyError::MissingHeader(name))
    }
}

/// Why a request's signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header the scheme needs is absent (its name, e.g. `webhook-signature`).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is there but does not parse (not a number, not base64, a
    /// signature of the wrong length, too many signatures).
    #[error("malformed header {header}: {detail}")]
    BadEncoding {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The timestamp is outside the tolerance, in the past or the future: a
    /// replay, or a clock far off.
    #[error("timestamp {timestamp} is outside the tolerance (now is {now})")]
    Stale {
        /// The request's timestamp, Unix seconds.
        timestamp: i64,
        /// The receiver's time it was checked against.
        now: i64,
    },
    /// No key of the kind this scheme needs was configured.
    #[error("no key configured for this scheme")]
    NoKey,
    /// Well-formed, but no signature matched any key.
    #[error("no signature matches any key")]
    NoMatch,
}

/// Checks requests against a set of keys.
#[derive(Debug)]
pub struct Verifier {
    keys: VerifyKeys,
    /// How far a timestamp may be from `now`, either way, in whole seconds.
    tolerance_secs: u64,
}

impl Verifier {
    /// A verifier with the keys and a tolerance of 5 minutes (the Standard
    /// Webhooks default).
    pub fn new(keys: VerifyKeys) -> Verifier {
        Verifier {
            keys,
            tolerance_secs: 5 * 60,
        }
    }

    /// The same verifier with another tolerance (whole seconds count).
    pub fn tolerance(self, tolerance: Duration) -> Verifier {
        Verifier {
            tolerance_secs: tolerance.as_secs(),
            ..self
        }
    }

    /// Checks one scheme; `now` is Unix seconds (no clock in the crate).
    ///
    /// Checks run in this order, and the first that fails is the answer: the
    /// headers are there, a key of the right kind exists, the timestamp parses
    /// and is within the tolerance, the signatures parse, one matches. In a
    /// `webhook-signature` holding several, a malformed entry counts only when
    /// no other entry matches.
    pub fn verify(
        &self,
        scheme: Scheme,
        request: &Request<'_>,
        now: i64,
    ) -> Result<(), VerifyError> {
        match scheme {
            Scheme::Standard => self.standard(request, now),
            Scheme::Telnyx => self.telnyx(request, now),
            Scheme::Phaxio => self.phaxio(request),
        }
    }

    /// Every scheme whose headers the request carries (any one of them), with
    /// its verdict, in the order Standard, Telnyx, Phaxio. Empty when the
    /// request carries no signature at all.
    pub fn verify_present(
        &self,
        request: &Request<'_>,
        now: i64,
    ) -> Vec<(Scheme, Result<(), VerifyError>)> {
        Scheme::ALL
            .into_iter()
            .filter(|scheme| {
                headers_of(*scheme)
                    .iter()
                    .any(|h| request.header(h).is_some())
            })
            .map(|scheme| (scheme, self.verify(scheme, request, now)))
            .collect()
    }

    fn standard(&self, request: &Request<'_>, now: i64) -> Result<(), VerifyError> {
        let id = request.require("webhook-id")?;
        let timestamp = request.require("webhook-timestamp")?;
        let header = request.require("webhook-signature")?;
        if self.keys.hmac.is_empty() && self.keys.ed25519.is_empty() {
            return Err(VerifyError::NoKey);
        }
        self.fresh("webhook-timestamp", timestamp, now)?;
        let signatures = parse_standard(header)?;
        let content = content::joined(&content::standard_prefix(id, timestamp), request.body);
        let hmac_match = self.keys.hmac.iter().any(|key| {
            let mut mac = content::hmac_sha256(key);
            mac.update(&content);
            signatures
                .v1
                .iter()
                .any(|sig| mac.clone().verify_slice(sig).is_ok())
        });
        let ed25519_match = || {
            signatures.v1a.iter().any(|sig| {
                self.keys
                    .ed25519
                    .iter()
                    .any(|key| key.verify_strict(&content, sig).is_ok())
            })
        };
        if hmac_match || ed25519_match() {
            Ok(())
        } else if let Some(detail) = signatures.malformed {
            Err(bad("webhook-signature", detail))
        } else {
            Err(VerifyError::NoMatch)
        }
    }

    fn telnyx(&self, request: &Request<'_>, now: i64) -> Result<(), VerifyError> {
        let header = request.require("telnyx-signature-ed25519")?;
        let timestamp = request.require("telnyx-timestamp")?;
        if self.keys.ed25519.is_empty() {
            return Err(VerifyError::NoKey);
        }
        self.fresh("telnyx-timestamp", timestamp, now)?;
        let signature = decode_ed25519(header.trim())
            .map_err(|detail| bad("telnyx-signature-ed25519", detail))?;
        let content = content::joined(&content::telnyx_prefix(timestamp), request.body);
        if self
            .keys
            .ed25519
            .iter()
            .any(|key| key.verify_strict(&content, &signature).is_ok())
        {
            Ok(())
        } else {
            Err(VerifyError::NoMatch)
        }
    }

    fn phaxio(&self, request: &Request<'_>) -> Result<(), VerifyError> {
        let header = request.require("x-phaxio-signature")?;
        if self.keys.phaxio.is_empty() {
            return Err(VerifyError::NoKey);
        }
        let signature =
            decode_hex(header.trim(), 20).map_err(|detail| bad("x-phaxio-signature", detail))?;
        let matched = self.keys.phaxio.iter().any(|token| {
            content::phaxio(token, request.url, request.body, request.form())
                .verify_slice(&signature)
                .is_ok()
        });
        if matched {
            Ok(())
        } else {
            Err(VerifyError::NoMatch)
        }
    }

    /// The timestamp header parses as Unix seconds within the tolerance of `now`.
    fn fresh(&self, header: &'static str, value: &str, now: i64) -> Result<(), VerifyError> {
        let timestamp: i64 = value
            .parse()
            .map_err(|_| bad(header, "not a Unix timestamp in seconds".into()))?;
        // abs_diff cannot overflow, whatever the two values.
        if timestamp.abs_diff(now) > self.tolerance_secs {
            return Err(VerifyError::Stale { timestamp, now });
        }
        Ok(())
    }
}

/// The headers whose presence means a request carries `scheme`.
fn headers_of(scheme: Scheme) -> &'static [&'static str] {
    match scheme {
        Scheme::Standard => &["webhook-id", "webhook-timestamp", "webhook-signature"],
        Scheme::Telnyx => &["telnyx-timestamp", "telnyx-signature-ed25519"],
        Scheme::Phaxio => &["x-phaxio-signature"],
    }
}

fn bad(header: &'static str, detail: String) -> VerifyError {
    VerifyError::BadEncoding { header, detail }
}

/// The signatures of a `webhook-signature` header, by version.
struct StandardSignatures {
    /// `v1`: HMAC-SHA256 tags, 32 bytes each.
    v1: Vec<Vec<u8>>,
    /// `v1a`: Ed25519 signatures.
    v1a: Vec<Signature>,
    /// What was wrong with the first malformed entry, if any: reported only
    /// when no other entry matches, since one valid signature is enough.
    malformed: Option<String>,
}

/// Splits `v1,<base64> v1a,<base64> …`: entries separated by spaces, unknown
/// versions ignored (as the specification asks, so new versions can be added).
fn parse_standard(header: &str) -> Result<StandardSignatures, VerifyError> {
    let entries: Vec<&str> = header.split(' ').filter(|e| !e.is_empty()).collect();
    if entries.is_empty() {
        return Err(bad("webhook-signature", "no signature".into()));
    }
    if entries.len() > MAX_SIGNATURES {
        return Err(bad(
            "webhook-signature",
            format!(
                "{} signatures, at most {MAX_SIGNATURES} are read",
                entries.len()
            ),
        ));
    }
    let mut signatures = StandardSignatures {
        v1: Vec::new(),
        v1a: Vec::new(),
        malformed: None,
    };
    for (n, entry) in entries.iter().enumerate() {
        let parsed = match entry.split_once(',') {
            None => Err("is not `version,signature`".to_string()),
            Some(("v1", b64)) => decode_base64(b64, 32).map(|tag| signatures.v1.push(tag)),
            Some(("v1a", b64)) => decode_ed25519(b64).map(|sig| signatures.v1a.push(sig)),
            Some(_) => Ok(()),
        };
        if let Err(detail) = parsed {
            signatures
                .malformed
                .get_or_insert_with(|| format!("signature {}: {detail}", n + 1));
        }
    }
    Ok(signatures)
}

/// Base64 (padded or not) of exactly `len` bytes.
fn decode_base64(b64: &str, len: usize) -> Result<Vec<u8>, String> {
    let bytes = STANDARD_PAD_INDIFFERENT
        .decode(b64)
        .map_err(|e| format!("not base64 ({e})"))?;
    if bytes.len() != len {
        return Err(format!("{} bytes, expected {len}", bytes.len()));
    }
    Ok(bytes)
}

/// A base64 Ed25519 signature (64 bytes).
fn decode_ed25519(b64: &str) -> Result<Signature, String> {
    let bytes: [u8; 64] = decode_base64(b64, 64)?
        .try_into()
        .expect("decode_base64 checked the length");
    Ok(Signature::from_bytes(&bytes))
}

/// Hex (either case) of exactly `len` bytes.
fn decode_hex(hex: &str, len: usize) -> Result<Vec<u8>, String> {
    if hex.len() != 2 * len {
        return Err(format!(
            "{} characters, expected {} hex digits",
            hex.len(),
            2 * len
        ));
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(high), Some(low)) => Ok((high * 16 + low) as u8),
                _ => Err("not hex".to_string()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
