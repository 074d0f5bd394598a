//! What a request looks up besides the event itself: the account of an API key,
//! the profile named by `profile_id` and the rules of the event type. All come
//! from the short-lived caches of [`super::Caches`] when they can; compiled schemas are shared by all
//! publishes, keyed by their text, so a schema is compiled once per process.

use super::App;
use super::AppError;
use crate::domain::event::Category;
use crate::domain::event_type::{EventType, PayloadSchema};
use crate::domain::settings::WebhookSettings;
use crate::domain::validate::{self, FieldError};
use crate::storage::{Account, Endpoint, StoreError};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
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
    /// The payload of a version (`payloads.v2`) must satisfy that version's
    /// schema; a version without one is not checked.
    pub versions: BTreeMap<String, Arc<PayloadSchema>>,
}

impl TypeRules {
    /// Checks an event's payload against the type's schema and each versioned
    /// payload against its version's, naming the failing path (`payload.x`,
    /// `payloads.v2.x`). Both must already be JSON objects.
    pub fn check(&self, payload: &RawValue, payloads: Option<&RawValue>) -> Result<(), FieldError> {
        if let Some(schema) = &self.schema {
            schema.check("payload", &parsed::<Value>("payload", payload)?)?;
        }
        let Some(payloads) = payloads.filter(|_| !self.versions.is_empty()) else {
            return Ok(());
        };
        let by_version: BTreeMap<String, Value> = parsed("payloads", payloads)?;
        for (version, payload) in &by_version {
            if let Some(schema) = self.versions.get(version) {
                schema.check(&format!("payloads.{version}"), payload)?;
            }
        }
        Ok(())
    }
}

/// A payload (or the map of them by version), read for checking against schemas.
fn parsed<T: DeserializeOwned>(field: &str, raw: &RawValue) -> Result<T, FieldError> {
    serde_json::from_str(raw.get()).map_err(|e| FieldError::new(field, e.to_string()))
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
            Some(t) => self.compile_rules(&t)?,
        };
        self.caches.types.put(key, rules.clone(), generation);
        Ok(rules)
    }

    /// The rules of a stored type, its schemas compiled through the shared cache.
    fn compile_rules(&self, t: &EventType) -> Result<TypeRules, StoreError> {
        let versions = t
            .versions
            .iter()
            .map(|(name, v)| Ok((name.clone(), self.schemas.compiled(&v.schema)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(TypeRules {
            category: t.category,
            schema: t
                .schema
                .as_ref()
                .map(|s| self.schemas.compiled(s))
                .transpose()?,
            versions,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    fn compiled(schema: Value) -> Arc<PayloadSchema> {
        Arc::new(PayloadSchema::compile(&schema).unwrap())
    }

    #[test]
    fn each_versioned_payload_is_checked_by_its_own_schema_only() {
        let rules = TypeRules {
            category: Category::Postflight,
            schema: Some(compiled(json!({"required": ["fax_id"]}))),
            versions: [("v2".to_string(), compiled(json!({"required": ["id"]})))].into(),
        };
        let payload = raw(json!({"fax_id": "f"}));
        let payloads = |v2: Value| raw(json!({"v2": v2, "v3": {"anything": true}}));
        assert!(rules
            .check(&payload, Some(&payloads(json!({"id": 1}))))
            .is_ok());
        assert_eq!(
            rules
                .check(&payload, Some(&payloads(json!({"fax_id": "f"}))))
                .unwrap_err()
                .field,
            "payloads.v2"
        );
        assert_eq!(
            rules
                .check(&raw(json!({"id": 1})), Some(&payloads(json!({"id": 1}))))
                .unwrap_err()
                .field,
            "payload",
            "the main payload stays checked by the main schema"
        );
        assert!(rules.check(&payload, None).is_ok());
    }
}
