//! Download links for attachments in JSON deliveries: a URL naming the event,
//! the file and an expiry, signed with a key derived from the master key, so
//! a receiver fetches the file without an API key and a link cannot be
//! altered to reach another file or to last longer.

use crate::storage::sealed;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::Duration;

/// Makes and checks download links.
#[derive(Debug, Clone)]
pub struct AttachmentLinks {
    /// Where receivers reach this server (`--public-url`), without a
    /// trailing slash.
    base: String,
    /// How long a link works.
    ttl: Duration,
}

/// Why a link is refused (both answer `403`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    /// Its expiry has passed.
    #[error("this download link has expired")]
    Expired,
    /// Its signature does not match what it names.
    #[error("this download link is not valid")]
    Tampered,
}

impl AttachmentLinks {
    /// Links under `base` lasting `ttl`.
    pub fn new(base: &str, ttl: Duration) -> AttachmentLinks {
        AttachmentLinks {
            base: base.trim_end_matches('/').to_string(),
            ttl,
        }
    }

    /// The link to file `position` of `event_id`, made at `now`; `None`
    /// without a master key to sign it.
    pub fn url(&self, event_id: &str, position: u32, now: DateTime<Utc>) -> Option<String> {
        let keyring = sealed::installed()?;
        let key = keyring.link_keys().next()?;
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::MAX);
        let expires = now.checked_add_signed(ttl).unwrap_or(now).timestamp();
        let signature = sign(key, event_id, position, expires);
        Some(format!(
            "{}{}?expires={expires}&signature={signature}",
            self.base,
            path(event_id, position)
        ))
    }
}

/// The path a link points at, which the API routes.
pub fn path(event_id: &str, position: u32) -> String {
    format!("/v1/attachments/{event_id}/{position}")
}

/// Checks a link's expiry and signature against every key of the keyring.
pub fn check(
    event_id: &str,
    position: u32,
    expires: i64,
    signature: &str,
    now: DateTime<Utc>,
) -> Result<(), LinkRefusal> {
    let keyring = sealed::installed().ok_or(LinkRefusal::Tampered)?;
    let given = decode_hex(signature).ok_or(LinkRefusal::Tampered)?;
    let genuine = keyring.link_keys().any(|key| {
        mac(key, event_id, position, expires)
            .verify_slice(&given)
            .is_ok()
    });
    if !genuine {
        return Err(LinkRefusal::Tampered);
    }
    if expires < now.timestamp() {
        return Err(LinkRefusal::Expired);
    }
    Ok(())
}

fn mac(key: &[u8; 32], event_id: &str, position: u32, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{event_id}/{position}/{expires}").as_bytes());
    mac
}

fn sign(key: &[u8; 32], event_id: &str, position: u32, expires: i64) -> String {
    mac(key, event_id, position, expires)
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sealed::{Keyring, MasterKey};

    fn installed() {
        sealed::install(Keyring::new(vec![MasterKey::new(&[5; 32])]).unwrap());
    }

    fn parts(url: &str) -> (i64, String) {
        let query = url.split_once('?').unwrap().1;
        let mut fields = query.split('&').map(|kv| kv.split_once('=').unwrap().1);
        let expires = fields.next().unwrap().parse().unwrap();
        (expires, fields.next().unwrap().to_string())
    }

    #[test]
    fn a_link_works_until_it_expires() {
        installed();
        let links = AttachmentLinks::new("https://hooks.example/", Duration::from_secs(60));
        let now = Utc::now();
        let url = links.url("e1", 0, now).unwrap();
        assert!(url.starts_with("https://hooks.example/v1/attachments/e1/0?expires="));
        let (expires, signature) = parts(&url);
        assert_eq!(check("e1", 0, expires, &signature, now), Ok(()));
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(
            check("e1", 0, expires, &signature, later),
            Err(LinkRefusal::Expired)
        );
    }

    #[test]
    fn an_altered_link_is_refused() {
        installed();
        let links = AttachmentLinks::new("http://h", Duration::from_secs(60));
        let now = Utc::now();
        let (expires, signature) = parts(&links.url("e1", 0, now).unwrap());
        let tampered = Err(LinkRefusal::Tampered);
        assert_eq!(check("e1", 1, expires, &signature, now), tampered);
        assert_eq!(check("e2", 0, expires, &signature, now), tampered);
        assert_eq!(check("e1", 0, expires + 3600, &signature, now), tampered);
        assert_eq!(check("e1", 0, expires, "00", now), tampered);
        assert_eq!(check("e1", 0, expires, &"zz".repeat(32), now), tampered);
    }
}
