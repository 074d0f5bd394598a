//! Time and chance as the delivery logic sees them: injected, so tests fix both.
//! Production uses the system clock and `fastrand`.

use chrono::{DateTime, Utc};

/// Tells the time.
pub trait Clock: Send + Sync {
    /// The time now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Where the jitter of retry delays comes from.
pub trait Jitter: Send + Sync {
    /// A fraction in `[0, 1)`: how much of the most jitter to add.
    fn fraction(&self) -> f64;
}

/// Uniform random jitter, so retries of many events spread out.
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn fraction(&self) -> f64 {
        fastrand::f64()
    }
}
