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
        let work = work(f, reply);
        let stopped = || StoreError::Unavailable("the SQLite writer has stopped".into());
        self.queue.send(work).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Wraps `f` so it runs in its own savepoint and answers `reply` after the commit.
fn work<T, F>(f: F, reply: oneshot::Sender<StoreResult<T>>) -> Work
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
{
    Box::new(move |conn| {
        let result = in_savepoint(conn, f);
        Box::new(move |commit_error| {
            let _ = reply.send(match commit_error {
                Some(e) => Err(e.clone()),
                None => result,
            });
        })
    })
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
    let mut finishers: Vec<Finish> = Vec::with_capacity(group.len());
    let mut works = group.into_iter();
    for work in works.by_ref() {
        finishers.push(work(conn));
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (disk full, I/O error, or a
            // savepoint that could not be closed): nothing of this group is stored,
            // so every caller hears so and the rest of the group does not run.
            let error =
                StoreError::Unavailable("the database aborted the write transaction".into());
            tracing::error!(%error, "group commit aborted");
            finishers.extend(works.map(|_| failed_finish()));
            return Err((finishers, error));
        }
    }
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
    let closed = match &result {
        Ok(_) => run_cached(conn, "RELEASE work"),
        Err(_) => {
            run_cached(conn, "ROLLBACK TO work").and_then(|()| run_cached(conn, "RELEASE work"))
        }
    };
    if let Err(e) = closed {
        // A savepoint left open would commit this work's half-done writes with
        // the group: abort the whole transaction instead (commit_group sees it).
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(group: GroupResult) {
        let (finishers, error) = match group {
            Ok(f) => (f, None),
            Err((f, e)) => (f, Some(e)),
        };
        for f in finishers {
            f(error.as_ref());
        }
    }

    fn insert(value: i64) -> impl FnOnce(&Connection) -> StoreResult<i64> + Send + 'static {
        move |c| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [value])
                .map(|_| value)
                .map_err(from_sqlite)
        }
    }

    fn setup() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .unwrap();
        conn
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_failing_work_leaves_its_neighbours_committed() {
        let conn = setup();
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        let (tx3, mut rx3) = oneshot::channel();
        let group = vec![
            work(insert(1), tx1),
            work(insert(1), tx2),
            work(insert(2), tx3),
        ];
        finish(commit_group(&conn, group));
        assert_eq!(rx1.try_recv().unwrap().unwrap(), 1);
        assert!(matches!(
            rx2.try_recv().unwrap(),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(rx3.try_recv().unwrap().unwrap(), 2);
        assert_eq!(count(&conn), 2);
    }

    #[test]
    fn an_aborted_transaction_fails_the_whole_group_and_stores_nothing() {
        let conn = setup();
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        let (tx3, mut rx3) = oneshot::channel();
        let abort = |c: &Connection| c.execute_batch("ROLLBACK").map_err(from_sqlite);
        let group = vec![work(insert(1), tx1), work(abort, tx2), work(insert(2), tx3)];
        finish(commit_group(&conn, group));
        assert!(
            rx1.try_recv().unwrap().is_err(),
            "work 1 was rolled back with the group"
        );
        assert!(rx2.try_recv().unwrap().is_err());
        assert!(
            rx3.try_recv().is_err(),
            "work 3 never ran: its caller hears the writer dropped it"
        );
        assert_eq!(count(&conn), 0);
        assert!(conn.is_autocommit());
    }
}
