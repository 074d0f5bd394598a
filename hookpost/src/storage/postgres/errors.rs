//! PostgreSQL errors mapped to [`StoreError`]. A database that cannot be reached,
//! is shutting down or is out of connections is *unavailable* (503, retry); a
//! unique violation is a conflict; anything else is internal.

use crate::storage::StoreError;
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// Classifies a driver error.
pub fn from_pg(e: tokio_postgres::Error) -> StoreError {
    let Some(code) = e.code() else {
        // No SQLSTATE: either the connection failed or closed (I/O), or the
        // driver refused a value (a bug).
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        return if e.is_closed() || io {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Internal(e.to_string())
        };
    };
    // The driver's own text is only "db error"; the server's message says what
    // (it goes to the log, never to a client).
    let detail = e.as_db_error().map_or_else(
        || e.to_string(),
        |db| format!("{}: {}", db.code().code(), db.message()),
    );
    if *code == SqlState::UNIQUE_VIOLATION {
        return StoreError::Conflict(detail);
    }
    let class = &code.code()[..2];
    // 08 connection exception, 53 insufficient resources, 57 operator intervention
    // (shutdown, cancel), 40 transaction rollback (serialization, deadlock).
    if matches!(class, "08" | "53" | "57" | "40") {
        StoreError::Unavailable(detail)
    } else {
        StoreError::Internal(detail)
    }
}

/// A connection could not be had from the pool.
pub fn from_pool(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => from_pg(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// The [`Columns`](crate::storage::rows::Columns) of a PostgreSQL row.
impl crate::storage::rows::Columns for tokio_postgres::Row {
    fn text(&self, name: &str) -> crate::storage::StoreResult<String> {
        self.try_get(name).map_err(from_pg)
    }
    fn opt_text(&self, name: &str) -> crate::storage::StoreResult<Option<String>> {
        self.try_get(name).map_err(from_pg)
    }
    fn int(&self, name: &str) -> crate::storage::StoreResult<i64> {
        self.try_get(name).map_err(from_pg)
    }
    fn opt_int(&self, name: &str) -> crate::storage::StoreResult<Option<i64>> {
        self.try_get(name).map_err(from_pg)
    }
}
