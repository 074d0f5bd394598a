//! Changes to what publishing reads: account settings and keys, profiles and
//! event types. Each service stores the change and then drops what this node
//! had cached of it, so the next publish here sees it at once (other nodes within
//! their cache times); handlers never touch the caches.

use super::{App, AppError};
use crate::domain::event_type::{Catalog, EventType};
use crate::domain::settings::WebhookSettings;
use crate::secrets::SigningKeys;
use crate::storage::{Account, Profile};
use chrono::{DateTime, Utc};

impl App {
    /// Replaces the account's settings after checking them.
    pub async fn set_account_settings(
        &self,
        account: &Account,
        settings: &WebhookSettings,
    ) -> Result<(), AppError> {
        self.check_settings(settings)?;
        self.store
            .set_account_settings(&account.id, settings)
            .await?;
        self.caches.forget_account(&account.id);
        Ok(())
    }

    /// Makes `key_hash` the account's API key; the old one works until
    /// `keep_old_until`, or stops at once.
    pub async fn rotate_api_key(
        &self,
        account: &Account,
        key_hash: [u8; 32],
        keep_old_until: Option<DateTime<Utc>>,
    ) -> Result<(), AppError> {
        self.store
            .rotate_api_key(&account.id, key_hash, keep_old_until)
            .await?;
        self.caches.forget_account(&account.id);
        Ok(())
    }

    /// New signing keys, the current ones signing beside them until
    /// `keep_old_until`; `None` when the account is gone.
    pub async fn rotate_signing_keys(
        &self,
        account: &Account,
        keep_old_until: DateTime<Utc>,
    ) -> Result<Option<SigningKeys>, AppError> {
        let keys = self
            .store
            .rotate_signing_keys(&account.id, SigningKeys::generate(), keep_old_until)
            .await?;
        if let Some(deliverer) = &self.deliverer {
            deliverer.forget_signer(&account.id);
        }
        self.caches.forget_account(&account.id);
        Ok(keys)
    }

    /// Creates or replaces a profile after checking its settings; answers it and
    /// whether it is new.
    pub async fn put_profile(
        &self,
        account: &Account,
        id: &str,
        settings: &WebhookSettings,
    ) -> Result<(Profile, bool), AppError> {
        self.check_settings(settings)?;
        let stored = self.store.put_profile(&account.id, id, settings).await?;
        self.caches.forget_profile(&account.id, id);
        Ok(stored)
    }

    /// Deletes a profile; `false` if there was none.
    pub async fn delete_profile(&self, account: &Account, id: &str) -> Result<bool, AppError> {
        let deleted = self.store.delete_profile(&account.id, id).await?;
        self.caches.forget_profile(&account.id, id);
        Ok(deleted)
    }

    /// Creates or replaces an event type; answers whether it is new.
    pub async fn put_event_type(
        &self,
        account: &Account,
        event_type: &EventType,
    ) -> Result<bool, AppError> {
        let created = self.store.put_event_type(&account.id, event_type).await?;
        self.caches.forget_types(&account.id);
        Ok(created)
    }

    /// Deletes an event type; `false` if there was none.
    pub async fn delete_event_type(&self, account: &Account, name: &str) -> Result<bool, AppError> {
        let deleted = self.store.delete_event_type(&account.id, name).await?;
        self.caches.forget_types(&account.id);
        Ok(deleted)
    }

    /// Registers (or replaces) every type of a built-in catalog; answers their
    /// names.
    pub async fn load_catalog(
        &self,
        account: &Account,
        catalog: Catalog,
    ) -> Result<Vec<String>, AppError> {
        let types = catalog.types();
        for event_type in &types {
            self.store.put_event_type(&account.id, event_type).await?;
        }
        self.caches.forget_types(&account.id);
        Ok(types.into_iter().map(|t| t.name).collect())
    }
}
