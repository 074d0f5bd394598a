//! Load shapes, each bounded by its number of jobs: a closed loop (workers, each
//! running its share of the jobs back to back) and an open loop (jobs started
//! on a fixed schedule, whatever the answers).

use std::future::Future;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Runs jobs `0..jobs` on `workers` tasks, worker `w` taking `w`, `w + workers`, …;
/// the outputs (in no particular order) and the wall time.
pub async fn closed_loop<T, F, Fut>(jobs: usize, workers: usize, job: F) -> (Vec<T>, Duration)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let started = Instant::now();
    let workers = workers.clamp(1, jobs.max(1));
    let tasks: Vec<JoinHandle<Vec<T>>> = (0..workers)
        .map(|w| {
            let job = job.clone();
            tokio::spawn(async move {
                let mut outputs = Vec::new();
                for i in (w..jobs).step_by(workers) {
                    outputs.push(job(i).await);
                }
                outputs
            })
        })
        .collect();
    let outputs = join(tasks).await.into_iter().flatten().collect();
    (outputs, started.elapsed())
}

/// Starts job `i` at `i × interval` from now, without waiting for earlier ones;
/// the outputs in job order and the wall time until the last one ended.
pub async fn open_loop<T, F, Fut>(jobs: usize, interval: Duration, job: F) -> (Vec<T>, Duration)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(jobs);
    for i in 0..jobs {
        tokio::time::sleep_until(started + interval.mul_f64(i as f64)).await;
        tasks.push(tokio::spawn(job(i)));
    }
    let outputs = join(tasks).await;
    (outputs, started.elapsed())
}

/// Awaits every task; a panic in one is re-raised here.
async fn join<T>(tasks: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut outputs = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(output) => outputs.push(output),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    outputs
}
