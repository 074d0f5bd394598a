//! The single writer: one thread owns the write connection and commits whatever
//! work has queued up in one transaction (group commit). Concurrent publishes thus
//! share one flush to disk, so durability does not cost throughput; each piece of
//! work runs in its own savepoint so one failure does not undo its neighbours, and
//! every caller hears back only after the commit that holds its work.

use super::errors::from_sqlite;
use crate::storage::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Most pieces of work committed together.
const MAX_GROUP: usize = 1024;

/// Called after the commit with its error, if any.
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// A piece of work: runs inside the group's transaction, answers how to finish.
type Work = Box<dyn FnOnce(&Connection) -> Finish + Send>;

/// Handle to the writer thread. Cloning shares the thread.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Work>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub fn start(conn: Connection) -> Writer {
        let (queue, incoming) = mpsc::channel::<Work>();
        std::thread::Builder::new()
            .name("hookpost-sqlite-writer".into())
            .spawn(move || run(conn, incoming))
            .expect("could not start the SQLite writer thread");
        Writer { queue }
    }

    /// Runs `f` in the next group transaction and answers once it is committed.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |conn| {
            let result = in_savepoint(conn, f);
            Box::new(move |commit_error| {
                let _ = reply.send(match commit_error {
                    Some(e) => Err(e.clone()),
                    None => result,
                });
            })
        });
        let stopped = || StoreError::Unavailable("the SQLite writer has stopped".into());
        self.queue.send(work).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn run(conn: Connection, incoming: mpsc::Receiver<Work>) {
    while let Ok(first) = incoming.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match incoming.try_recv() {
                Ok(work) => group.push(work),
                Err(_) => break,
            }
        }
        let outcome = commit_group(&conn, group);
        let (finishers, error) = match outcome {
            Ok(finishers) => (finishers, None),
            Err((finishers, e)) => (finishers, Some(e)),
        };
        for finish in finishers {
            finish(error.as_ref());
        }
    }
}

type GroupResult = Result<Vec<Finish>, (Vec<Finish>, StoreError)>;

fn commit_group(conn: &Connection, group: Vec<Work>) -> GroupResult {
    if let Err(error) = run_cached(conn, "BEGIN IMMEDIATE") {
        let finishers = group
            .into_iter()
            .map(|_| failed_finish())
            .collect::<Vec<_>>();
        tracing::error!(%error, "could not begin a write transaction");
        return Err((finishers, error));
    }
    let finishers: Vec<Finish> = group.into_iter().map(|work| work(conn)).collect();
    match run_cached(conn, "COMMIT") {
        Ok(()) => Ok(finishers),
        Err(error) => {
            tracing::error!(%error, "group commit failed; rolling back");
            let _ = run_cached(conn, "ROLLBACK");
            Err((finishers, error))
        }
    }
}

/// Work that never ran: its caller's reply channel is dropped with it, which the
/// caller reads as "unavailable".
fn failed_finish() -> Finish {
    Box::new(|_| {})
}

/// Runs one prepared statement; the writer's fixed statements are parsed once.
fn run_cached(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(from_sqlite)
}

fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    run_cached(conn, "SAVEPOINT work")?;
    let result = f(conn);
    if result.is_err() {
        run_cached(conn, "ROLLBACK TO work")?;
    }
    run_cached(conn, "RELEASE work")?;
    result
}
