//! What each scheme signs, in one place: the signer ([`Keys`](crate::Keys)) and
//! the verifier ([`Verifier`](crate::Verifier)) both build their input here, so
//! the two cannot drift apart.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// `{id}.{timestamp}.`: what Standard Webhooks (`v1` and `v1a` alike) sign
/// before the body.
pub(crate) fn standard_prefix(id: &str, timestamp: &str) -> String {
    format!("{id}.{timestamp}.")
}

/// `{timestamp}|`: what Telnyx signs before the body.
pub(crate) fn telnyx_prefix(timestamp: &str) -> String {
    format!("{timestamp}|")
}

/// `prefix` then `body`, in one buffer (the verifier holds the body whole).
pub(crate) fn joined(prefix: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(prefix.len() + body.len());
    content.extend_from_slice(prefix.as_bytes());
    content.extend_from_slice(body);
    content
}

/// An HMAC-SHA256 keyed with `key`, not yet fed.
pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length")
}

/// The parts of a multipart body that Phaxio signs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FormParts<'a> {
    /// Text fields by name, as sent.
    pub fields: &'a [(&'a str, String)],
    /// File parts: field name and the hex SHA-1 of the contents.
    pub files: &'a [(&'a str, String)],
}

/// Phaxio's HMAC-SHA1 with the callback token `token` over the URL, then each
/// form field's name and value sorted by name, then each file part's name and
/// the hex SHA-1 of its contents sorted by name (stable sorts: repeated names
/// keep their order); for a body that is not a form, over the URL then the body.
pub(crate) fn phaxio(
    token: &[u8],
    url: &str,
    body: &[u8],
    form: Option<FormParts<'_>>,
) -> Hmac<Sha1> {
    let mut mac = Hmac::<Sha1>::new_from_slice(token).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    match form {
        None => mac.update(body),
        Some(form) => {
            for list in [form.fields, form.files] {
                let mut sorted: Vec<_> = list.iter().collect();
                sorted.sort_by_key(|(name, _)| *name);
                for (name, value) in sorted {
                    mac.update(name.as_bytes());
                    mac.update(value.as_bytes());
                }
            }
        }
    }
    mac
}
