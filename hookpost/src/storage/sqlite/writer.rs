//! The single writer: one thread owns the write connection and commits whatever
//! work has queued up in one transaction (group commit). Concurrent publishes thus
//! share one flush to disk, so durability does not cost throughput, and every
//! caller hears back only after the commit that holds its work.
//!
//! A group runs first as it is, all its work in the one transaction. Only if a
//! piece fails (its writes may be half done) is the transaction rolled back and
//! the group run again with each piece in its own savepoint, so the failure
//! undoes nothing of its neighbours. Work is therefore `FnMut`: it may run
//! twice, and only the writes of its last run are kept. A savepoint for every
//! piece cost two more statements per piece and a copy of each page it
//! touched (SQLite's sub-journal), though nearly every group succeeds.

use super::errors::from_sqlite;
use crate::storage::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Most pieces of work committed together.
const MAX_GROUP: usize = 1024;

/// A piece of work in a group, with the caller waiting for its answer.
trait Work: Send {
    /// Runs inside the group's transaction (`alone`: in its own savepoint);
    /// answers whether it succeeded, keeping its answer.
    fn run(&mut self, conn: &Connection, alone: bool) -> bool;
    /// Answers the caller once the commit is known (its error, if any).
    fn finish(self: Box<Self>, commit_error: Option<&StoreError>);
}

/// [`Work`] answering `T`.
struct Job<T, F> {
    f: F,
    answer: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Work for Job<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection, alone: bool) -> bool {
        let answer = if alone {
            in_savepoint(conn, &mut self.f)
        } else {
            (self.f)(conn)
        };
        let ok = answer.is_ok();
        self.answer = Some(answer);
        ok
    }

    fn finish(self: Box<Self>, commit_error: Option<&StoreError>) {
        let Some(answer) = self.answer else { return };
        let _ = self.reply.send(match commit_error {
            Some(e) => Err(e.clone()),
            None => answer,
        });
    }
}

/// Handle to the writer thread. Cloning shares the thread.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Work>>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub fn start(conn: Connection) -> Writer {
        let (queue, incoming) = mpsc::channel::<Box<dyn Work>>();
        std::thread::Builder::new()
            .name("hookpost-sqlite-writer".into())
            .spawn(move || run(conn, incoming))
            .expect("could not start the SQLite writer thread");
        Writer { queue }
    }

    /// Runs `f` in the next group transaction (twice, if a neighbour failed:
    /// see the module) and answers once it is committed.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the SQLite writer has stopped".into());
        self.queue.send(job(f, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn job<T, F>(f: F, reply: oneshot::Sender<StoreResult<T>>) -> Box<dyn Work>
where
    T: Send + 'static,
    F: FnMut(&Connection) -> StoreResult<T> + Send + 'static,
{
    Box::new(Job {
        f,
        answer: None,
        reply,
    })
}

fn run(conn: Connection, incoming: mpsc::Receiver<Box<dyn Work>>) {
    while let Ok(first) = incoming.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match incoming.try_recv() {
                Ok(work) => group.push(work),
                Err(_) => break,
            }
        }
        finish(commit_group(&conn, &mut group), group);
    }
}

/// How a group ended: how many of its pieces ran in the pass that counts
/// (the others never ran: their callers' reply channels are dropped, which
/// they read as "unavailable"), and the error that undid them all, if any.
type GroupOutcome = (usize, Option<StoreError>);

fn finish((ran, error): GroupOutcome, group: Vec<Box<dyn Work>>) {
    for work in group.into_iter().take(ran) {
        work.finish(error.as_ref());
    }
}

fn commit_group(conn: &Connection, group: &mut [Box<dyn Work>]) -> GroupOutcome {
    if let Err(error) = run_cached(conn, "BEGIN IMMEDIATE") {
        tracing::error!(%error, "could not begin a write transaction");
        return (0, Some(error));
    }
    let together = group
        .iter_mut()
        .all(|work| work.run(conn, false) && !conn.is_autocommit());
    if !together {
        if let Some(outcome) = run_each_alone(conn, group) {
            return outcome;
        }
    }
    match run_cached(conn, "COMMIT") {
        Ok(()) => (group.len(), None),
        Err(error) => {
            tracing::error!(%error, "group commit failed; rolling back");
            let _ = run_cached(conn, "ROLLBACK");
            (group.len(), Some(error))
        }
    }
}

/// Runs the group again in a new transaction, each piece in its own
/// savepoint; answers how the group ended if it cannot be committed.
fn run_each_alone(conn: &Connection, group: &mut [Box<dyn Work>]) -> Option<GroupOutcome> {
    if !conn.is_autocommit() {
        let _ = run_cached(conn, "ROLLBACK");
    }
    if let Err(error) = run_cached(conn, "BEGIN IMMEDIATE") {
        tracing::error!(%error, "could not begin a write transaction");
        return Some((0, Some(error)));
    }
    for (n, work) in group.iter_mut().enumerate() {
        work.run(conn, true);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (disk full, I/O error, or a
            // savepoint that could not be closed): nothing of this group is stored,
            // so every caller hears so and the rest of the group does not run.
            let error =
                StoreError::Unavailable("the database aborted the write transaction".into());
            tracing::error!(%error, "group commit aborted");
            return Some((n + 1, Some(error)));
        }
    }
    None
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

    fn commit(conn: &Connection, mut group: Vec<Box<dyn Work>>) {
        finish(commit_group(conn, &mut group), group);
    }

    fn insert(value: i64) -> impl FnMut(&Connection) -> StoreResult<i64> + Send + 'static {
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
            job(insert(1), tx1),
            job(insert(1), tx2),
            job(insert(2), tx3),
        ];
        commit(&conn, group);
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
        let group = vec![job(insert(1), tx1), job(abort, tx2), job(insert(2), tx3)];
        commit(&conn, group);
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

    #[test]
    fn a_group_runs_once_together_and_again_alone_only_if_one_fails() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        use std::sync::Arc;
        let conn = setup();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = |value: i64| {
            let (runs, mut insert) = (runs.clone(), insert(value));
            move |c: &Connection| {
                runs.fetch_add(1, SeqCst);
                insert(c)
            }
        };
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        commit(&conn, vec![job(counted(1), tx1), job(counted(2), tx2)]);
        assert_eq!(runs.load(SeqCst), 2, "each ran once");
        assert_eq!(
            (
                rx1.try_recv().unwrap().unwrap(),
                rx2.try_recv().unwrap().unwrap()
            ),
            (1, 2)
        );
        let (tx3, mut rx3) = oneshot::channel();
        let (tx4, mut rx4) = oneshot::channel();
        commit(&conn, vec![job(counted(3), tx3), job(counted(3), tx4)]);
        assert_eq!(
            runs.load(SeqCst),
            2 + 4,
            "both ran together, then each alone"
        );
        assert_eq!(rx3.try_recv().unwrap().unwrap(), 3);
        assert!(matches!(
            rx4.try_recv().unwrap(),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(count(&conn), 3, "the first run's writes were undone");
    }
}
