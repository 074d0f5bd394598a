//! The console's overview on PostgreSQL: accounts and troubled endpoints
//! across accounts, recent failures, an endpoint's requests, and portal-link
//! revocation.

use super::queries::{execute, query};
use super::PostgresStore;
use crate::storage::rows::{self, first_id_at, ms, time};
use crate::storage::sql;
use crate::storage::*;
use async_trait::async_trait;

#[async_trait]
impl Overview for PostgresStore {
    async fn list_accounts(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AccountSummary>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            sql::LIST_ACCOUNTS.postgres(),
            &[&after, &(limit as i64)],
        )
        .await?;
        rows.iter().map(rows::account_summary).collect()
    }

    async fn troubled_endpoints(&self, limit: u32) -> StoreResult<Vec<Endpoint>> {
        let client = self.client().await?;
        let rows = query(
            &client,
            sql::TROUBLED_ENDPOINTS.postgres(),
            &[&(limit as i64)],
        )
        .await?;
        rows.iter().map(rows::endpoint).collect()
    }

    async fn recent_failures(
        &self,
        account_id: Option<&str>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RecentFailure>> {
        let client = self.client().await?;
        let first = first_id_at(since);
        let rows = query(
            &client,
            sql::RECENT_FAILURES.postgres(),
            &[&account_id, &first, &(limit as i64)],
        )
        .await?;
        rows.iter().map(rows::recent_failure).collect()
    }

    async fn endpoint_requests(
        &self,
        account_id: &str,
        endpoint_id: &str,
        published_since: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptPoint>> {
        let client = self.client().await?;
        let first = first_id_at(published_since);
        let rows = query(
            &client,
            sql::ENDPOINT_REQUESTS.postgres(),
            &[&account_id, &endpoint_id, &first, &ms(since)],
        )
        .await?;
        rows.iter().map(rows::attempt_point).collect()
    }

    async fn revoke_portal_links(&self, account_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let client = self.client().await?;
        execute(
            &client,
            sql::REVOKE_PORTAL_LINKS.postgres(),
            &[&account_id, &ms(at)],
        )
        .await?;
        Ok(())
    }

    async fn portal_links_revoked_at(
        &self,
        account_id: &str,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let client = self.client().await?;
        let rows = query(&client, sql::PORTAL_REVOKED_AT.postgres(), &[&account_id]).await?;
        Ok(rows.first().map(|r| time(r.get::<_, i64>(0))))
    }
}
