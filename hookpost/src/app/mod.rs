//! The application services between the HTTP edge and storage: publishing (with
//! target resolution and the hand-off to the worker) and the checks every stored
//! setting passes. Handlers call these; these call the domain and the store.

pub mod cache;
pub mod endpoints;
pub mod lifecycle;
pub mod lookups;
pub mod manage;
pub mod notices;
pub mod portal;
pub mod publish;
pub mod retry;

use crate::config::ServeConfig;
use crate::delivery::address::AddressPolicy;
use crate::delivery::worker::Deliverer;
use crate::domain::settings::WebhookSettings;
use crate::domain::validate::FieldError;
use crate::domain::webhook_url::WebhookUrl;
use crate::storage::{Account, Store};
use std::sync::Arc;

/// Why an application service refused; nothing was stored half-way.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A field is wrong.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::storage::StoreError),
}

/// Everything a request handler may need, shared by all of them.
pub struct App {
    /// Where everything is kept.
    pub store: Arc<dyn Store>,
    /// The local delivery worker (publish hands new events to it).
    pub deliverer: Option<Arc<Deliverer>>,
    /// The server's configuration.
    pub config: ServeConfig,
    /// Which addresses deliveries may reach.
    pub policy: AddressPolicy,
    /// Compiled event-type schemas.
    pub schemas: lookups::SchemaCache,
    /// Recently read accounts, profiles and event-type rules.
    pub caches: Caches,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Tells this node's retention purge that an account's retention changed.
    pub retention_changed: Arc<tokio::sync::Notify>,
}

/// The lookups every publish makes, cached briefly (see [`cache`]).
#[derive(Default)]
pub struct Caches {
    /// Accounts by the SHA-256 of an API key.
    pub accounts: cache::TtlCache<[u8; 32], Account>,
    /// Profile settings by (account, profile id).
    pub profiles: cache::TtlCache<(String, String), WebhookSettings>,
    /// Event-type rules by (account, type name).
    pub types: cache::TtlCache<(String, String), lookups::TypeRules>,
    /// Endpoints by (account, profile or none): the candidates of one level.
    pub endpoints: cache::TtlCache<(String, Option<String>), Arc<Vec<crate::storage::Endpoint>>>,
}

impl Caches {
    /// Drops what is cached of an account (after its settings or keys changed).
    pub fn forget_account(&self, account_id: &str) {
        self.accounts.forget(|_, a| a.id == account_id);
    }

    /// Drops a profile (after it was replaced or deleted).
    pub fn forget_profile(&self, account_id: &str, id: &str) {
        self.profiles.forget(|(a, p), _| a == account_id && p == id);
    }

    /// Drops an account's event-type rules (after a type changed).
    pub fn forget_types(&self, account_id: &str) {
        self.types.forget(|(a, _), _| a == account_id);
    }

    /// Drops every cached endpoint list of the account (an endpoint changed).
    pub fn forget_endpoints(&self, account_id: &str) {
        self.endpoints.forget(|(a, _), _| a == account_id);
    }
}

impl App {
    /// Asks the local worker, if this node has one, to look at the queue now.
    pub fn wake_worker(&self) {
        if let Some(deliverer) = &self.deliverer {
            deliverer.wake();
        }
    }

    /// Checks settings before they are stored or used: the rules of the settings
    /// themselves, then each URL against what this server can deliver to.
    pub fn check_settings(&self, settings: &WebhookSettings) -> Result<(), FieldError> {
        settings
            .validate()
            .map_err(|(field, message)| FieldError::new(field, message))?;
        for (field, url) in settings.urls() {
            self.check_url(url)
                .map_err(|message| FieldError::new(field, message))?;
        }
        Ok(())
    }

    /// Refuses at once what could never be delivered: e-mail without a relay, and
    /// a literal address in a blocked range.
    fn check_url(&self, url: &WebhookUrl) -> Result<(), String> {
        if url.is_mailto() {
            if self.config.smtp_url.is_none() {
                return Err("e-mail (mailto:) targets need an SMTP relay, and this server has none configured (--smtp-url)".into());
            }
            return crate::delivery::email::recipients(url)
                .map(|_| ())
                .map_err(|e| e.to_string());
        }
        self.policy.check_host(url.url()).map_err(|(ip, range)| {
            format!(
                "{ip} is a {} address, which deliveries may not reach (an operator can allow it with --allow-targets)",
                range.as_str()
            )
        })
    }
}
