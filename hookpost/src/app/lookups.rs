//! What a publish looks up besides the event itself: the profile named by
//! `profile_id` and the rules of the event type. Each publish call memoizes them
//! (a batch names the same few again and again); compiled schemas are shared by
//! all calls, keyed by their text, so a schema is compiled once per process.

use super::publish::PublishError;
use super::App;
use crate::domain::event::Category;
use crate::domain::event_type::PayloadSchema;
use crate::domain::settings::WebhookSettings;
use crate::domain::validate::{self, FieldError};
use crate::storage::{Account, StoreError};
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

/// Lookups of one publish call.
#[derive(Default)]
pub struct Lookups {
    profiles: HashMap<String, WebhookSettings>,
    types: HashMap<String, TypeRules>,
}

impl Lookups {
    /// The settings of profile `id`; an unknown profile is the caller's mistake.
    pub async fn profile(
        &mut self,
        app: &App,
        account: &Account,
        id: &str,
    ) -> Result<WebhookSettings, PublishError> {
        validate::profile_id(id)?;
        if let Some(found) = self.profiles.get(id) {
            return Ok(found.clone());
        }
        let profile = app.store.profile(&account.id, id).await?.ok_or_else(|| {
            FieldError::new(
                "profile_id",
                format!(
                    "no profile `{id}` in this account; create it with PUT /v1/profiles/{{id}}"
                ),
            )
        })?;
        self.profiles
            .insert(id.to_string(), profile.settings.clone());
        Ok(profile.settings)
    }

    /// The rules of event type `name`; unregistered types are postflight, unchecked.
    pub async fn type_rules(
        &mut self,
        app: &App,
        account: &Account,
        name: &str,
    ) -> Result<TypeRules, PublishError> {
        if let Some(found) = self.types.get(name) {
            return Ok(found.clone());
        }
        let rules = match app.store.event_type(&account.id, name).await? {
            None => TypeRules::default(),
            Some(t) => TypeRules {
                category: t.category,
                schema: t
                    .schema
                    .as_ref()
                    .map(|s| app.schemas.compiled(s))
                    .transpose()?,
            },
        };
        self.types.insert(name.to_string(), rules.clone());
        Ok(rules)
    }
}

/// Compiled schemas, shared by every publish.
#[derive(Default)]
pub struct SchemaCache(Mutex<HashMap<String, Arc<PayloadSchema>>>);

impl SchemaCache {
    /// The compiled form of a stored schema.
    pub fn compiled(&self, schema: &serde_json::Value) -> Result<Arc<PayloadSchema>, StoreError> {
        let key = schema.to_string();
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
