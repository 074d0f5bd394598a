//! SQLite errors mapped to [`StoreError`]: busy or locked means "try again"
//! (503), a broken uniqueness rule is a conflict, anything else is internal.

use crate::storage::StoreError;
use rusqlite::ErrorCode;

/// Classifies a rusqlite error.
pub fn from_sqlite(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen,
        ) => StoreError::Unavailable(e.to_string()),
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

/// The [`Columns`](crate::storage::rows::Columns) of a rusqlite row.
impl crate::storage::rows::Columns for rusqlite::Row<'_> {
    fn text(&self, name: &str) -> crate::storage::StoreResult<String> {
        self.get(name).map_err(from_sqlite)
    }
    fn opt_text(&self, name: &str) -> crate::storage::StoreResult<Option<String>> {
        self.get(name).map_err(from_sqlite)
    }
    fn int(&self, name: &str) -> crate::storage::StoreResult<i64> {
        self.get(name).map_err(from_sqlite)
    }
    fn opt_int(&self, name: &str) -> crate::storage::StoreResult<Option<i64>> {
        self.get(name).map_err(from_sqlite)
    }
}

/// A decoding result as rusqlite's row callbacks want it (decoding failures are
/// corrupt data: they come back out of [`from_sqlite`] as internal errors).
pub fn decoded<T>(result: crate::storage::StoreResult<T>) -> rusqlite::Result<T> {
    result.map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}
