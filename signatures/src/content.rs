//! What each scheme signs, in one place: the signer ([`Keys`](crate::Keys)) and
//! the verifier ([`Verifier`](crate::Verifier)) both build their input here, so
//! the two cannot drift apart.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// `{id}.{timestamp}.{body}`: Standard Webhooks, `v1` and `v1a` alike.
pub(crate) fn standard(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// `{timestamp}|{body}`: Telnyx.
pub(crate) fn telnyx(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(timestamp.len() + body.len() + 1);
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'|');
    content.extend_from_slice(body);
    content
}

/// HMAC-SHA256 of `content` with `key`, not yet finalized (the verifier
/// compares it in constant time with `verify_slice`).
pub(crate) fn hmac_sha256(key: &[u8], content: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(content);
    mac
}

/// Phaxio's HMAC-SHA1 with the callback token `token` over the URL, then each
/// form field's name and value sorted by name (a stable sort: repeated names
/// keep their order); for a body that is not a form, over the URL then the body.
pub(crate) fn phaxio(
    token: &[u8],
    url: &str,
    body: &[u8],
    form_fields: Option<&[(&str, String)]>,
) -> Hmac<Sha1> {
    let mut mac = Hmac::<Sha1>::new_from_slice(token).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    match form_fields {
        None => mac.update(body),
        Some(fields) => {
            let mut sorted: Vec<_> = fields.iter().collect();
            sorted.sort_by_key(|(name, _)| *name);
            for (name, value) in sorted {
                mac.update(name.as_bytes());
                mac.update(value.as_bytes());
            }
        }
    }
    mac
}
