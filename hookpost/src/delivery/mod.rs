//! Delivery: turning a claimed event into signed requests and an attempt record.
//!
//! - [`address`] decides which addresses deliveries may reach (pure).
//! - [`envelope`] builds the exact bytes of a request body.
//! - [`signing`] computes every scheme's headers over those bytes.
//! - [`http`] sends one request with vetted DNS, a deadline and a bounded read.
//! - [`email`] delivers `mailto:` targets through the SMTP relay.
//! - [`attempt`] makes one attempt: primary, then failover; decides what next.
//! - [`worker`] claims due events, runs attempts concurrently and records them.

pub mod address;
pub mod attempt;
pub mod email;
pub mod envelope;
pub mod http;
pub mod signers;
pub mod signing;
pub mod worker;
