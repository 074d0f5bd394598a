//! Secrets: API keys (kept only as hashes), the admin token and the signing keys
//! of each account. Every secret sits in a wrapper whose `Debug` prints `***`, so a
//! stray `{:?}` in a log line cannot leak one.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret string; `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// A new API key (`hp_…`, shown once) and the hash that is stored in its place.
pub fn new_api_key() -> (Secret, [u8; 32]) {
    let key = format!("hp_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
    let hash = hash_token(&key);
    (Secret(key), hash)
}

/// The SHA-256 of a token. API keys have 256 bits of entropy, so a fast hash is
/// enough: nobody can search that space, and lookups stay one index probe.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares a presented token with the configured one in constant time (over their
/// hashes, so lengths leak nothing either).
pub fn token_matches(presented: &str, expected: &Secret) -> bool {
    hash_token(presented)
        .ct_eq(&hash_token(expected.expose()))
        .into()
}

pub use crate::domain::keys::SigningKeys;

impl SigningKeys {
    /// Fresh keys for a new account, or for a rotation.
    pub fn generate() -> Self {
        SigningKeys {
            hmac: vec![new_hmac_secret()],
            ed25519: vec![new_ed25519_seed()],
            phaxio: vec![new_callback_token()],
            previous_until: None,
        }
    }
}

/// A new `whsec_` secret: 32 random bytes, base64.
pub fn new_hmac_secret() -> Secret {
    Secret(format!("whsec_{}", STANDARD.encode(random_bytes::<32>())))
}

/// A new Phaxio-style callback token: 32 random bytes, hex.
pub fn new_callback_token() -> Secret {
    Secret(
        random_bytes::<32>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// A new Ed25519 private key seed, base64.
pub fn new_ed25519_seed() -> Secret {
    Secret(STANDARD.encode(random_bytes::<32>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hp_very_secret");
        assert_eq!(format!("{s:?}"), "***");
        let keys = SigningKeys::generate();
        assert!(!format!("{keys:?}").contains("whsec_"));
    }

    #[test]
    fn api_keys_are_checked_by_hash() {
        let (key, hash) = new_api_key();
        assert!(key.expose().starts_with("hp_"));
        assert_eq!(hash_token(key.expose()), hash);
        assert!(token_matches("admin-token", &Secret::new("admin-token")));
        assert!(!token_matches("admin-tokem", &Secret::new("admin-token")));
    }
}
