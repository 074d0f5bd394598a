//! Bounded publish load for durability tests: publishers spread events over one
//! or more servers and record what was accepted; the receiver's log then tells
//! what arrived, how often.

use super::receiver::Receiver;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running load.
pub struct Load {
    /// Ids answered `202`.
    pub accepted: Arc<Mutex<HashSet<String>>>,
    /// Count of each HTTP status answered.
    pub statuses: Arc<Mutex<HashMap<u16, usize>>>,
    /// Requests that got no HTTP answer (a server down).
    pub transport_errors: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `publishers` tasks publishing `events` events in all, round-robin
    /// over `servers` (base URLs), each waiting `pause` between its requests.
    pub fn start(
        servers: Vec<String>,
        key: &str,
        events: usize,
        publishers: usize,
        pause: Duration,
    ) -> Load {
        let load = Load {
            accepted: Arc::default(),
            statuses: Arc::default(),
            transport_errors: Arc::default(),
            stop: Arc::default(),
            tasks: Vec::new(),
        };
        let servers = Arc::new(servers);
        let tasks = (0..publishers)
            .map(|p| {
                let (servers, key) = (servers.clone(), key.to_string());
                let (accepted, statuses, errors, stop) = (
                    load.accepted.clone(),
                    load.statuses.clone(),
                    load.transport_errors.clone(),
                    load.stop.clone(),
                );
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    for i in (p..events).step_by(publishers) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let url = format!("{}/v1/events", servers[i % servers.len()]);
                        let body =
                            json!({"event_type": "fax.delivered", "payload": {"i": i}}).to_string();
                        match http.post(url).bearer_auth(&key).body(body).send().await {
                            Ok(res) => {
                                let status = res.status().as_u16();
                                *statuses.lock().unwrap().entry(status).or_default() += 1;
                                if status == 202 {
                                    let v: serde_json::Value =
                                        serde_json::from_str(&res.text().await.unwrap()).unwrap();
                                    accepted
                                        .lock()
                                        .unwrap()
                                        .insert(v["id"].as_str().unwrap().to_string());
                                }
                            }
                            Err(_) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        Load { tasks, ..load }
    }

    /// Events accepted so far.
    pub fn accepted_count(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }

    /// Waits until at least `n` events were accepted.
    pub async fn wait_accepted(&self, n: usize) {
        while self.accepted_count() < n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Stops the publishers and waits for them; answers the accepted ids.
    pub async fn finish(self) -> HashSet<String> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let accepted = self.accepted.lock().unwrap().clone();
        accepted
    }

    /// Waits for the publishers to publish everything; answers the accepted ids.
    pub async fn complete(self) -> HashSet<String> {
        for task in self.tasks {
            task.await.unwrap();
        }
        let accepted = self.accepted.lock().unwrap().clone();
        accepted
    }
}

/// What arrived of the accepted events.
#[derive(Debug)]
pub struct Tally {
    /// Events answered `202`.
    pub accepted: usize,
    /// Accepted events that arrived at least once.
    pub delivered: usize,
    /// Accepted events that never arrived.
    pub lost: usize,
    /// Extra copies that arrived.
    pub duplicates: usize,
    /// Events that arrived though their publish got no answer (stored just before a crash).
    pub unacknowledged: usize,
}

/// Waits (up to `within`) until every accepted event arrived at `rx`, and counts.
pub async fn tally(rx: &Receiver, accepted: &HashSet<String>, within: Duration) -> Tally {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for r in rx.received() {
            *counts
                .entry(r.json()["data"]["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        let delivered = accepted
            .iter()
            .filter(|id| counts.contains_key(*id))
            .count();
        if delivered == accepted.len() || tokio::time::Instant::now() > deadline {
            return Tally {
                accepted: accepted.len(),
                delivered,
                lost: accepted.len() - delivered,
                duplicates: counts.values().map(|n| n - 1).sum(),
                unacknowledged: counts.keys().filter(|id| !accepted.contains(*id)).count(),
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
