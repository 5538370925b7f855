//! The time the service's adapters hand to the licensing core for leases, deactivations and
//! offline activation: the system clock, shifted by an offset that only tests move (so a lease
//! can lapse without anyone waiting for it).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// The system clock plus an adjustable offset (zero unless a test advances it). Cheap to clone;
/// clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = chrono::Duration::seconds(self.offset_secs.load(Ordering::Acquire));
        Utc::now() + offset
    }

    /// Moves this clock (and every clone) forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset_secs.fetch_add(seconds, Ordering::AcqRel);
    }
}
