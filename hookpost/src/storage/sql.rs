//! The SQL both backends run, written once in SQLite's numbered-parameter form
//! (`?1`); PostgreSQL runs the same text with `$1` ([`Statement::postgres`]).
//! What differs for real stays in the backends' `queries` files: claims (`FOR
//! UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite), how an
//! upsert tells an insert from an update, and how an idempotency key is taken.
//! Portable spellings are used where the dialects differ only in syntax: `CAST(…
//! AS BIGINT)` rather than `::bigint`, `ON CONFLICT DO NOTHING` rather than
//! `INSERT OR IGNORE`.

use std::sync::OnceLock;

/// One statement of the shared SQL.
pub struct Statement {
    sqlite: &'static str,
    postgres: OnceLock<String>,
}

impl Statement {
    /// A statement written with `?N` parameters.
    pub const fn new(sqlite: &'static str) -> Self {
        Statement {
            sqlite,
            postgres: OnceLock::new(),
        }
    }

    /// The text for SQLite.
    pub fn sqlite(&self) -> &'static str {
        self.sqlite
    }

    /// The text for PostgreSQL (`?N` → `$N`), converted once.
    pub fn postgres(&self) -> &str {
        self.postgres.get_or_init(|| to_postgres(self.sqlite))
    }
}

/// `?N` parameters as `$N`. The shared SQL holds no `?` in string literals.
fn to_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let numbered = c == '?' && chars.peek().is_some_and(char::is_ascii_digit);
        out.push(if numbered { '$' } else { c });
    }
    out
}

macro_rules! columns {
    (account) => {
        "id, name, settings, signing_keys, created_at"
    };
    (profile) => {
        "id, settings, created_at, updated_at"
    };
    (event) => {
        "id, profile_id, event_type, payload, payloads, occurred_at, created_at, \
         idempotency_key, target, status, attempts_made, due_at, claimed_by"
    };
    (claim) => {
        "id, account_id, event_type, payload, payloads, occurred_at, target, attempts_made, retries_left"
    };
    (attempt) => {
        "attempt, leg, url, started_at, duration_ms, http_status, error, response, error_detail"
    };
}

/// The columns of an account row.
pub const ACCOUNT_COLUMNS: &str = columns!(account);
/// The columns of a profile row.
pub const PROFILE_COLUMNS: &str = columns!(profile);
/// The columns of an event row.
pub const EVENT_COLUMNS: &str = columns!(event);
/// The columns a claim returns.
pub const CLAIM_COLUMNS: &str = columns!(claim);
/// The columns of an attempt row.
pub const ATTEMPT_COLUMNS: &str = columns!(attempt);

// ----- accounts -----

/// `(id, name, api_key_hash, settings, signing_keys, created_at)`.
pub static INSERT_ACCOUNT: Statement = Statement::new(
    "INSERT INTO accounts (id, name, api_key_hash, settings, signing_keys, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
);
/// `(id, new key hash, old key's expiry or NULL to drop it at once)`.
pub static ROTATE_API_KEY: Statement = Statement::new(
    "UPDATE accounts SET previous_key_hash = CASE WHEN CAST(?3 AS BIGINT) IS NULL THEN NULL ELSE api_key_hash END,
        previous_key_expires_at = ?3, api_key_hash = ?2 WHERE id = ?1",
);
/// `(signing keys JSON, id)`.
pub static SET_SIGNING_KEYS: Statement =
    Statement::new("UPDATE accounts SET signing_keys = ?1 WHERE id = ?2");
/// `(settings JSON, id)`.
pub static SET_ACCOUNT_SETTINGS: Statement =
    Statement::new("UPDATE accounts SET settings = ?1 WHERE id = ?2");

// ----- profiles -----

/// `(account, id)`.
pub static SELECT_PROFILE: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(profile),
    " FROM profiles WHERE account_id = ?1 AND id = ?2"
));
/// `(account, id)`.
pub static DELETE_PROFILE: Statement =
    Statement::new("DELETE FROM profiles WHERE account_id = ?1 AND id = ?2");
/// `(account, after id or NULL, limit)`.
pub static LIST_PROFILES: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(profile),
    " FROM profiles WHERE account_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR id > ?2) ORDER BY id LIMIT ?3"
));

// ----- event types -----

/// `(account, name)`.
pub static SELECT_EVENT_TYPE: Statement =
    Statement::new("SELECT definition FROM event_types WHERE account_id = ?1 AND name = ?2");
/// `(account, name)`.
pub static DELETE_EVENT_TYPE: Statement =
    Statement::new("DELETE FROM event_types WHERE account_id = ?1 AND name = ?2");
/// `(account)`.
pub static LIST_EVENT_TYPES: Statement =
    Statement::new("SELECT definition FROM event_types WHERE account_id = ?1 ORDER BY name");

// ----- events -----

/// `(id, account)`.
pub static SELECT_EVENT: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(event),
    " FROM events WHERE id = ?1 AND account_id = ?2"
));
/// `(event id)`.
pub static SELECT_ATTEMPTS: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(attempt),
    " FROM attempts WHERE event_id = ?1 ORDER BY attempt, leg = 'failover'"
));
/// `(account, before id, status, event type, profile, since ms, limit)`, each
/// filter NULL when unused.
pub static LIST_EVENTS: Statement = Statement::new(concat!(
    "SELECT ",
    columns!(event),
    " FROM events WHERE account_id = ?1
       AND (CAST(?2 AS TEXT) IS NULL OR id < ?2) AND (CAST(?3 AS TEXT) IS NULL OR status = ?3)
       AND (CAST(?4 AS TEXT) IS NULL OR event_type = ?4) AND (CAST(?5 AS TEXT) IS NULL OR profile_id = ?5)
       AND (CAST(?6 AS BIGINT) IS NULL OR created_at >= ?6)
     ORDER BY id DESC LIMIT ?7"
));
/// `(id, account, now ms)`: a failed or delivered event gets one more attempt,
/// a pending one that no node holds is due now, in one statement (the rule of
/// [`crate::domain::event_log::RetryOutcome::unchanged`] says what the other
/// states mean).
pub static RETRY_EVENT: Statement = Statement::new(
    "UPDATE events SET retries_left = CASE WHEN status = 'pending' THEN retries_left ELSE 0 END,
        status = 'pending', due_at = ?3, claimed_by = NULL, updated_at = ?3
     WHERE id = ?1 AND account_id = ?2
       AND (status IN ('failed', 'delivered') OR (status = 'pending' AND claimed_by IS NULL))",
);
/// `(id, account)`: why a retry changed nothing.
pub static RETRY_STATE: Statement =
    Statement::new("SELECT status, claimed_by FROM events WHERE id = ?1 AND account_id = ?2");
/// `(status, target, retries left, lease ms, due ms, now ms, id, account,
/// expected status)`.
pub static RETARGET_EVENT: Statement = Statement::new(
    "UPDATE events SET status = ?1, target = ?2, retries_left = ?3, lease_ms = ?4, due_at = ?5,
        claimed_by = NULL, updated_at = ?6
     WHERE id = ?7 AND account_id = ?8 AND status = ?9",
);

// ----- delivery queue -----

/// `(id)`: a claimed row that does not decode is failed alone.
pub static FAIL_UNDECODABLE: Statement = Statement::new(
    "UPDATE events SET status = 'failed', due_at = NULL, claimed_by = NULL WHERE id = ?1",
);
/// When the earliest pending event comes due.
pub static NEXT_DUE: Statement =
    Statement::new("SELECT MIN(due_at) FROM events WHERE status = 'pending'");
/// `(id, status, attempt, due ms, retries left or NULL, now ms)`, guarded by the
/// attempt number so a stale claim cannot record twice.
pub static RECORD_ATTEMPT: Statement = Statement::new(
    "UPDATE events SET status = ?2, attempts_made = ?3, due_at = ?4, claimed_by = NULL,
        retries_left = COALESCE(?5, retries_left), updated_at = ?6
     WHERE id = ?1 AND status = 'pending' AND attempts_made = CAST(?3 AS BIGINT) - 1",
);
/// One leg of an attempt.
pub static INSERT_ATTEMPT: Statement = Statement::new(concat!(
    "INSERT INTO attempts (event_id, ",
    columns!(attempt),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING"
));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_dollars_and_nothing_else_changes() {
        assert_eq!(
            to_postgres("SELECT a FROM t WHERE b = ?1 AND c = ?12 AND d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 AND d = '?'"
        );
        assert!(RETRY_EVENT.postgres().contains("due_at = $3"));
        assert!(!LIST_EVENTS.postgres().contains('?'));
    }
}
