//! What a request looks up besides the event itself: the account of an API key,
//! the profile named by `profile_id` and the rules of the event type. All come
//! from the short-lived caches of [`super::Caches`] when they can; compiled schemas are shared by all
//! publishes, keyed by their text, so a schema is compiled once per process.

use super::App;
use super::AppError;
use crate::domain::event::Category;
use crate::domain::event_type::PayloadSchema;
use crate::domain::settings::WebhookSettings;
use crate::domain::validate::{self, FieldError};
use crate::storage::{Account, Endpoint, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most compiled schemas kept; past that the cache starts over.
const MAX_SCHEMAS: usize = 1024;

/// How events of one type are treated.
#[derive(Clone, Default)]
pub struct TypeRules {
    /// Inflight events reach only targets that take them.
    pub category: Category,
    /// Payloads must satisfy it, if set.
    pub schema: Option<Arc<PayloadSchema>>,
}

impl App {
    /// The account whose API key hashes to `hash`, through the short-lived
    /// account cache (a rotation or settings change on this node clears it).
    pub async fn account_by_key(&self, hash: [u8; 32]) -> Result<Option<Account>, AppError> {
        let (cached, generation) = self.caches.accounts.get(&hash);
        if cached.is_some() {
            return Ok(cached);
        }
        let found = self.store.account_by_key(hash).await?;
        if let Some(account) = &found {
            self.caches.accounts.put(hash, account.clone(), generation);
        }
        Ok(found)
    }

    /// The settings of profile `id`; an unknown profile is the caller's mistake.
    pub async fn profile_settings(
        &self,
        account: &Account,
        id: &str,
    ) -> Result<WebhookSettings, AppError> {
        validate::profile_id(id)?;
        let key = (account.id.clone(), id.to_string());
        let (cached, generation) = self.caches.profiles.get(&key);
        if let Some(found) = cached {
            return Ok(found);
        }
        let profile = self.store.profile(&account.id, id).await?.ok_or_else(|| {
            FieldError::new(
                "profile_id",
                format!(
                    "no profile `{id}` in this account; create it with PUT /v1/profiles/{{id}}"
                ),
            )
        })?;
        self.caches
            .profiles
            .put(key, profile.settings.clone(), generation);
        Ok(profile.settings)
    }

    /// The endpoints of one level of resolution: bound to `profile_id`, or
    /// (`None`) to no profile.
    pub async fn level_endpoints(
        &self,
        account: &Account,
        profile_id: Option<&str>,
    ) -> Result<Arc<Vec<Endpoint>>, AppError> {
        let key = (account.id.clone(), profile_id.map(str::to_string));
        let (cached, generation) = self.caches.endpoints.get(&key);
        if let Some(found) = cached {
            return Ok(found);
        }
        let found = Arc::new(self.store.level_endpoints(&account.id, profile_id).await?);
        self.caches.endpoints.put(key, found.clone(), generation);
        Ok(found)
    }

    /// The rules of event type `name`; unregistered types are postflight, unchecked.
    pub async fn type_rules(&self, account: &Account, name: &str) -> Result<TypeRules, AppError> {
        let key = (account.id.clone(), name.to_string());
        let (cached, generation) = self.caches.types.get(&key);
        if let Some(found) = cached {
            return Ok(found);
        }
        let rules = match self.store.event_type(&account.id, name).await? {
            None => TypeRules::default(),
            Some(t) => TypeRules {
                category: t.category,
                schema: t
                    .schema
                    .as_ref()
                    .map(|s| self.schemas.compiled(s))
                    .transpose()?,
            },
        };
        self.caches.types.put(key, rules.clone(), generation);
        Ok(rules)
    }
}

/// Compiled schemas, shared by every publish, keyed by the SHA-256 of their text
/// (schemas are capped at [`crate::domain::event_type::MAX_SCHEMA_BYTES`]).
#[derive(Default)]
pub struct SchemaCache(Mutex<HashMap<[u8; 32], Arc<PayloadSchema>>>);

impl SchemaCache {
    /// The compiled form of a stored schema.
    pub fn compiled(&self, schema: &serde_json::Value) -> Result<Arc<PayloadSchema>, StoreError> {
        let key = crate::secrets::hash_token(&schema.to_string());
        if let Some(found) = self.0.lock().expect("schema cache poisoned").get(&key) {
            return Ok(found.clone());
        }
        let compiled = Arc::new(PayloadSchema::compile(schema).map_err(|e| {
            StoreError::Internal(format!("a stored event type schema does not compile: {e}"))
        })?);
        let mut cache = self.0.lock().expect("schema cache poisoned");
        if cache.len() >= MAX_SCHEMAS {
            cache.clear();
        }
        cache.insert(key, compiled.clone());
        Ok(compiled)
    }
}
