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
