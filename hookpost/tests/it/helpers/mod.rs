//! Shared test helpers: a real server, a controllable receiver, bounded load,
//! PostgreSQL databases and clusters, and the independent signature verifiers.
//! They serve two test binaries (`it` and `cluster`), each using a part.

#![allow(dead_code, unused_imports)]

pub mod cli;
pub mod console;
pub mod database;
pub mod endpoints;
pub mod errors;
pub mod forms;
pub mod load;
pub mod postgres;
pub mod raw;
pub mod receiver;
pub mod server;
pub mod smtp;
pub mod verify;

pub use errors::{assert_error_shape, assert_refused, assert_refused_under};
pub use receiver::{refused_url, Receiver, Reply};
pub use server::{TestAccount, TestServer, ADMIN_TOKEN};

use std::time::Duration;

/// A generous bound for things that should happen in milliseconds.
pub const SOON: Duration = Duration::from_secs(10);
