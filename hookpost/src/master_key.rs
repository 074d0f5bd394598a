//! The master key file: the keys that seal secrets at rest (see
//! [`crate::storage::sealed`]). One key per line, base64 of 32 bytes, the
//! first sealing new values, the others only opening old ones; `#` starts a
//! comment. A server started without one creates it (0600) beside the
//! database and warns that it belongs elsewhere: a copy of the data directory
//! that holds its key protects nothing.

use crate::storage::sealed::{self, Keyring, MasterKey};
use crate::storage::Store;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::io::Write;
use std::path::Path;

/// Why the master key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Reads the keyring in `path`; `None` when the file does not exist.
pub fn load(path: &Path) -> Result<Option<Keyring>, KeyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(KeyError(format!(
                "cannot read --master-key-file {}: {e}",
                path.display()
            )))
        }
    };
    let keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let bytes: [u8; 32] = STANDARD
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    KeyError(format!(
                        "--master-key-file {} holds a line that is not the base64 of 32 bytes",
                        path.display()
                    ))
                })?;
            Ok(MasterKey::new(&bytes))
        })
        .collect::<Result<Vec<_>, KeyError>>()?;
    Keyring::new(keys)
        .map(Some)
        .ok_or_else(|| KeyError(format!("--master-key-file {} holds no key", path.display())))
}

/// Writes a new key file at `path` (0600, never over an existing one).
pub fn create(path: &Path) -> Result<Keyring, KeyError> {
    let bytes: [u8; 32] = crate::secrets::random_bytes();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let fail = |e: std::io::Error| {
        KeyError(format!(
            "cannot create --master-key-file {}: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(fail)?;
    }
    let mut file = options.open(path).map_err(fail)?;
    writeln!(
        file,
        "# hookpost master key: seals signing secrets, callback tokens and URL passwords at rest.\n# Back it up apart from the database; without it they cannot be read.\n{}",
        STANDARD.encode(bytes)
    )
    .and_then(|()| file.sync_all())
    .map_err(fail)?;
    Ok(Keyring::new(vec![MasterKey::new(&bytes)]).expect("one key"))
}

/// Loads (or, for a store holding no sealed secret yet, creates) the key in
/// `path`, checks that it opens what the store has sealed, and installs it
/// for this process. Refuses, creating nothing, when the file is missing
/// while secrets are sealed, or holds another key.
pub async fn prepare(path: &Path, store: &dyn Store) -> Result<(), KeyError> {
    let sample = store.sealed_sample().await.map_err(|e| {
        KeyError(format!(
            "cannot read the database to check the master key: {e}"
        ))
    })?;
    let sealed_under = sample.as_deref().and_then(sealed::sealed_under);
    let keyring = match (load(path)?, sealed_under) {
        (Some(keyring), _) => keyring,
        (None, Some(id)) => {
            return Err(KeyError(format!(
                "the database's secrets are sealed under master key {id}, and --master-key-file {} does not exist: start with the key file the database was created with",
                path.display()
            )))
        }
        (None, None) => {
            let keyring = create(path)?;
            tracing::warn!(file = %path.display(), "created a master key; keep a copy somewhere other than beside the database, and point --master-key-file at it");
            keyring
        }
    };
    if let (Some(sample), Some(id)) = (&sample, sealed_under) {
        keyring.open(sample).map_err(|_| {
            KeyError(format!(
                "the master key in {} does not open this database's secrets (sealed under key {id}); nothing was changed: start with the key file the database was created with",
                path.display()
            ))
        })?;
    }
    sealed::install(keyring);
    Ok(())
}
