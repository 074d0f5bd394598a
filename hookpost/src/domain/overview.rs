//! What the operator's console reads across accounts: the accounts, and the
//! latest failed requests with the account and endpoint they belong to.

use chrono::{DateTime, Utc};

/// An account as the operator lists it (no settings, no keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// `acc_…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One failed request (a leg of an attempt), with whose it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentFailure {
    /// The event's account.
    pub account_id: String,
    /// The event.
    pub event_id: String,
    /// The endpoint, when the delivery went to one.
    pub endpoint_id: Option<String>,
    /// Attempt number.
    pub attempt: u32,
    /// `primary` or `failover`.
    pub leg: String,
    /// Where it went (password masked).
    pub url: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: u64,
    /// The receiver's status, if it answered.
    pub http_status: Option<u16>,
    /// What went wrong.
    pub error: String,
}
