//! The slice of hookpost's HTTP API the bench uses: an account with one profile
//! per receiver endpoint (event `seq` goes to endpoint `seq % endpoints`) or
//! with one account endpoint per receiver endpoint (every event goes to all),
//! publishing one event or a batch (all to one profile, or with ordering keys,
//! if asked), a look at the pending queue, the account's retention, and the
//! nodes' count of events purged by retention; for attachments, an account
//! endpoint taking forms, publishing an event with a file, and a look at and
//! the re-enabling of that endpoint's delivery control.

use crate::files;
use crate::keys::Keys;
use crate::server::ADMIN_TOKEN;
use axum::body::Bytes;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// The type of every measured event.
const EVENT_TYPE: &str = "bench.event";
/// The counter of `/metrics` that counts events deleted by retention.
const PURGED_COUNTER: &str = "hookpost_events_purged_total";

/// Where an account's events go, and how its receiver endpoints are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// This many profiles `e0`, `e1`, …, each with a receiver endpoint as its
    /// `webhook_url`; event `seq` names profile `e{seq % n}`.
    Profiles(usize),
    /// This many account endpoints (`POST /v1/endpoints`), one per receiver
    /// endpoint; events name no profile, so each fans out to all of them.
    FanOut(usize),
}

impl Routing {
    /// Receiver endpoints in use.
    pub fn endpoints(self) -> usize {
        match self {
            Routing::Profiles(n) | Routing::FanOut(n) => n,
        }
    }

    /// Account endpoints per event when fanning out; `None` on profiles.
    pub fn fanout(self) -> Option<usize> {
        match self {
            Routing::Profiles(_) => None,
            Routing::FanOut(n) => Some(n),
        }
    }
}

/// An account on running hookpost nodes; cheap to clone into publishing tasks.
#[derive(Clone)]
pub struct Account {
    /// Connection, nodes, key and payload.
    inner: Arc<Inner>,
    /// What this handle's events carry beyond the routing.
    aim: Aim,
}

/// What a handle's events carry beyond the account's routing.
#[derive(Debug, Clone, Copy, Default)]
struct Aim {
    /// On profiles: the one receiver endpoint (profile) every event goes to,
    /// instead of round-robin.
    only: Option<usize>,
    /// Ordering keys, and the key and number in each payload.
    keys: Option<Keys>,
}

/// What every request of an account needs.
struct Inner {
    /// Keep-alive HTTP client.
    client: Client,
    /// Node base URLs; publishes go round-robin.
    nodes: Vec<String>,
    /// The account's API key.
    key: String,
    /// The payload of every event, a serialized JSON object.
    payload: String,
    /// Where events go.
    routing: Routing,
}

impl Account {
    /// Creates an account through the first node, with `retries` as its own
    /// retry schedule if given (else the server's).
    pub async fn create(
        client: Client,
        nodes: Vec<String>,
        payload: String,
        routing: Routing,
        retries: Option<&[&str]>,
    ) -> Result<Account, String> {
        let url = format!("{}/v1/accounts", nodes[0]);
        let settings = match retries {
            Some(retries) => json!({"retry_schedule": retries}),
            None => json!({}),
        };
        let body = json!({"name": "bench", "settings": settings}).to_string();
        let created = call(&client, Method::POST, &url, ADMIN_TOKEN, Some(body)).await?;
        let key = created["api_key"]
            .as_str()
            .ok_or("account created without an api_key")?
            .to_owned();
        let inner = Inner {
            client,
            nodes,
            key,
            payload,
            routing,
        };
        Ok(Account {
            inner: Arc::new(inner),
            aim: Aim::default(),
        })
    }

    /// This account, with every event going to receiver endpoint `endpoint`'s
    /// profile (on profiles; fanned-out events still go to all).
    pub fn only(&self, endpoint: usize) -> Account {
        let aim = Aim {
            only: Some(endpoint),
            ..self.aim
        };
        Account {
            inner: self.inner.clone(),
            aim,
        }
    }

    /// This account, with each event published under its ordering key and
    /// carrying that key and its number among the key's events in its payload
    /// (`"key"`, `"n"`).
    pub fn keyed(&self, keys: Keys) -> Account {
        let aim = Aim {
            keys: Some(keys),
            ..self.aim
        };
        Account {
            inner: self.inner.clone(),
            aim,
        }
    }

    /// The receiver endpoints event `seq` goes to.
    pub fn endpoints(&self, seq: usize) -> Range<usize> {
        match self.inner.routing {
            Routing::Profiles(n) => {
                let profile = self.profile(seq, n);
                profile..profile + 1
            }
            Routing::FanOut(n) => 0..n,
        }
    }

    /// The profile (receiver endpoint) of event `seq` among `n` profiles.
    fn profile(&self, seq: usize, n: usize) -> usize {
        self.aim.only.unwrap_or(seq % n)
    }

    /// Points receiver endpoint `endpoint` at `url` with this retry schedule:
    /// as profile `e{endpoint}`'s `webhook_url`, or as an account endpoint
    /// subscribed to the measured events only (not to [`Account::prefill`]'s).
    pub async fn add_destination(
        &self,
        endpoint: usize,
        url: &str,
        retries: &[&str],
    ) -> Result<(), String> {
        let (method, path, body) = match self.inner.routing {
            Routing::Profiles(_) => (
                Method::PUT,
                format!("/v1/profiles/e{endpoint}"),
                json!({"webhook_url": url, "retry_schedule": retries}),
            ),
            Routing::FanOut(_) => (
                Method::POST,
                "/v1/endpoints".to_owned(),
                json!({
                    "url": url,
                    "event_types": [EVENT_TYPE],
                    "settings": {"retry_schedule": retries},
                }),
            ),
        };
        self.request(method, 0, &path, Some(body.to_string()))
            .await
            .map(drop)
    }

    /// Creates an account endpoint at `url` taking the measured events as
    /// `multipart/form-data` (files as file parts) with the default
    /// signatures, this retry schedule and request `timeout`; its id.
    pub async fn add_form_endpoint(
        &self,
        url: &str,
        retries: &[&str],
        timeout: &str,
    ) -> Result<String, String> {
        let body = json!({
            "url": url,
            "event_types": [EVENT_TYPE],
            "settings": {"format": "form", "retry_schedule": retries, "timeout": timeout},
        });
        let created = self
            .request(Method::POST, 0, "/v1/endpoints", Some(body.to_string()))
            .await?;
        created["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("endpoint created without an id: {created}"))
    }

    /// Whether account endpoint `id` is paused now (a receiver's
    /// `Retry-After` in force).
    pub async fn endpoint_paused(&self, id: &str) -> Result<bool, String> {
        let path = format!("/v1/endpoints/{id}");
        let shown = self.request(Method::GET, 0, &path, None).await?;
        Ok(shown["control"]["paused_until"].is_string())
    }

    /// Whether every delivery of event `id` is held back by delivery control
    /// (put back without an attempt, and not claimed now).
    pub async fn event_held(&self, id: &str) -> Result<bool, String> {
        let path = format!("/v1/events/{id}");
        let shown = self.request(Method::GET, 0, &path, None).await?;
        let deliveries = shown["deliveries"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let held = |d: &Value| d["held"].is_string() && d["in_flight"] == false;
        Ok(!deliveries.is_empty() && deliveries.iter().all(held))
    }

    /// Enables account endpoint `id`: forgets its pause, and what its
    /// delivery control held is due at once.
    pub async fn enable_endpoint(&self, id: &str) -> Result<(), String> {
        let path = format!("/v1/endpoints/{id}/enable");
        self.request(Method::POST, 0, &path, None).await.map(drop)
    }

    /// Publishes event `seq` with file number `seq` of `bytes` random bytes
    /// drawn from `seed`, as `multipart/form-data` (see [`files::form`]);
    /// its id and the file's hex SHA-256.
    pub async fn publish_file(
        &self,
        seq: usize,
        bytes: usize,
        seed: u64,
    ) -> Result<(String, String), String> {
        let inner = &self.inner;
        let form = files::form(&self.event(seq), seq, bytes, seed);
        let url = format!("{}/v1/events", inner.nodes[seq % inner.nodes.len()]);
        let request = inner
            .client
            .post(&url)
            .bearer_auth(&inner.key)
            .header(CONTENT_TYPE, form.content_type)
            .body(form.body);
        let accepted = json_answer(request, &url).await?;
        Ok((event_id(&accepted)?, form.sha256))
    }

    /// Publishes event `seq`; its id.
    pub async fn publish(&self, seq: usize) -> Result<String, String> {
        let accepted = self
            .request(Method::POST, seq, "/v1/events", Some(self.event(seq)))
            .await?;
        event_id(&accepted)
    }

    /// Publishes events `seqs` in one batch through node `node`; their ids in order.
    pub async fn publish_batch(
        &self,
        node: usize,
        seqs: Range<usize>,
    ) -> Result<Vec<String>, String> {
        let events: Vec<String> = seqs.map(|seq| self.event(seq)).collect();
        let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
        let accepted = self
            .request(Method::POST, node, "/v1/events/batch", Some(body))
            .await?;
        let data = accepted["data"]
            .as_array()
            .ok_or("batch answer without data")?;
        data.iter().map(event_id).collect()
    }

    /// Stores `count` events that go nowhere (no target), in batches of 500
    /// spread over `concurrency` publishers.
    pub async fn prefill(&self, count: usize, concurrency: usize) -> Result<(), String> {
        const BATCH: usize = 500;
        let event = format!(
            r#"{{"event_type":"bench.prefill","payload":{}}}"#,
            self.inner.payload
        );
        let body = format!(r#"{{"events":[{}]}}"#, vec![event; BATCH].join(","));
        let batches = count.div_ceil(BATCH);
        let workers = (0..concurrency.min(batches)).map(|w| {
            let body = body.clone();
            async move {
                for b in (w..batches).step_by(concurrency) {
                    self.request(Method::POST, b, "/v1/events/batch", Some(body.clone()))
                        .await?;
                }
                Ok::<(), String>(())
            }
        });
        futures::future::try_join_all(workers).await.map(|_| ())
    }

    /// Whether any event of the account is still pending.
    pub async fn any_pending(&self) -> Result<bool, String> {
        let page = self
            .request(Method::GET, 0, "/v1/events?status=pending&limit=1", None)
            .await?;
        Ok(page["data"].as_array().is_some_and(|d| !d.is_empty()))
    }

    /// Keeps the account's delivered events `delivered` long (a humantime
    /// duration; the other outcomes keep the server's default); the time in
    /// effect, as answered.
    pub async fn set_retention(&self, delivered: &str) -> Result<String, String> {
        let body = json!({ "delivered": delivered }).to_string();
        let path = "/v1/account/retention";
        let effective = self.request(Method::PUT, 0, path, Some(body)).await?;
        effective["delivered"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("retention answer without delivered: {effective}"))
    }

    /// Events the retention purge deleted so far (of every account), summed
    /// over the nodes' `/metrics`.
    pub async fn purged(&self) -> Result<u64, String> {
        let inner = &self.inner;
        let reads = inner.nodes.iter().map(|node| {
            let url = format!("{node}/metrics");
            async move { counter(&inner.client, &url, PURGED_COUNTER).await }
        });
        let counts = futures::future::try_join_all(reads).await?;
        Ok(counts.into_iter().sum())
    }

    /// The publish request of event `seq`.
    fn event(&self, seq: usize) -> String {
        let profile = match self.inner.routing {
            Routing::Profiles(n) => format!(r#","profile_id":"e{}""#, self.profile(seq, n)),
            Routing::FanOut(_) => String::new(),
        };
        let (ordering, payload) = self.ordering(seq);
        format!(r#"{{"event_type":"{EVENT_TYPE}"{profile}{ordering},"payload":{payload}}}"#)
    }

    /// Event `seq`'s `ordering_key` field (if keyed) and payload: the shared
    /// one, or with the key and number first when keyed.
    fn ordering(&self, seq: usize) -> (String, Cow<'_, str>) {
        let payload = &self.inner.payload;
        let Some(keys) = self.aim.keys else {
            return (String::new(), Cow::Borrowed(payload));
        };
        let (key, n) = keys.of(seq);
        let fields = payload.strip_prefix('{').unwrap_or("}");
        let separator = if fields == "}" { "" } else { "," };
        (
            format!(r#","ordering_key":"{key}""#),
            Cow::Owned(format!(r#"{{"key":"{key}","n":{n}{separator}{fields}"#)),
        )
    }

    /// One API request with the account's key, to node `node % nodes`.
    async fn request(
        &self,
        method: Method,
        node: usize,
        path: &str,
        body: Option<String>,
    ) -> Result<Value, String> {
        let inner = &self.inner;
        let url = format!("{}{path}", inner.nodes[node % inner.nodes.len()]);
        call(&inner.client, method, &url, &inner.key, body).await
    }
}

/// The `id` of an accepted event.
fn event_id(accepted: &Value) -> Result<String, String> {
    accepted["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("answer without an event id: {accepted}"))
}

/// One JSON request; any answer but 200, 201 or 202 is an error.
async fn call(
    client: &Client,
    method: Method,
    url: &str,
    token: &str,
    body: Option<String>,
) -> Result<Value, String> {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.header(CONTENT_TYPE, "application/json").body(body);
    }
    json_answer(request, url).await
}

/// Sends `request` (to `url`); the JSON of an answer 200, 201 or 202, any
/// other answer an error.
async fn json_answer(request: RequestBuilder, url: &str) -> Result<Value, String> {
    let bytes = answer(request, url).await?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{url}: answer is not JSON: {e}"))
}

/// The value of the unlabelled counter `name` in the Prometheus text at `url`.
async fn counter(client: &Client, url: &str, name: &str) -> Result<u64, String> {
    let bytes = answer(client.get(url), url).await?;
    sample(&String::from_utf8_lossy(&bytes), name).ok_or_else(|| format!("{url}: no {name}"))
}

/// The value of the unlabelled sample `name` in a Prometheus text exposition.
fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// Sends `request` (to `url`); the body of an answer 200, 201 or 202, any
/// other answer an error.
async fn answer(request: RequestBuilder, url: &str) -> Result<Bytes, String> {
    let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    if ![StatusCode::OK, StatusCode::CREATED, StatusCode::ACCEPTED].contains(&status) {
        let text = String::from_utf8_lossy(&bytes);
        return Err(format!("{url}: {status}: {text}"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::sample;

    /// The sample line is read; help, type, labelled and longer-named lines are not.
    #[test]
    fn reads_an_unlabelled_sample() {
        let text = "# HELP hookpost_events_purged_total Events deleted.\n\
            # TYPE hookpost_events_purged_total counter\n\
            hookpost_events_purged_total_other 7\n\
            hookpost_events_purged_total 1234\n\
            hookpost_attempts_in_flight 3\n";
        assert_eq!(sample(text, "hookpost_events_purged_total"), Some(1234));
        assert_eq!(sample(text, "hookpost_events_accepted_total"), None);
        let labelled = "hookpost_delivery_requests_total{result=\"success\"} 5\n";
        assert_eq!(sample(labelled, "hookpost_delivery_requests_total"), None);
    }
}
