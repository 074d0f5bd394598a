//! The console's signed tokens: a portal link's token and a signed-in
//! browser's session cookie are the same thing, a grant with an issue and an
//! expiry time, signed with a key derived from the master key. Nothing is
//! stored per token, so a node needs no session table; an account's portal
//! links are revoked together by the time they were made before.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a token lets its holder see and do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Grant {
    /// Signed in with an account's API key: the key's SHA-256, so a rotated
    /// key ends the session.
    Key {
        /// SHA-256 of the API key, base64url.
        h: String,
    },
    /// Signed in with the admin token: its SHA-256, so a changed token ends
    /// the session.
    Admin {
        /// SHA-256 of the admin token, base64url.
        h: String,
    },
    /// Opened from a portal link.
    Portal {
        /// The account it shows.
        a: String,
        /// The one profile it shows, if scoped to one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p: Option<String>,
        /// Whether it may change nothing.
        #[serde(default)]
        ro: bool,
    },
}

/// A grant with its lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleToken {
    /// What it grants.
    #[serde(flatten)]
    pub grant: Grant,
    /// When it was made (Unix ms).
    pub iat: i64,
    /// When it stops working (Unix ms).
    pub exp: i64,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    /// Its time has passed.
    #[error("this link or session has expired")]
    Expired,
    /// It was not made by this server, or was altered.
    #[error("this link or session is not valid")]
    Invalid,
}

/// The key tokens are signed with, derived from a master key's link key, so
/// a token can never pass for an attachment link or the other way round.
pub fn token_key(link_key: &[u8; 32]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(link_key).expect("HMAC takes any key length");
    mac.update(b"hookpost console token v1");
    mac.finalize().into_bytes().into()
}

fn mac(key: &[u8; 32], data: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac
}

impl ConsoleToken {
    /// `grant` from `now` for `lifetime`.
    pub fn new(grant: Grant, now: DateTime<Utc>, lifetime: std::time::Duration) -> Self {
        let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX);
        ConsoleToken {
            grant,
            iat: now.timestamp_millis(),
            exp: now
                .checked_add_signed(lifetime)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
                .timestamp_millis(),
        }
    }

    /// When it stops working.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.exp).unwrap_or_default()
    }

    /// When it was made.
    pub fn issued_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.iat).unwrap_or_default()
    }

    /// The token as text: its JSON and its signature, both base64url.
    pub fn sign(&self, key: &[u8; 32]) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a token serializes"));
        let signature = URL_SAFE_NO_PAD.encode(mac(key, body.as_bytes()).finalize().into_bytes());
        format!("{body}.{signature}")
    }

    /// Reads a token made with any of `keys`, unexpired at `now`.
    pub fn open<'k>(
        text: &str,
        keys: impl IntoIterator<Item = &'k [u8; 32]>,
        now: DateTime<Utc>,
    ) -> Result<ConsoleToken, TokenRefusal> {
        let (body, signature) = text.split_once('.').ok_or(TokenRefusal::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenRefusal::Invalid)?;
        let genuine = keys
            .into_iter()
            .any(|key| mac(key, body.as_bytes()).verify_slice(&signature).is_ok());
        if !genuine {
            return Err(TokenRefusal::Invalid);
        }
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenRefusal::Invalid)?;
        let token: ConsoleToken =
            serde_json::from_slice(&json).map_err(|_| TokenRefusal::Invalid)?;
        if token.exp <= now.timestamp_millis() {
            return Err(TokenRefusal::Expired);
        }
        Ok(token)
    }
}

/// The CSRF token of a session: a MAC of its cookie, so a form made for one
/// session is refused in any other, and no state is kept.
pub fn csrf_token(key: &[u8; 32], session: &str) -> String {
    let mut mac = mac(key, b"csrf:");
    mac.update(session.as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..18])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now() -> DateTime<Utc> {
        "2026-12-03T10:00:00Z".parse().unwrap()
    }

    fn portal() -> Grant {
        Grant::Portal {
            a: "acc_1".into(),
            p: Some("+13125550000".into()),
            ro: true,
        }
    }

    #[test]
    fn a_token_opens_with_its_key_until_it_expires() {
        let key = token_key(&[1; 32]);
        let token = ConsoleToken::new(portal(), now(), Duration::from_secs(3600));
        let text = token.sign(&key);
        assert_eq!(ConsoleToken::open(&text, [&key], now()), Ok(token.clone()));
        let later = now() + chrono::Duration::seconds(3599);
        assert!(ConsoleToken::open(&text, [&key], later).is_ok());
        let expired = now() + chrono::Duration::seconds(3600);
        assert_eq!(
            ConsoleToken::open(&text, [&key], expired),
            Err(TokenRefusal::Expired)
        );
    }

    #[test]
    fn another_key_or_an_altered_grant_is_refused() {
        let key = token_key(&[1; 32]);
        let text = ConsoleToken::new(portal(), now(), Duration::from_secs(60)).sign(&key);
        let other = token_key(&[2; 32]);
        assert_eq!(
            ConsoleToken::open(&text, [&other], now()),
            Err(TokenRefusal::Invalid)
        );
        assert!(ConsoleToken::open(&text, [&other, &key], now()).is_ok());
        // The same signature over a grant to another account.
        let (_, signature) = text.split_once('.').unwrap();
        let forged = ConsoleToken::new(
            Grant::Portal {
                a: "acc_2".into(),
                p: None,
                ro: false,
            },
            now(),
            Duration::from_secs(60),
        );
        let body = forged.sign(&key);
        let (forged_body, _) = body.split_once('.').unwrap();
        assert_eq!(
            ConsoleToken::open(&format!("{forged_body}.{signature}"), [&key], now()),
            Err(TokenRefusal::Invalid)
        );
        for junk in ["", ".", "abc", "a.b.c"] {
            assert_eq!(
                ConsoleToken::open(junk, [&key], now()),
                Err(TokenRefusal::Invalid)
            );
        }
    }

    #[test]
    fn the_token_key_differs_from_the_link_key_and_csrf_differs_by_session() {
        assert_ne!(token_key(&[1; 32]), [1; 32]);
        let key = token_key(&[1; 32]);
        assert_eq!(csrf_token(&key, "s1"), csrf_token(&key, "s1"));
        assert_ne!(csrf_token(&key, "s1"), csrf_token(&key, "s2"));
    }
}
