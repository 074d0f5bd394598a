//! Signatures, per the scheme table of the spec, through the
//! `hookpost-signatures` crate (which holds the algorithms and their test
//! vectors). This module only connects the account's stored keys and a
//! delivery's body to it; the same timestamp is used for every scheme of a
//! request.

use super::envelope::Body;
use crate::domain::settings::SignatureScheme;
use crate::secrets::{Secret, SigningKeys};
use hookpost_signatures::{Keys, Message, Scheme};

pub use hookpost_signatures::KeyError;

/// An account's keys, decoded once and ready to sign.
pub struct AccountSigner {
    keys: Keys,
}

/// What a request's signatures cover.
pub struct Signed<'a> {
    /// The event id (`webhook-id`).
    pub msg_id: &'a str,
    /// Unix seconds, the same for every scheme of the request.
    pub timestamp: i64,
    /// The URL the request goes to as the customer configured it, credentials
    /// included (Phaxio signs it; the request line carries its normalised form).
    pub url: &'a str,
    /// The body as sent.
    pub body: &'a Body,
}

impl AccountSigner {
    /// Decodes stored key material.
    pub fn new(keys: &SigningKeys) -> Result<Self, KeyError> {
        fn exposed(list: &[Secret]) -> Vec<&str> {
            list.iter().map(Secret::expose).collect()
        }
        Ok(AccountSigner {
            keys: Keys::decode(
                &exposed(&keys.hmac),
                &exposed(&keys.ed25519),
                &exposed(&keys.phaxio),
            )?,
        })
    }

    /// The headers of every scheme in `schemes` for one request.
    pub fn headers(
        &self,
        schemes: &[SignatureScheme],
        signed: &Signed<'_>,
    ) -> Vec<(&'static str, String)> {
        let schemes: Vec<Scheme> = schemes.iter().map(|s| scheme(*s)).collect();
        let message = Message {
            id: signed.msg_id,
            timestamp: signed.timestamp,
            url: signed.url,
            body: &signed.body.bytes,
            form_fields: (!signed.body.fields.is_empty()).then_some(&signed.body.fields[..]),
        };
        self.keys.headers(&schemes, &message)
    }
}

fn scheme(s: SignatureScheme) -> Scheme {
    match s {
        SignatureScheme::Standard => Scheme::Standard,
        SignatureScheme::Telnyx => Scheme::Telnyx,
        SignatureScheme::Phaxio => Scheme::Phaxio,
    }
}

/// The public halves of an account's Ed25519 keys, base64 (raw 32 bytes), newest
/// first: what receivers configure to verify.
pub fn public_keys(keys: &SigningKeys) -> Result<Vec<String>, KeyError> {
    keys.ed25519
        .iter()
        .map(|s| hookpost_signatures::public_key(s.expose()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_is_signed_over_its_fields_and_json_over_its_body() {
        let keys = SigningKeys {
            hmac: vec![],
            ed25519: vec![],
            phaxio: vec![Secret::new("test-callback-token")],
            previous_until: None,
        };
        let signer = AccountSigner::new(&keys).unwrap();
        let url = "https://example.com/cb?x=1";
        let form = Body {
            content_type: "multipart/form-data".into(),
            bytes: b"--not what is signed--".to_vec(),
            fields: vec![("id", "e1".to_string())],
        };
        let json = Body {
            content_type: "application/json".into(),
            bytes: br#"{"x":1}"#.to_vec(),
            fields: vec![],
        };
        let sign = |body: &Body| {
            let signed = Signed {
                msg_id: "e1",
                timestamp: 1,
                url,
                body,
            };
            signer.headers(&[SignatureScheme::Phaxio], &signed)[0]
                .1
                .clone()
        };
        // The JSON value was computed with Python's hmac from the published algorithm.
        assert_eq!(sign(&json), "8be9810cb2e783eef90e6d4d55d6f35e87668718");
        assert_ne!(
            sign(&form),
            sign(&Body {
                fields: vec![],
                ..form.clone()
            })
        );
    }
}
