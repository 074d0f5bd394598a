//! Reading attachments on PostgreSQL: one chunk at a time, and an event's
//! descriptions for a download.

use super::queries::query;
use crate::storage::rows::*;
use crate::storage::sql;
use crate::storage::*;
use deadpool_postgres::GenericClient;

type Sql<T> = StoreResult<T>;

/// See [`Attachments::attachment_chunk`].
pub async fn chunk<C: GenericClient>(
    c: &C,
    event_id: &str,
    position: u32,
    seq: u32,
) -> Sql<Option<Vec<u8>>> {
    let (position, seq) = (position as i32, seq as i32);
    let rows = query(
        c,
        sql::SELECT_ATTACHMENT_CHUNK.postgres(),
        &[&event_id, &position, &seq],
    )
    .await?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// See [`Attachments::event_attachments`].
pub async fn of_event<C: GenericClient>(c: &C, event_id: &str) -> Sql<Option<EventFiles>> {
    let rows = query(c, sql::SELECT_EVENT_ATTACHMENTS.postgres(), &[&event_id]).await?;
    rows.first()
        .map(|r| {
            Ok(EventFiles {
                account_id: r.get(0),
                files: read_attachments(r.get::<_, Option<&str>>(1))?,
            })
        })
        .transpose()
}
