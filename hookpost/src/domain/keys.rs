//! An account's signing keys and the rules of their rotation: new keys sign
//! first, the previous ones keep signing beside them until a set time, so
//! receivers can switch without missing a delivery. The keys are made elsewhere
//! (`crate::secrets`, from the operating system's randomness); this module only
//! decides which of them sign.

use crate::secrets::Secret;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An account's signing material. The first key of each list signs; during a
/// rotation the previous key stays in the list and signs too, so receivers that
/// still hold the old key keep verifying.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningKeys {
    /// Standard Webhooks HMAC secrets, `whsec_<base64>`.
    pub hmac: Vec<Secret>,
    /// Ed25519 private keys (32-byte seeds, base64).
    pub ed25519: Vec<Secret>,
    /// Phaxio-style callback tokens (HMAC-SHA1 keys).
    #[serde(default)]
    pub phaxio: Vec<Secret>,
    /// Until when the previous keys (the second of each list) still sign.
    #[serde(default)]
    pub previous_until: Option<DateTime<Utc>>,
}

impl SigningKeys {
    /// `fresh` keys first, the current newest kept second until
    /// `keep_old_until`, so deliveries carry both signatures while receivers
    /// switch over. Only one previous key is kept.
    pub fn rotated(&self, fresh: SigningKeys, keep_old_until: DateTime<Utc>) -> SigningKeys {
        let with_old = |new: Vec<Secret>, old: &[Secret]| {
            new.into_iter()
                .take(1)
                .chain(old.first().cloned())
                .collect()
        };
        SigningKeys {
            hmac: with_old(fresh.hmac, &self.hmac),
            ed25519: with_old(fresh.ed25519, &self.ed25519),
            phaxio: with_old(fresh.phaxio, &self.phaxio),
            previous_until: Some(keep_old_until),
        }
    }

    /// The keys that sign at `now`: the newest, and the previous while it lasts.
    pub fn active(&self, now: DateTime<Utc>) -> SigningKeys {
        let keep = if self.previous_until.is_some_and(|until| until > now) {
            2
        } else {
            1
        };
        let first = |list: &[Secret]| list.iter().take(keep).cloned().collect();
        SigningKeys {
            hmac: first(&self.hmac),
            ed25519: first(&self.ed25519),
            phaxio: first(&self.phaxio),
            previous_until: self.previous_until.filter(|_| keep == 2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(tag: &str) -> SigningKeys {
        let one = |kind: &str| vec![Secret::new(format!("{kind}-{tag}"))];
        SigningKeys {
            hmac: one("hmac"),
            ed25519: one("ed"),
            phaxio: one("token"),
            previous_until: None,
        }
    }

    #[test]
    fn rotation_keeps_the_old_keys_until_their_time() {
        let now = Utc::now();
        let old = keys("old");
        let rotated = old.rotated(keys("new"), now + chrono::Duration::hours(1));
        assert_eq!(
            rotated.hmac,
            [Secret::new("hmac-new"), Secret::new("hmac-old")]
        );
        assert_eq!(rotated.active(now).ed25519.len(), 2);
        let later = rotated.active(now + chrono::Duration::hours(2));
        assert_eq!(
            (later.hmac.len(), later.ed25519.len(), later.phaxio.len()),
            (1, 1, 1)
        );
        assert_eq!(later.hmac[0], Secret::new("hmac-new"));
        let again = rotated.rotated(keys("newer"), now);
        assert_eq!(
            again.hmac,
            [Secret::new("hmac-newer"), Secret::new("hmac-new")],
            "a second rotation keeps one previous key, not two"
        );
    }
}
