//! Portal links: a signed, expiring token that opens the console on one
//! account (or one of its profiles), made with the account's key and never
//! granting more than it. Tokens are not stored; revoking an account's links
//! records the time, and a link made until then is refused.

use super::{App, AppError};
use crate::domain::console_token::{token_key, ConsoleToken, Grant};
use crate::domain::duration::HumanDuration;
use crate::domain::validate::FieldError;
use crate::storage::{sealed, Account, StoreError};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::Duration;

/// How long a link lasts when the request does not say.
pub const DEFAULT_LINK_LIFETIME: Duration = Duration::from_secs(3600);
/// The longest a link may last.
pub const MAX_LINK_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// `POST /v1/portal-links`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalLinkRequest {
    /// The one profile the console shows; the whole account when absent.
    #[serde(default)]
    pub profile_id: Option<String>,
    /// How long the link works (`1h`, `7d`; default `1h`, at most `30d`).
    #[serde(default)]
    pub expires_in: Option<HumanDuration>,
    /// Whether the console may change nothing.
    #[serde(default)]
    pub read_only: bool,
}

/// A link's token and when it stops working.
#[derive(Debug)]
pub struct PortalLink {
    /// The token, to put in `/console/portal?token=`.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// The keys console tokens are signed and checked with, current first:
/// derived from the master keys, so an older key still opens its tokens
/// after a rotation; `None` without a master key.
pub fn token_keys() -> Option<Vec<[u8; 32]>> {
    let keyring = sealed::installed()?;
    let keys: Vec<_> = keyring.link_keys().map(token_key).collect();
    (!keys.is_empty()).then_some(keys)
}

impl App {
    /// Makes a portal link for `account`, after checking the profile exists
    /// and the lifetime is within bounds.
    pub async fn portal_link(
        &self,
        account: &Account,
        request: PortalLinkRequest,
    ) -> Result<PortalLink, AppError> {
        let lifetime = request.expires_in.map_or(DEFAULT_LINK_LIFETIME, |d| d.0);
        if lifetime.is_zero() || lifetime > MAX_LINK_LIFETIME {
            let most = HumanDuration(MAX_LINK_LIFETIME);
            return Err(FieldError::new(
                "expires_in",
                format!("must be more than 0s and at most {most}"),
            )
            .into());
        }
        if let Some(profile) = &request.profile_id {
            self.profile_settings(account, profile).await?;
        }
        let grant = Grant::Portal {
            a: account.id.clone(),
            p: request.profile_id,
            ro: request.read_only,
        };
        let token = ConsoleToken::new(grant, Utc::now(), lifetime);
        let keys = token_keys().ok_or_else(|| {
            StoreError::Unavailable(
                "portal links need the master key, and none is installed".into(),
            )
        })?;
        Ok(PortalLink {
            token: token.sign(&keys[0]),
            expires_at: token.expires_at(),
        })
    }

    /// Every portal link of the account made until now stops working;
    /// answers the time.
    pub async fn revoke_portal_links(&self, account: &Account) -> Result<DateTime<Utc>, AppError> {
        let now = Utc::now();
        self.store.revoke_portal_links(&account.id, now).await?;
        Ok(now)
    }
}
