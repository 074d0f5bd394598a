//! Secrets at rest: the columns that hold signing secrets, callback tokens,
//! URL passwords and custom headers (account settings and keys, profile
//! settings, endpoint specs, delivery targets) are sealed with
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`, audited and widely
//! used; a 24-byte random nonce per value, so random nonces never collide in
//! practice) under the server's master key. A sealed value reads
//! `hpenc1:<key id>:<base64 of nonce and ciphertext>`; the key id (the first
//! 8 bytes of the key's SHA-256, in hex) says which key of the [`Keyring`]
//! opens it, so a rotation can re-seal row by row while both keys work.
//!
//! A value sealed again under the same key is not encrypted again: each key
//! keeps the values it sealed lately ([`RecentSeals`]) and gives the same
//! sealed text back. Every event to one destination stores the same target,
//! and sealing it afresh (a random nonce, the cipher, base64) was a tenth of
//! the embedded store's writer thread. The price is that equal plain values
//! under one key read alike in the database, which tells whoever holds a copy
//! only that two rows hold the same value (as their `endpoint_id` already
//! does), never what it is.
//!
//! The keyring is installed once per process ([`install`]), like the
//! allocator: every store in the process seals with it, and each row
//! conversion reaches it without a key threaded through every query. A
//! process with none installed (the storage conformance suite) stores
//! values as plain JSON, which a server later seals.

use super::{StoreError, StoreResult};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// The mark every sealed value starts with.
pub const PREFIX: &str = "hpenc1:";

/// One master key.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
    link_key: [u8; 32],
    recent: Arc<RecentSeals>,
}

impl MasterKey {
    /// A key from its 32 bytes.
    pub fn new(bytes: &[u8; 32]) -> MasterKey {
        let digest = Sha256::digest(bytes);
        MasterKey {
            id: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
            cipher: XChaCha20Poly1305::new(bytes.into()),
            link_key: derive(bytes, b"hookpost attachment links v1"),
            recent: Arc::default(),
        }
    }

    /// Seals `plain` with a fresh random nonce.
    fn seal_afresh(&self, plain: &str) -> String {
        let nonce: [u8; 24] = crate::secrets::random_bytes();
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .expect("sealing a value in memory cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{PREFIX}{}:{}", self.id, STANDARD.encode(bytes))
    }

    /// Its id, as sealed values name it.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The keys that open sealed values; the first seals new ones.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<MasterKey>,
}

impl Keyring {
    /// A keyring sealing with `keys[0]`; `None` if `keys` is empty.
    pub fn new(keys: Vec<MasterKey>) -> Option<Keyring> {
        (!keys.is_empty()).then_some(Keyring { keys })
    }

    /// The key new values are sealed with.
    pub fn current(&self) -> &MasterKey {
        &self.keys[0]
    }

    /// This keyring, followed by the keys of `older` it lacks: a key once
    /// known keeps opening what it sealed, even if a file lost it.
    pub fn with_older(mut self, older: &Keyring) -> Keyring {
        for key in &older.keys {
            if !self.holds(key.id()) {
                self.keys.push(key.clone());
            }
        }
        self
    }

    /// The keys that sign attachment download links, current first: derived
    /// from each master key, so links need no secret of their own and a
    /// rotation keeps older links working while the old key is kept.
    pub fn link_keys(&self) -> impl Iterator<Item = &[u8; 32]> {
        self.keys.iter().map(|k| &k.link_key)
    }

    /// Whether a key with this id is in the keyring.
    pub fn holds(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }

    /// Seals `plain` under the current key (as that key sealed it lately, if
    /// it did).
    pub fn seal(&self, plain: &str) -> String {
        let key = self.current();
        key.recent
            .sealed(plain)
            .unwrap_or_else(|| key.recent.keep(plain, key.seal_afresh(plain)))
    }

    /// Opens a sealed value; a value that is not sealed (written before
    /// sealing, or by a process without a keyring) is answered as it is.
    pub fn open(&self, stored: &str) -> StoreResult<String> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, body) = rest
            .split_once(':')
            .ok_or_else(|| unreadable("a sealed value has no key id"))?;
        let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| {
            StoreError::Internal(format!(
                "a value is sealed under master key {id}, which the master key file does not hold"
            ))
        })?;
        let bytes = STANDARD
            .decode(body)
            .map_err(|_| unreadable("a sealed value is not base64"))?;
        if bytes.len() < 24 {
            return Err(unreadable("a sealed value is too short"));
        }
        let (nonce, sealed) = bytes.split_at(24);
        let plain = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| unreadable("a sealed value does not open with its master key (altered, or a different key with the same id)"))?;
        String::from_utf8(plain).map_err(|_| unreadable("a sealed value is not text"))
    }
}

/// Values one key sealed lately, by their plain text. Bounded in count and
/// in the size of a value kept; emptied when full, which costs one fresh seal
/// per value in use.
#[derive(Default)]
struct RecentSeals(Mutex<HashMap<String, String>>);

/// Values a key keeps sealed at most.
const RECENT_SEALS: usize = 512;
/// Longest plain value kept (targets and settings are far smaller).
const RECENT_SEAL_BYTES: usize = 4096;

impl RecentSeals {
    /// What `plain` was sealed as lately.
    fn sealed(&self, plain: &str) -> Option<String> {
        self.0.lock().expect("recent seals").get(plain).cloned()
    }

    /// Keeps `sealed` as the sealed text of `plain`, and answers it.
    fn keep(&self, plain: &str, sealed: String) -> String {
        if plain.len() <= RECENT_SEAL_BYTES {
            let mut recent = self.0.lock().expect("recent seals");
            if recent.len() >= RECENT_SEALS {
                recent.clear();
            }
            recent.insert(plain.to_string(), sealed.clone());
        }
        sealed
    }
}

/// One page of a reseal pass over a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealPage {
    /// Rows looked at (fewer than asked: the column is done).
    pub looked: u64,
    /// Values sealed again (a value changed meanwhile is left as it is).
    pub resealed: u64,
    /// The key of the last row looked at: the next page starts after it.
    pub last: (String, String),
}

impl ResealPage {
    /// Where a pass starts: before every key.
    pub fn start() -> (String, String) {
        (String::new(), "-1".to_string())
    }
}

/// The key id a stored value was sealed under, if it is sealed.
pub fn sealed_under(stored: &str) -> Option<&str> {
    stored.strip_prefix(PREFIX)?.split(':').next()
}

fn unreadable(what: &str) -> StoreError {
    StoreError::Internal(what.to_string())
}

/// A key for `purpose` derived from a master key (HMAC-SHA256 as a PRF), so
/// one master key serves several jobs without one exposing another.
fn derive(master: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

static KEYRING: RwLock<Option<Arc<Keyring>>> = RwLock::new(None);

/// Reads the keyring again from where it came from (the master key file).
pub type Reload = Box<dyn Fn() -> Option<Keyring> + Send + Sync>;

static RELOAD: RwLock<Option<Reload>> = RwLock::new(None);

/// Makes `keyring` the one this process seals and opens with, keeping any key
/// the installed one had that it lacks (see [`Keyring::with_older`]).
pub fn install(keyring: Keyring) {
    let mut slot = KEYRING.write().expect("keyring lock");
    let merged = match slot.as_deref() {
        Some(older) => keyring.with_older(older),
        None => keyring,
    };
    *slot = Some(Arc::new(merged));
}

/// Makes `reload` what [`open`] calls when a value names a key the keyring
/// lacks: another node rotated, and the file already holds the new key.
pub fn reload_with(reload: Reload) {
    *RELOAD.write().expect("reload lock") = Some(reload);
}

/// The installed keyring, if any.
pub fn installed() -> Option<Arc<Keyring>> {
    KEYRING.read().expect("keyring lock").clone()
}

/// Seals `plain` under the installed keyring (as it is, with none).
pub fn seal(plain: String) -> String {
    match installed() {
        Some(keyring) => keyring.seal(&plain),
        None => plain,
    }
}

/// Opens a stored value with the installed keyring, reading the key file
/// again first when the value names a key the keyring lacks.
pub fn open(stored: &str) -> StoreResult<String> {
    if let (Some(id), Some(keyring)) = (sealed_under(stored), installed()) {
        if !keyring.holds(id) {
            let fresh = RELOAD
                .read()
                .expect("reload lock")
                .as_ref()
                .and_then(|r| r());
            if let Some(fresh) = fresh {
                install(fresh);
            }
        }
    }
    match installed() {
        Some(keyring) => keyring.open(stored),
        None if stored.starts_with(PREFIX) => Err(unreadable(
            "a value is sealed, and this process has no master key",
        )),
        None => Ok(stored.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(seeds: &[u8]) -> Keyring {
        Keyring::new(seeds.iter().map(|s| MasterKey::new(&[*s; 32])).collect()).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_and_shows_nothing_of_itself() {
        let keys = ring(&[1]);
        let sealed = keys.seal(r#"{"hmac":["whsec_secret"]}"#);
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("whsec"));
        assert_eq!(keys.open(&sealed).unwrap(), r#"{"hmac":["whsec_secret"]}"#);
        assert_eq!(sealed_under(&sealed), Some(keys.current().id()));
    }

    #[test]
    fn a_value_sealed_again_reads_alike_under_one_key_only() {
        let keys = ring(&[1]);
        let value = r#"{"primary":"https://example.com/hook"}"#;
        let sealed = keys.seal(value);
        assert_eq!(keys.seal(value), sealed, "sealed afresh");
        assert_ne!(keys.seal("{}"), sealed);
        let rotated = ring(&[2]).with_older(&keys);
        let resealed = rotated.seal(value);
        assert_eq!(sealed_under(&resealed), Some(rotated.current().id()));
        assert_eq!(rotated.open(&resealed).unwrap(), value);
        // Nonces stay random: a value sealed afresh reads otherwise.
        assert_ne!(keys.current().seal_afresh(value), sealed, "nonces repeat");
    }

    #[test]
    fn recent_seals_stay_bounded() {
        let keys = ring(&[1]);
        let first = keys.seal("0");
        for n in 1..=RECENT_SEALS {
            keys.seal(&n.to_string());
        }
        let held = keys.current().recent.0.lock().unwrap().len();
        assert!(held <= RECENT_SEALS, "{held} values kept");
        assert_ne!(keys.seal("0"), first, "kept past the bound");
        let long = "x".repeat(RECENT_SEAL_BYTES + 1);
        assert_ne!(keys.seal(&long), keys.seal(&long), "a long value kept");
    }

    #[test]
    fn an_older_key_still_opens_what_it_sealed_but_a_stranger_does_not() {
        let old = ring(&[1]);
        let sealed = old.seal("x");
        assert_eq!(ring(&[2, 1]).open(&sealed).unwrap(), "x");
        assert!(ring(&[2]).open(&sealed).is_err());
        let mut altered = sealed.clone();
        altered.replace_range(sealed.len() - 4.., "AAAA");
        assert!(old.open(&altered).is_err());
    }

    #[test]
    fn a_newer_keyring_keeps_the_keys_it_lacks() {
        let sealed = ring(&[1]).seal("x");
        assert_eq!(
            ring(&[2]).with_older(&ring(&[1])).open(&sealed).unwrap(),
            "x"
        );
        assert_eq!(
            ring(&[2]).with_older(&ring(&[1])).current().id(),
            ring(&[2]).current().id()
        );
    }

    #[test]
    fn a_plain_value_reads_as_it_is() {
        assert_eq!(ring(&[1]).open("{}").unwrap(), "{}");
    }
}
