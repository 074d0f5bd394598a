//! One Ed25519 signing key and the signature it makes over a scheme's prefix
//! then the body (RFC 8032, not prehashed).
//!
//! A signature is most of what a delivery costs its sender, so with the
//! `aws-lc` feature a body held in memory is signed by AWS-LC (`aws-lc-rs`),
//! whose assembly signs a 1.3 KB body in about 60% of `ed25519-dalek`'s time on
//! x86-64. Ed25519 is deterministic: both give the same bytes. A body read
//! again from storage for each pass (one carrying a large file) is always
//! signed by `ed25519-dalek`, which hashes the message as a stream and so never
//! holds it whole; without the feature, every body is.

use crate::sign::{Body, ReplayError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::hazmat::{raw_sign_byupdate, ExpandedSecretKey};
use ed25519_dalek::{SignatureError, SigningKey};
use sha2::{Digest, Sha512};

/// A decoded Ed25519 key, ready to sign.
pub(crate) struct Ed25519Key {
    dalek: SigningKey,
    #[cfg(feature = "aws-lc")]
    aws_lc: aws_lc_rs::signature::Ed25519KeyPair,
}

impl Ed25519Key {
    /// The key of a decoded 32-byte seed.
    pub(crate) fn new(dalek: SigningKey) -> Ed25519Key {
        Ed25519Key {
            #[cfg(feature = "aws-lc")]
            aws_lc: aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(dalek.as_bytes())
                .expect("every 32-byte seed is an Ed25519 key"),
            dalek,
        }
    }

    /// Base64 of the signature over `prefix` then `body`.
    pub(crate) fn sign(&self, prefix: &str, body: Body<'_>) -> Result<String, ReplayError> {
        #[cfg(feature = "aws-lc")]
        if let Body::Bytes(bytes) = body {
            let mut message = Vec::with_capacity(prefix.len() + bytes.len());
            message.extend_from_slice(prefix.as_bytes());
            message.extend_from_slice(bytes);
            return Ok(STANDARD.encode(self.aws_lc.sign(&message)));
        }
        self.sign_streaming(prefix, body)
    }

    /// The signature through `ed25519-dalek`, hashing the message twice as it
    /// is fed, so a replayed body is read twice and never held whole.
    fn sign_streaming(&self, prefix: &str, body: Body<'_>) -> Result<String, ReplayError> {
        let expanded = ExpandedSecretKey::from(self.dalek.as_bytes());
        let failed = std::cell::RefCell::new(None);
        let update = |digest: &mut Sha512| {
            body.feed(prefix, &mut |chunk| digest.update(chunk))
                .map_err(|e| {
                    *failed.borrow_mut() = Some(e);
                    SignatureError::new()
                })
        };
        match raw_sign_byupdate::<Sha512, _>(&expanded, update, &self.dalek.verifying_key()) {
            Ok(signature) => Ok(STANDARD.encode(signature.to_bytes())),
            Err(_) => Err(failed
                .into_inner()
                .unwrap_or_else(|| ReplayError("the Ed25519 signer refused".into()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    fn key() -> Ed25519Key {
        Ed25519Key::new(SigningKey::from_bytes(&[42; 32]))
    }

    // Only with the feature do the two paths differ (AWS-LC and dalek).
    #[cfg(feature = "aws-lc")]
    #[test]
    fn a_body_in_memory_and_the_same_body_streamed_sign_alike() {
        let body = vec![b'x'; 1300];
        let prefix = "evt_1.1700000000.";
        let in_memory = key().sign(prefix, Body::Bytes(&body)).unwrap();
        let streamed = key().sign_streaming(prefix, Body::Bytes(&body)).unwrap();
        assert_eq!(in_memory, streamed);
    }

    #[test]
    fn the_signature_verifies_over_prefix_then_body() {
        let signed = key()
            .sign("1700000000|", Body::Bytes(b"{\"a\":1}"))
            .unwrap();
        let bytes: [u8; 64] = STANDARD.decode(signed).unwrap().try_into().unwrap();
        let public = SigningKey::from_bytes(&[42; 32]).verifying_key();
        let signature = Signature::from_bytes(&bytes);
        assert!(public.verify(b"1700000000|{\"a\":1}", &signature).is_ok());
        assert!(public.verify(b"1700000000|{\"a\":2}", &signature).is_err());
    }
}
