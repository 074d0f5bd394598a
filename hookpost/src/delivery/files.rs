//! An event's files on their way out, read from storage a chunk at a time:
//! streamed into an HTTP body, replayed for the signatures that cover the
//! whole body, or read whole for an e-mail. A delivery holds one chunk of a
//! file at a time, never the file.

use super::envelope::{Body, FilePart};
use crate::domain::attachment::{Attachment, CHUNK_BYTES};
use crate::storage::{Attachments, StoreError, StoreResult};
use bytes::Bytes;
use futures::stream::{self, Stream, StreamExt};
use hookpost_signatures::{Replay, ReplayError};
use std::sync::Arc;

/// Reads files from the store.
#[derive(Clone)]
pub struct FileReader {
    store: Arc<dyn Attachments>,
}

impl FileReader {
    /// Reads from `store`.
    pub fn new(store: Arc<dyn Attachments>) -> FileReader {
        FileReader { store }
    }

    /// A file's whole contents (an e-mail attaches them whole).
    pub async fn whole(
        &self,
        event_id: &str,
        position: u32,
        file: &Attachment,
    ) -> StoreResult<Vec<u8>> {
        let mut contents = Vec::with_capacity(file.size as usize);
        for seq in 0..file.chunks() {
            contents.extend(self.chunk(event_id, position, seq).await?);
        }
        Ok(contents)
    }

    /// Chunk `seq` of a file; a missing one means the event was deleted
    /// while it was being sent.
    pub async fn chunk(&self, event_id: &str, position: u32, seq: u32) -> StoreResult<Vec<u8>> {
        self.store
            .attachment_chunk(event_id, position, seq)
            .await?
            .ok_or_else(|| {
                StoreError::Internal(format!(
                    "chunk {seq} of attachment {position} of event {event_id} is gone (the event was deleted?)"
                ))
            })
    }

    /// The body as an HTTP request body: the bytes as they are, or a stream
    /// of the bytes with each file's chunks read in turn.
    pub fn http_body(&self, event_id: &str, body: Body) -> reqwest::Body {
        if body.files.is_empty() {
            return reqwest::Body::from(body.bytes);
        }
        reqwest::Body::wrap_stream(self.stream(event_id.to_string(), body))
    }

    /// Every piece of a body with files, in wire order.
    fn stream(
        &self,
        event_id: String,
        body: Body,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let head = stream::once(async move { Ok(Bytes::from(body.bytes)) });
        let reader = self.clone();
        let files = stream::iter(body.files)
            .flat_map(move |part| reader.part_stream(event_id.clone(), part));
        head.chain(files)
    }

    /// One file's chunks, then the bytes after it.
    fn part_stream(
        &self,
        event_id: String,
        part: FilePart,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let reader = self.clone();
        let FilePart {
            position,
            file,
            after,
        } = part;
        let chunks = stream::iter(0..file.chunks()).then(move |seq| {
            let (reader, event_id) = (reader.clone(), event_id.clone());
            async move {
                reader
                    .chunk(&event_id, position, seq)
                    .await
                    .map(Bytes::from)
                    .map_err(std::io::Error::other)
            }
        });
        chunks.chain(stream::once(async move { Ok(Bytes::from(after)) }))
    }

    /// Bytes `range` (start inclusive, end exclusive) of a file, read a
    /// chunk at a time: what a download streams.
    pub fn range(
        &self,
        event_id: String,
        position: u32,
        range: std::ops::Range<u64>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let reader = self.clone();
        let size = CHUNK_BYTES as u64;
        let chunks = if range.is_empty() {
            0..0
        } else {
            (range.start / size) as u32..range.end.div_ceil(size) as u32
        };
        stream::iter(chunks).then(move |seq| {
            let (reader, event_id, range) = (reader.clone(), event_id.clone(), range.clone());
            async move {
                let chunk = reader
                    .chunk(&event_id, position, seq)
                    .await
                    .map_err(std::io::Error::other)?;
                let offset = u64::from(seq) * size;
                let from = range.start.saturating_sub(offset) as usize;
                let to = (range.end - offset).min(chunk.len() as u64) as usize;
                Ok(Bytes::from(chunk).slice(from.min(to)..to))
            }
        })
    }

    /// The body, file contents included, for signing. Replaying it blocks
    /// the thread on the store: do it inside `tokio::task::block_in_place`
    /// (on a multi-threaded runtime).
    pub fn replay<'a>(&'a self, event_id: &'a str, body: &'a Body) -> StoredBody<'a> {
        StoredBody {
            reader: self,
            event_id,
            body,
        }
    }
}

/// A body with files, read again from storage each time it is replayed.
pub struct StoredBody<'a> {
    reader: &'a FileReader,
    event_id: &'a str,
    body: &'a Body,
}

impl Replay for StoredBody<'_> {
    fn replay(&self, sink: &mut dyn FnMut(&[u8])) -> Result<(), ReplayError> {
        let handle = tokio::runtime::Handle::current();
        sink(&self.body.bytes);
        for part in &self.body.files {
            for seq in 0..part.file.chunks() {
                let read = self.reader.chunk(self.event_id, part.position, seq);
                let chunk = handle
                    .block_on(read)
                    .map_err(|e| ReplayError(e.to_string()))?;
                sink(&chunk);
            }
            sink(&part.after);
        }
        Ok(())
    }
}
