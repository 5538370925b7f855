//! What the storage layer observes about itself: the size of each group commit and the time each
//! durable flush (sled flush + fsync) takes. The store records; [`super::Metrics`] exports.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// Group-commit and flush observations (cheap to share: the metrics are handles).
#[derive(Clone, Debug)]
pub(crate) struct StorageMetrics {
    /// Batches applied per group transaction.
    pub(crate) group_size: Histogram,
    /// Seconds per durable flush.
    pub(crate) flush_seconds: Histogram,
    /// Failed durable flushes.
    pub(crate) flush_failures: Counter,
}

impl Default for StorageMetrics {
    fn default() -> Self {
        StorageMetrics {
            // 1, 2, 4, … 128 (the largest group).
            group_size: Histogram::new(exponential_buckets(1.0, 2.0, 8)),
            // 100 µs … ~3 s.
            flush_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 15)),
            flush_failures: Counter::default(),
        }
    }
}
