//! Decoding key material, for signing ([`Keys`](crate::Keys)) and for verifying
//! ([`VerifyKeys`](crate::VerifyKeys)), with one error type for both.

use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};

/// Key material that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not base64 (after an optional `whsec_` or `whpk_` prefix).
    #[error("a signing key is not base64: {0}")]
    NotBase64(String),
    /// An Ed25519 seed that is not 32 bytes long.
    #[error("an Ed25519 seed is 32 bytes, this one is {0}")]
    SeedLength(usize),
    /// An Ed25519 public key that is not 32 bytes long.
    #[error("an Ed25519 public key is 32 bytes, this one is {0}")]
    PublicKeyLength(usize),
    /// 32 bytes that are not a point of the curve, so no signature can match.
    #[error("not an Ed25519 public key (32 bytes, but not a curve point)")]
    NotAPublicKey,
    /// An empty secret or callback token: anyone could sign with it, so a
    /// verifier refuses it rather than accept forgeries.
    #[error("an empty secret or callback token verifies nothing")]
    Empty,
}

/// The raw secret bytes of a `whsec_<base64>` secret (signing side: canonical
/// padding, as hookpost writes them).
pub(crate) fn decode_whsec(secret: &str) -> Result<Vec<u8>, KeyError> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(b64)
        .map_err(|e| KeyError::NotBase64(e.to_string()))
}

/// An Ed25519 signing key from the base64 of its 32-byte seed.
pub(crate) fn decode_seed(seed: &str) -> Result<SigningKey, KeyError> {
    let bytes = STANDARD
        .decode(seed)
        .map_err(|e| KeyError::NotBase64(e.to_string()))?;
    let len = bytes.len();
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::SeedLength(len))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// A verifier's HMAC secret: `whsec_<base64>` or bare base64, padded or not
/// (the `standardwebhooks` libraries accept both), never empty.
pub(crate) fn decode_verify_secret(secret: &str) -> Result<Vec<u8>, KeyError> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    let bytes = STANDARD_PAD_INDIFFERENT
        .decode(b64)
        .map_err(|e| KeyError::NotBase64(e.to_string()))?;
    if bytes.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(bytes)
}

/// An Ed25519 public key: base64 of its raw 32 bytes, optionally `whpk_`-prefixed
/// (the Standard Webhooks spelling).
pub(crate) fn decode_public_key(key: &str) -> Result<VerifyingKey, KeyError> {
    let b64 = key.strip_prefix("whpk_").unwrap_or(key);
    let bytes = STANDARD_PAD_INDIFFERENT
        .decode(b64)
        .map_err(|e| KeyError::NotBase64(e.to_string()))?;
    let len = bytes.len();
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| KeyError::PublicKeyLength(len))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotAPublicKey)
}

/// A Phaxio callback token, used as it is (its bytes are the HMAC key).
pub(crate) fn decode_callback_token(token: &str) -> Result<Vec<u8>, KeyError> {
    if token.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(token.as_bytes().to_vec())
}
