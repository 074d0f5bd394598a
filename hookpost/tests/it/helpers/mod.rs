//! Shared test helpers: a real server, a controllable receiver, and the
//! independent signature verifiers.

pub mod receiver;
pub mod server;
pub mod verify;

pub use receiver::{refused_url, Receiver, Reply};
pub use server::{TestAccount, TestServer, ADMIN_TOKEN};

use std::time::Duration;

/// A generous bound for things that should happen in milliseconds.
pub const SOON: Duration = Duration::from_secs(10);
