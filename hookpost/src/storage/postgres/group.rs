//! Group commit for the writes callers wait on: publishes (a `202` means
//! committed) and attempt records. With `synchronous_commit` on, every commit
//! waits for a WAL flush, and every transaction costs PostgreSQL a `BEGIN`, a
//! `COMMIT` and a round trip per statement. So writes queue here, and a
//! committer takes all that are waiting, runs them in one transaction and
//! commits once — while a group runs the next one gathers, so the busier the
//! node the larger the groups. Within a group the statements of independent
//! writes are pipelined on the one connection (sent without waiting for each
//! answer), which PostgreSQL then runs back to back.
//!
//! A group's writes succeed or fail together. When one fails before the
//! commit (a deadlock with another node, a statement refused), the group is
//! rolled back and each write runs again alone, so a write only ever fails for
//! its own reasons. A failed `COMMIT` is answered as the failure of every write
//! in it: whether it took effect is unknown, as for a lone commit.

use super::errors::{from_pg, from_pool};
use super::{bulk, queries};
use crate::domain::event::NewEvent;
use crate::storage::rows::now_ms;
use crate::storage::{AttemptReport, ControlPolicy, Published, StoreError, StoreResult};
use deadpool_postgres::{Client, Pool, Transaction};
use futures::future::try_join_all;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// The most events a group holds (a batch publish counts each of its events),
/// so one transaction stays short.
const MOST_EVENTS: usize = 512;

/// A write waiting for its group, with where its answer goes.
enum Write {
    Publish {
        events: Vec<NewEvent>,
        window: Duration,
        done: oneshot::Sender<StoreResult<Vec<Published>>>,
    },
    Record {
        report: Box<AttemptReport>,
        policy: ControlPolicy,
        done: oneshot::Sender<StoreResult<bool>>,
    },
}

/// What a write answers once its group has committed.
enum Outcome {
    Published(Vec<Published>),
    Recorded(bool),
}

/// Where a group went wrong.
enum GroupError {
    /// Before the commit: nothing took effect, each write may run again alone.
    Statement(StoreError),
    /// At the commit: unknown whether anything took effect.
    Commit(StoreError),
}

/// The queue of group-committed writes; the committer behind it lives as
/// long as the queue does.
pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Write>,
}

impl GroupCommit {
    /// Starts the committer on the current runtime, with at most `in_flight`
    /// groups running at once (each holds one pooled connection).
    pub fn start(pool: Pool, in_flight: usize) -> GroupCommit {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(pool, waiting, in_flight.max(1)));
        GroupCommit { queue }
    }

    /// Stores a publish's events in the next group.
    pub async fn publish(
        &self,
        events: Vec<NewEvent>,
        window: Duration,
    ) -> StoreResult<Vec<Published>> {
        let (done, answer) = oneshot::channel();
        self.send(Write::Publish {
            events,
            window,
            done,
        })?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Records an attempt in the next group.
    pub async fn record(&self, report: AttemptReport, policy: &ControlPolicy) -> StoreResult<bool> {
        let (done, answer) = oneshot::channel();
        let policy = policy.clone();
        self.send(Write::Record {
            report: Box::new(report),
            policy,
            done,
        })?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    fn send(&self, write: Write) -> StoreResult<()> {
        self.queue.send(write).map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the PostgreSQL committer has stopped".into())
}

/// Takes the waiting writes as groups, each started once a place is free.
async fn dispatch(pool: Pool, mut waiting: mpsc::UnboundedReceiver<Write>, in_flight: usize) {
    let places = Arc::new(Semaphore::new(in_flight));
    while let Some(first) = waiting.recv().await {
        let Ok(place) = places.clone().acquire_owned().await else {
            return;
        };
        let mut group = vec![first];
        let mut events = weight(&group[0]);
        while events < MOST_EVENTS {
            let Ok(next) = waiting.try_recv() else { break };
            events += weight(&next);
            group.push(next);
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            run(&pool, group).await;
            drop(place);
        });
    }
}

fn weight(write: &Write) -> usize {
    match write {
        Write::Publish { events, .. } => events.len().max(1),
        Write::Record { .. } => 1,
    }
}

/// Runs one group and answers each of its writes.
async fn run(pool: &Pool, group: Vec<Write>) {
    let mut client = match pool.get().await {
        Ok(client) => client,
        Err(e) => {
            let e = from_pool(e);
            return group.into_iter().for_each(|w| answer(w, Err(e.clone())));
        }
    };
    match in_one_transaction(&mut client, &group).await {
        Ok(outcomes) => {
            for (write, outcome) in group.into_iter().zip(outcomes) {
                answer(write, Ok(outcome));
            }
        }
        Err(GroupError::Statement(e)) if group.len() == 1 => answer_all(group, e),
        Err(GroupError::Statement(e)) => {
            tracing::debug!(error = %e, writes = group.len(), "a group failed; running its writes one by one");
            for write in group {
                match in_one_transaction(&mut client, std::slice::from_ref(&write)).await {
                    Ok(mut outcomes) => answer(write, Ok(outcomes.remove(0))),
                    Err(GroupError::Statement(e) | GroupError::Commit(e)) => answer(write, Err(e)),
                }
            }
        }
        Err(GroupError::Commit(e)) => answer_all(group, e),
    }
}

fn answer_all(group: Vec<Write>, e: StoreError) {
    group.into_iter().for_each(|w| answer(w, Err(e.clone())));
}

/// Sends a write its answer; a caller that stopped waiting is not an error.
fn answer(write: Write, outcome: StoreResult<Outcome>) {
    match write {
        Write::Publish { done, .. } => {
            let _ = done.send(outcome.map(|o| match o {
                Outcome::Published(p) => p,
                Outcome::Recorded(_) => unreachable!("a publish answers what it published"),
            }));
        }
        Write::Record { done, .. } => {
            let _ = done.send(outcome.map(|o| match o {
                Outcome::Recorded(r) => r,
                Outcome::Published(_) => unreachable!("a record answers whether it recorded"),
            }));
        }
    }
}

/// The group's publishes, then its records, then one commit. The outcomes come
/// in the group's order.
async fn in_one_transaction(
    client: &mut Client,
    group: &[Write],
) -> Result<Vec<Outcome>, GroupError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| GroupError::Statement(from_pg(e)))?;
    let outcomes = group_statements(&tx, group)
        .await
        .map_err(GroupError::Statement)?;
    tx.commit()
        .await
        .map_err(|e| GroupError::Commit(from_pg(e)))?;
    Ok(outcomes)
}

async fn group_statements(tx: &Transaction<'_>, group: &[Write]) -> StoreResult<Vec<Outcome>> {
    // Every lane the group touches, locked first and in sorted order, so two
    // groups cannot each hold a lane the other waits for.
    queries::lock_lanes(tx, group.iter().flat_map(lanes)).await?;
    let mut outcomes: Vec<Option<Outcome>> = group.iter().map(|_| None).collect();
    // Plain events go in together; the rest one at a time, in publish order
    // (a lane's first delivery comes due, the rest wait; a repeated idempotency
    // key finds the first).
    let events = group.iter().flat_map(|w| match w {
        Write::Publish { events, .. } => events.as_slice(),
        Write::Record { .. } => &[],
    });
    bulk::insert_events(
        tx,
        &events
            .filter(|e| bulk::is_plain_event(e))
            .collect::<Vec<_>>(),
    )
    .await?;
    for (i, write) in group.iter().enumerate() {
        if let Write::Publish { events, window, .. } = write {
            let mut published = Vec::with_capacity(events.len());
            for event in events {
                published.push(match bulk::is_plain_event(event) {
                    true => Published::Created,
                    false => queries::publish_one(tx, event, *window).await?,
                });
            }
            outcomes[i] = Some(Outcome::Published(published));
        }
    }
    for (i, recorded) in record_chains(tx, group).await? {
        outcomes[i] = Some(Outcome::Recorded(recorded));
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.expect("every write of the group has run"))
        .collect())
}

/// The lanes a write locks: a publish adds to its deliveries' lanes, and a
/// final outcome lets its lane's next delivery go.
fn lanes(write: &Write) -> Vec<&str> {
    match write {
        Write::Publish { events, .. } => events
            .iter()
            .flat_map(|e| &e.deliveries)
            .filter_map(|d| d.lane.as_deref())
            .collect(),
        Write::Record { report, .. } => report.lane.as_deref().into_iter().collect(),
    }
}

/// What is left of a record once the group's plain records are written.
enum Rest {
    /// Recorded in bulk: its endpoint's part follows.
    Endpoint,
    /// Stale: its place under the endpoint's limits is given back.
    GiveBack,
    /// Not plain: the whole record, one statement at a time.
    Whole,
}

/// Runs the group's records: the plain ones in bulk ([`bulk::record_attempts`]),
/// then the rest of each in chains, those of one endpoint one after another
/// (each reads and writes back the endpoint's control state), different
/// endpoints' side by side. A record without an endpoint shares a chain with
/// its event's other deliveries. Answers each record's place in the group and
/// whether it was recorded.
async fn record_chains(tx: &Transaction<'_>, group: &[Write]) -> StoreResult<Vec<(usize, bool)>> {
    let records: Vec<(usize, &AttemptReport, &ControlPolicy)> = group
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Write::Record { report, policy, .. } => Some((i, report.as_ref(), policy)),
            Write::Publish { .. } => None,
        })
        .collect();
    // Bulk writes need distinct deliveries; a delivery reported twice (a lapsed
    // claim taken again) is written one report after the other.
    let mut deliveries = HashSet::new();
    let distinct = records
        .iter()
        .all(|(_, r, _)| deliveries.insert((&r.event_id, r.seq)));
    let plain = |r: &AttemptReport| distinct && bulk::is_plain_record(r);
    let bulk_reports: Vec<&AttemptReport> = records
        .iter()
        .map(|(_, r, _)| *r)
        .filter(|r| plain(r))
        .collect();
    let mut written = bulk::record_attempts(tx, &bulk_reports, now_ms())
        .await?
        .into_iter();
    let mut chains: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for (i, report, policy) in records {
        let rest = match plain(report) {
            false => Rest::Whole,
            true if written.next() == Some(true) => Rest::Endpoint,
            true => Rest::GiveBack,
        };
        let chain = report.endpoint_id.as_deref().unwrap_or(&report.event_id);
        chains
            .entry(chain)
            .or_default()
            .push((i, report, policy, rest));
    }
    let runs = chains.into_values().map(|chain| async move {
        let mut out = Vec::with_capacity(chain.len());
        for (i, report, policy, rest) in chain {
            let recorded = match rest {
                Rest::Endpoint => queries::after_recorded(tx, report, policy)
                    .await
                    .map(|_| true),
                Rest::GiveBack => super::control::give_back(tx, report).await.map(|_| false),
                Rest::Whole => queries::record_attempt(tx, report, policy).await,
            };
            out.push((i, recorded?));
        }
        Ok::<_, StoreError>(out)
    });
    Ok(try_join_all(runs).await?.into_iter().flatten().collect())
}
