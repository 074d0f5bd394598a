//! Reading attachments on the embedded store: one chunk at a time, and an
//! event's descriptions for a download.

use super::errors::from_sqlite;
use crate::storage::rows::*;
use crate::storage::sql;
use crate::storage::*;
use rusqlite::{params, Connection, OptionalExtension};

type Sql<T> = StoreResult<T>;

/// See [`Attachments::attachment_chunk`].
pub fn chunk(c: &Connection, event_id: &str, position: u32, seq: u32) -> Sql<Option<Vec<u8>>> {
    c.prepare_cached(sql::SELECT_ATTACHMENT_CHUNK.sqlite())
        .and_then(|mut s| {
            s.query_row(params![event_id, position, seq], |r| r.get(0))
                .optional()
        })
        .map_err(from_sqlite)
}

/// See [`Attachments::event_attachments`].
pub fn of_event(c: &Connection, event_id: &str) -> Sql<Option<EventFiles>> {
    let row: Option<(String, Option<String>)> = c
        .prepare_cached(sql::SELECT_EVENT_ATTACHMENTS.sqlite())
        .and_then(|mut s| {
            s.query_row([event_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(from_sqlite)?;
    row.map(|(account_id, text)| {
        Ok(EventFiles {
            account_id,
            files: read_attachments(text.as_deref())?,
        })
    })
    .transpose()
}
