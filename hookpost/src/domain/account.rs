//! Accounts (tenants) and their profiles, as hookpost keeps them.

use super::retention::RetentionOverride;
use super::settings::WebhookSettings;
use crate::secrets::SigningKeys;
use chrono::{DateTime, Utc};

/// A tenant.
#[derive(Debug, Clone)]
pub struct Account {
    /// Public id.
    pub id: String,
    /// A label for people.
    pub name: String,
    /// Account-level webhook settings.
    pub settings: WebhookSettings,
    /// Signing material.
    pub keys: SigningKeys,
    /// Its own retention times (unset: the server's).
    pub retention: RetentionOverride,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A named scope inside an account, with its own settings.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Chosen by the caller.
    pub id: String,
    /// Profile-level webhook settings.
    pub settings: WebhookSettings,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it was last replaced.
    pub updated_at: DateTime<Utc>,
}

/// A new account to store.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The account itself.
    pub account: Account,
    /// SHA-256 of its API key; the key itself is never stored.
    pub api_key_hash: [u8; 32],
}
