//! Keeps this node's master key in step with its file, and every sealed
//! value under the current key: when the file changes (a rotation on this or
//! another node), the new keyring is installed; whenever the current key is
//! one this node has not resealed for (at start, after a rotation), every
//! sealed column is sealed again under it, a batch per transaction. So values
//! stored before sealing, or sealed by a node that had not reloaded the file
//! yet, end up under the current key.

use super::Job;
use crate::master_key;
use crate::storage::{sealed, Store};
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How often the key file is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// The key watch.
pub struct MasterKeyWatch {
    store: Arc<dyn Store>,
    path: PathBuf,
    /// The file's modification time and length when last read.
    seen: Mutex<Option<(SystemTime, u64)>>,
    /// The key every sealed value was last resealed under.
    resealed_for: Mutex<Option<String>>,
}

impl MasterKeyWatch {
    /// A watch of the key file at `path`, the one this process started with.
    pub fn new(store: Arc<dyn Store>, path: PathBuf) -> Self {
        let seen = stamp(&path);
        MasterKeyWatch {
            store,
            path,
            seen: Mutex::new(seen),
            resealed_for: Mutex::new(None),
        }
    }

    /// Installs the file's keys if it changed since it was last read.
    fn reload_if_changed(&self) -> Result<(), String> {
        let now = stamp(&self.path);
        if now.is_none() || *self.seen.lock().expect("seen") == now {
            return Ok(());
        }
        if let Some(keyring) = master_key::load(&self.path).map_err(|e| e.to_string())? {
            tracing::info!(
                key = keyring.current().id(),
                "master key file changed; its keys are in use"
            );
            sealed::install(keyring);
        }
        *self.seen.lock().expect("seen") = now;
        Ok(())
    }
}

/// The file's modification time and length, if it can be read.
fn stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[async_trait]
impl Job for MasterKeyWatch {
    fn name(&self) -> &'static str {
        "master-key-watch"
    }

    fn interval(&self) -> Duration {
        LOOK_EVERY
    }

    /// Answers 0 whatever it did: a reseal runs to its end inside one call,
    /// so the runner never has a backlog to drain.
    async fn run_batch(&self) -> Result<u64, String> {
        self.reload_if_changed()?;
        let Some(current) = sealed::installed().map(|k| k.current().id().to_string()) else {
            return Ok(0);
        };
        if self.resealed_for.lock().expect("resealed").as_deref() == Some(current.as_str()) {
            return Ok(0);
        }
        let report = master_key::reseal_all(self.store.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        let total: u64 = report.iter().map(|(_, n)| n).sum();
        if total > 0 {
            tracing::info!(key = %current, resealed = total, "sealed stored secrets again under the current master key");
        }
        *self.resealed_for.lock().expect("resealed") = Some(current);
        Ok(0)
    }
}
