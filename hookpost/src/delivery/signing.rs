//! Signatures, per the scheme table of the spec, through the
//! `hookpost-signatures` crate (which holds the algorithms and their test
//! vectors). This module only connects the account's stored keys and a
//! delivery's body to it; the same timestamp is used for every scheme of a
//! request.

use super::envelope::Body;
use crate::domain::settings::SignatureScheme;
use crate::secrets::{Secret, SigningKeys};
use hookpost_signatures::{Keys, Message, Replay, Scheme};

pub use hookpost_signatures::{KeyError, ReplayError};

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
    /// The whole body, file contents included, when it carries files (read
    /// again for each signature instead of held in memory).
    pub replay: Option<&'a dyn Replay>,
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

    /// The headers of every scheme in `schemes` for one request; an error
    /// when a body with files could not be read again.
    pub fn headers(
        &self,
        schemes: &[SignatureScheme],
        signed: &Signed<'_>,
    ) -> Result<Vec<(&'static str, String)>, ReplayError> {
        let schemes: Vec<Scheme> = schemes.iter().map(|s| scheme(*s)).collect();
        // Only Phaxio signs a form's parts; the views are built for it alone.
        let phaxio = schemes.contains(&Scheme::Phaxio);
        let fields: Vec<(&str, String)> = match phaxio {
            true => signed
                .body
                .fields
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone()))
                .collect(),
            false => Vec::new(),
        };
        let files: Vec<(&str, String)> = match phaxio {
            true => signed
                .body
                .files
                .iter()
                .map(|f| (f.file.name.as_str(), f.file.sha1.clone()))
                .collect(),
            false => Vec::new(),
        };
        let message = Message {
            id: signed.msg_id,
            timestamp: signed.timestamp,
            url: signed.url,
            body: match signed.replay {
                Some(replay) => hookpost_signatures::Body::Replayed(replay),
                None => hookpost_signatures::Body::Bytes(&signed.body.bytes),
            },
            form_fields: (!signed.body.fields.is_empty()).then_some(&fields[..]),
            form_files: &files,
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
            files: vec![],
            fields: vec![("id".into(), "e1".to_string())],
        };
        let json = Body {
            content_type: "application/json".into(),
            bytes: br#"{"x":1}"#.to_vec(),
            files: vec![],
            fields: vec![],
        };
        let sign = |body: &Body| {
            let signed = Signed {
                msg_id: "e1",
                timestamp: 1,
                url,
                body,
                replay: None,
            };
            signer.headers(&[SignatureScheme::Phaxio], &signed).unwrap()[0]
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
