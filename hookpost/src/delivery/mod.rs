//! Delivery: turning a claimed event into signed requests and an attempt record.
//!
//! - [`address`] decides which addresses deliveries may reach (pure).
//! - [`envelope`] builds the exact bytes of a request body.
//! - [`signing`] computes every scheme's headers over those bytes.
//! - [`transport`] is the way out of one request, as a trait: [`http`] and
//!   [`email`] implement it.
//! - [`http`] sends one request with vetted DNS, a deadline and a bounded read.
//! - [`email`] delivers `mailto:` targets through the SMTP relay.
//! - [`clock`] gives the time and the retry jitter (injected, for tests).
//! - [`attempt`] makes one attempt: primary, then failover; decides what next.
//! - [`worker`] claims due events, runs attempts concurrently and records them.

pub mod address;
pub mod attempt;
pub mod clock;
pub mod email;
pub mod envelope;
#[cfg(test)]
mod fakes;
pub mod files;
pub mod http;
pub mod links;
pub mod signers;
pub mod signing;
pub mod transport;
pub mod worker;
