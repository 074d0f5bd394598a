//! Read connections. WAL mode lets readers run beside the writer thread; each read
//! borrows a connection on a blocking thread and gives it back.

use super::errors::from_sqlite;
use super::open_connection;
use crate::storage::Durability;
use crate::storage::{StoreError, StoreResult};
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Idle connections kept for reuse; more may be open at a burst.
const KEEP_IDLE: usize = 8;

/// A pool of read connections to one database file.
#[derive(Clone)]
pub struct ReadPool {
    path: Arc<PathBuf>,
    durability: Durability,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl ReadPool {
    /// A pool that opens connections to `path` as needed.
    pub fn new(path: PathBuf, durability: Durability) -> Self {
        ReadPool {
            path: Arc::new(path),
            durability,
            idle: Arc::default(),
        }
    }

    /// Runs `f` with a read connection on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.checkout()?;
            let result = f(&conn);
            pool.checkin(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }

    fn checkout(&self) -> StoreResult<Connection> {
        if let Some(conn) = self.idle.lock().expect("read pool poisoned").pop() {
            return Ok(conn);
        }
        let conn = open_connection(&self.path, self.durability)?;
        conn.execute_batch("PRAGMA query_only = ON")
            .map_err(from_sqlite)?;
        Ok(conn)
    }

    fn checkin(&self, conn: Connection) {
        let mut idle = self.idle.lock().expect("read pool poisoned");
        if idle.len() < KEEP_IDLE {
            idle.push(conn);
        }
    }
}
