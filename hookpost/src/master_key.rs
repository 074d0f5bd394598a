//! The master key file: the keys that seal secrets at rest (see
//! [`crate::storage::sealed`]). One key per line, base64 of 32 bytes, the
//! first sealing new values, the others only opening old ones; `#` starts a
//! comment. A server started without one creates it (0600) beside the
//! database and warns that it belongs elsewhere: a copy of the data directory
//! that holds its key protects nothing.

use crate::storage::sealed::{self, Keyring, MasterKey, ResealPage};
use crate::storage::sql::SEALED_COLUMNS;
use crate::storage::{Store, StoreConfig, StoreResult};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::io::Write;
use std::path::Path;

/// Values one reseal transaction changes at most.
const RESEAL_BATCH: u32 = 500;

/// Why the master key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Reads the keyring in `path`; `None` when the file does not exist.
pub fn load(path: &Path) -> Result<Option<Keyring>, KeyError> {
    if !path.exists() {
        return Ok(None);
    }
    let keys = read_key_bytes(path)?.iter().map(MasterKey::new).collect();
    Keyring::new(keys)
        .map(Some)
        .ok_or_else(|| KeyError(format!("--master-key-file {} holds no key", path.display())))
}

/// Writes a new key file at `path` (0600, never over an existing one).
pub fn create(path: &Path) -> Result<Keyring, KeyError> {
    let bytes: [u8; 32] = crate::secrets::random_bytes();
    write_keys(path, &[bytes])?;
    Ok(Keyring::new(vec![MasterKey::new(&bytes)]).expect("one key"))
}

/// Puts a new key first in the file at `path`, keeping the others (they
/// still open what they sealed, here and on nodes that have not reloaded the
/// file yet), and installs the new keyring. The file is replaced whole
/// (written beside it, flushed, renamed), so a crash leaves the old file or
/// the new one. Rotate through one node at a time.
pub fn rotate(path: &Path) -> Result<Keyring, KeyError> {
    // One rotation at a time in this process: two reading the same file would
    // each drop the other's new key.
    static ROTATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ROTATING.lock().unwrap_or_else(|e| e.into_inner());
    let mut keys: Vec<[u8; 32]> = vec![crate::secrets::random_bytes()];
    keys.extend(read_key_bytes(path)?);
    let suffix: [u8; 8] = crate::secrets::random_bytes();
    let staged = path.with_extension(format!(
        "new-{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    write_keys(&staged, &keys)?;
    std::fs::rename(&staged, path).map_err(|e| {
        KeyError(format!(
            "cannot replace --master-key-file {}: {e}",
            path.display()
        ))
    })?;
    let keyring = Keyring::new(keys.iter().map(MasterKey::new).collect()).expect("keys");
    sealed::install(keyring.clone());
    Ok(keyring)
}

/// The raw keys of the file at `path`, in order.
fn read_key_bytes(path: &Path) -> Result<Vec<[u8; 32]>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        KeyError(format!(
            "cannot read --master-key-file {}: {e}",
            path.display()
        ))
    })?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            STANDARD
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    KeyError(format!(
                        "--master-key-file {} holds a line that is not the base64 of 32 bytes",
                        path.display()
                    ))
                })
        })
        .collect()
}

/// Writes `keys` to a new file at `path` (0600, never over an existing
/// one), creating its directory (0700) if needed.
fn write_keys(path: &Path, keys: &[[u8; 32]]) -> Result<(), KeyError> {
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
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(fail)?;
    let lines: Vec<String> = keys.iter().map(|k| STANDARD.encode(k)).collect();
    writeln!(
        file,
        "# hookpost master key: seals signing secrets, callback tokens and URL passwords at rest.\n\
         # Back it up apart from the database; without it they cannot be read.\n\
         # The first key seals; the others open what they sealed before a rotation.\n{}",
        lines.join("\n")
    )
    .and_then(|()| file.sync_all())
    .map_err(fail)
}

/// Loads (or, for a database without secrets yet, creates) the key in
/// `path`, checks that it holds every key the database's secrets were sealed
/// under (read before the store is opened, so a refusal changes nothing),
/// and installs it for this process.
pub async fn prepare(path: &Path, store: &StoreConfig) -> Result<(), KeyError> {
    let recorded = store.master_key_ids().await.map_err(|e| {
        KeyError(format!(
            "cannot read the database to check the master key: {e}"
        ))
    })?;
    let keyring = match (load(path)?, recorded.first()) {
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
    if let Some(id) = recorded.iter().find(|id| !keyring.holds(id)) {
        return Err(KeyError(format!(
            "the master key in {} does not open this database's secrets (sealed under key {id}); nothing was changed: start with the key file the database was created with",
            path.display()
        )));
    }
    sealed::install(keyring);
    let file = path.to_path_buf();
    sealed::reload_with(Box::new(move || load(&file).ok().flatten()));
    Ok(())
}

/// Records the installed current key as one that seals the store's secrets,
/// and refuses when the store names a key this process lacks (another node
/// started on the same database with a key of its own).
pub async fn confirm(store: &dyn Store) -> Result<(), KeyError> {
    let keyring =
        sealed::installed().ok_or_else(|| KeyError("no master key is installed".into()))?;
    let recorded = store
        .record_master_key(keyring.current().id())
        .await
        .map_err(|e| KeyError(format!("cannot record the master key: {e}")))?;
    match recorded.iter().find(|id| !keyring.holds(id)) {
        Some(id) => Err(KeyError(format!(
            "this database's secrets are also sealed under master key {id}, which --master-key-file lacks: every node sharing a database needs the same key file"
        ))),
        None => Ok(()),
    }
}

/// Seals again, under the current key of the keyring installed now, every
/// sealed column's values that are under another key or not sealed yet, a
/// page per transaction in key order; answers how many per column. Stops
/// early when another keyring is installed meanwhile (a rotation): the key
/// watch then reseals for that one.
pub async fn reseal_all(store: &dyn Store) -> StoreResult<Vec<(&'static str, u64)>> {
    let Some(keyring) = sealed::installed() else {
        return Ok(Vec::new());
    };
    let key_id = keyring.current().id().to_string();
    let still_current = || sealed::installed().is_some_and(|k| k.current().id() == key_id);
    let mut report = Vec::new();
    for column in &SEALED_COLUMNS {
        let (mut after, mut total) = (ResealPage::start(), 0);
        while still_current() {
            let page = store
                .reseal(column, keyring.clone(), after, RESEAL_BATCH)
                .await?;
            total += page.resealed;
            after = page.last;
            if page.looked < u64::from(RESEAL_BATCH) {
                break;
            }
        }
        report.push((column.name, total));
    }
    Ok(report)
}
