//! Decoded signing keys per account, cached briefly. Keys are read from storage
//! at most once per account every [`TTL`], so a rotation made on any node is
//! signed with everywhere within that time (and at once on the node that made it).

use super::signing::AccountSigner;
use crate::storage::Store;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long decoded keys are trusted before they are read again.
pub const TTL: Duration = Duration::from_secs(10);

/// The cache.
#[derive(Default)]
pub struct SignerCache {
    entries: RwLock<HashMap<String, (Arc<AccountSigner>, Instant)>>,
}

impl SignerCache {
    /// The signer of an account: cached, or loaded. `None` when the account is
    /// gone or storage is unreachable (the caller retries later).
    pub async fn get(&self, store: &dyn Store, account_id: &str) -> Option<Arc<AccountSigner>> {
        if let Some((signer, at)) = self
            .entries
            .read()
            .expect("signer cache poisoned")
            .get(account_id)
        {
            if at.elapsed() < TTL {
                return Some(signer.clone());
            }
        }
        let account = match store.account(account_id).await {
            Ok(found) => found?,
            Err(e) => {
                tracing::warn!(error = %e, "could not load signing keys");
                return None;
            }
        };
        let signer = match AccountSigner::new(&account.keys.active(Utc::now())) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                tracing::error!(error = %e, account = account_id, "stored signing keys do not decode");
                return None;
            }
        };
        let mut entries = self.entries.write().expect("signer cache poisoned");
        entries.insert(account_id.to_string(), (signer.clone(), Instant::now()));
        Some(signer)
    }

    /// Drops an account's keys, after a rotation on this node.
    pub fn forget(&self, account_id: &str) {
        self.entries
            .write()
            .expect("signer cache poisoned")
            .remove(account_id);
    }
}
