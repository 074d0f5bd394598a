//! # hookpost
//!
//! A self-hosted webhook delivery service: platforms publish events, hookpost
//! delivers each to its customer's URL, signed, retried on a schedule, sent to a
//! failover URL when the primary fails, with a log of every attempt.
//!
//! # Layout
//!
//! - [`api`]: the HTTP edge. One file per resource; errors mapped once.
//! - [`console`]: `/console`, the account's, the portal's and the operator's
//!   pages: server-rendered HTML over the same services as the API.
//! - [`app`]: services between the edge and storage (publishing, settings checks).
//! - [`domain`]: events, endpoints, deliveries, targets, attempts, retry
//!   schedules, jobs: rules without I/O.
//! - [`storage`]: the [`storage::Store`] trait and one module per backend. The
//!   database is the delivery queue.
//! - [`delivery`]: address vetting, envelopes, signatures, the HTTP sender and the
//!   worker that claims, sends and records.
//! - [`jobs`]: background work on a schedule (expiring idempotency keys, the
//!   jobs callers start: replays, bulk retries).
//! - [`config`], [`cli`], [`server`]: configuration, the command line, start/stop.
//! - [`commands`], [`client`], [`output`], [`listen`]: the shell commands over
//!   the API (which call each makes, how it is sent, how its answer prints),
//!   and the development receiver.
//! - [`secrets`]: API keys, tokens and signing keys, never printed.
//! - [`metrics`]: counters for `GET /metrics`.

pub mod api;
pub mod app;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod console;
pub mod delivery;
pub mod domain;
pub mod jobs;
pub mod listen;
pub mod master_key;
pub mod metrics;
pub mod output;
pub mod secrets;
pub mod server;
pub mod storage;
