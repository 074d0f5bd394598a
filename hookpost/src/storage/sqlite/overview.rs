//! The console's overview on the embedded store: accounts and troubled
//! endpoints across accounts, recent failures, an endpoint's requests, and
//! portal-link revocation.

use super::errors::{decoded, from_sqlite};
use super::SqliteStore;
use crate::storage::rows::{self, first_id_at, ms, time};
use crate::storage::sql;
use crate::storage::*;
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, ToSql};

/// Every row of `statement`, read by `read`.
fn rows_of<T>(
    c: &Connection,
    statement: &sql::Statement,
    params: &[&dyn ToSql],
    read: fn(&rusqlite::Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut s = c.prepare_cached(statement.sqlite()).map_err(from_sqlite)?;
    let rows = s
        .query_map(params, |r| decoded(read(r)))
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

#[async_trait]
impl Overview for SqliteStore {
    async fn list_accounts(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AccountSummary>> {
        let after = after.map(str::to_string);
        self.readers
            .read(move |c| {
                rows_of(c, &sql::LIST_ACCOUNTS, &[&after, &limit], |r| {
                    rows::account_summary(r)
                })
            })
            .await
    }

    async fn troubled_endpoints(&self, limit: u32) -> StoreResult<Vec<Endpoint>> {
        self.readers
            .read(move |c| {
                rows_of(c, &sql::TROUBLED_ENDPOINTS, &[&limit], |r| {
                    rows::endpoint(r)
                })
            })
            .await
    }

    async fn recent_failures(
        &self,
        account_id: Option<&str>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<RecentFailure>> {
        let (account_id, first) = (account_id.map(str::to_string), first_id_at(since));
        self.readers
            .read(move |c| {
                rows_of(
                    c,
                    &sql::RECENT_FAILURES,
                    &[&account_id, &first, &limit],
                    |r| rows::recent_failure(r),
                )
            })
            .await
    }

    async fn endpoint_requests(
        &self,
        account_id: &str,
        endpoint_id: &str,
        published_since: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptPoint>> {
        let (account_id, endpoint_id) = (account_id.to_string(), endpoint_id.to_string());
        let first = first_id_at(published_since);
        self.readers
            .read(move |c| {
                rows_of(
                    c,
                    &sql::ENDPOINT_REQUESTS,
                    &[&account_id, &endpoint_id, &first, &ms(since)],
                    |r| rows::attempt_point(r),
                )
            })
            .await
    }

    async fn revoke_portal_links(&self, account_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let account_id = account_id.to_string();
        self.writer
            .write(move |c| {
                c.execute(
                    sql::REVOKE_PORTAL_LINKS.sqlite(),
                    rusqlite::params![account_id, ms(at)],
                )
                .map(|_| ())
                .map_err(from_sqlite)
            })
            .await
    }

    async fn portal_links_revoked_at(
        &self,
        account_id: &str,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let account_id = account_id.to_string();
        self.readers
            .read(move |c| {
                c.query_row(sql::PORTAL_REVOKED_AT.sqlite(), [account_id], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .map(|at| at.map(time))
                .map_err(from_sqlite)
            })
            .await
    }
}
