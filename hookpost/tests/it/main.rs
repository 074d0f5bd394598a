//! Integration tests: each starts the real `hookpost` binary and real HTTP
//! receivers on loopback, and talks to both over HTTP. Shared helpers keep every
//! test a few lines: [`helpers::TestServer`], [`helpers::Receiver`].

mod helpers;

mod api;
mod attachments;
mod bad_input;
mod bulk_retry;
mod catalogs;
mod cli;
mod cli_resources;
mod console;
mod control;
mod crash;
mod defects_api;
mod defects_cli;
mod defects_delivery;
mod defects_limits;
mod delivery;
mod endpoints;
mod fanout;
mod fax;
mod hierarchy;
mod hostile;
mod idempotency;
mod keys;
mod lifecycle;
mod listen;
mod metrics;
mod openapi;
mod ordering;
mod phaxio_url;
mod signatures;
mod starvation;
mod versions;
