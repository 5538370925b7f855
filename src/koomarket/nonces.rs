//! The scheme B replay cache (spec §2.5: "商家可以通过对这个随机数的缓存来防御API重放攻击").
//!
//! A call is accepted only if its `timestamp` is within the window (60 s) of now AND its
//! `nonce` has not been seen with a timestamp still inside that window. A replay of a captured
//! call therefore fails either on the window (it is old) or here (it is recent).
//!
//! The cache lives in a sled tree (`km2-nonces`: nonce → the call's timestamp), not in memory,
//! so a restart inside the window does not forget the nonces of the last minute: a call captured
//! just before a restart cannot be replayed just after it. An in-memory cache would need the
//! service to refuse every POST for one window after start-up to be equally safe, which would
//! fail the marketplace's calls (and its 5 s timeout) on every deploy. The insert is an atomic
//! compare-and-swap, so two workers receiving the same nonce concurrently accept only one.
//!
//! Durability: the insert itself is not synced. Every call that is answered `000000` ends with a
//! group commit (`Store::write`), which flushes the whole log, the nonce included, before
//! the answer; a call that changed nothing may lose its nonce in a power cut, and replaying it
//! changes nothing either (every activity is idempotent). Entries leave the tree once their
//! timestamp is out of the window (pruned at most once per window, inline).

use parking_lot::Mutex;

use crate::store::{Store, StoreError};

/// Longest accepted nonce, in bytes (documented examples: 16 alphanumerics or 64 hex digits).
pub(crate) const MAX_NONCE_LEN: usize = 128;

/// The cache's in-memory part: when it was last pruned.
#[derive(Debug, Default)]
pub(crate) struct NonceCache {
    last_prune_ms: Mutex<i64>,
}

impl NonceCache {
    /// Records the nonce of an authenticated call signed at `ts_ms`; `Ok(false)` if it is a
    /// replay (seen with a timestamp still inside the window).
    pub(crate) fn check(
        &self,
        store: &Store,
        nonce: &str,
        ts_ms: i64,
        now_ms: i64,
        window_ms: u64,
    ) -> Result<bool, StoreError> {
        let fresh = store.remember_nonce(nonce, ts_ms, now_ms, window_ms)?;
        let prune = {
            let mut last = self.last_prune_ms.lock();
            let due = now_ms.abs_diff(*last) > window_ms;
            if due {
                *last = now_ms;
            }
            due
        };
        if prune {
            let removed = store.prune_nonces(now_ms, window_ms)?;
            tracing::debug!(removed, "pruned expired nonces");
        }
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_once_per_window_and_survives_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let window = 60_000;
        let now = 1_700_000_000_000;
        {
            let store = Store::open(dir.path(), 8).expect("store");
            let cache = NonceCache::default();
            assert!(cache.check(&store, "n1", now, now, window).expect("check"));
            assert!(!cache
                .check(&store, "n1", now, now + 1000, window)
                .expect("check"));
            assert!(cache.check(&store, "n2", now, now, window).expect("check"));
            store.sync().expect("sync");
            store.close().expect("close");
        }
        let store = Store::open(dir.path(), 8).expect("reopen");
        let cache = NonceCache::default();
        assert!(!cache
            .check(&store, "n1", now, now + 2000, window)
            .expect("check"));
        // Out of the window the entry is dead: the nonce may be used again with a new timestamp.
        let later = now + 2 * 60_000;
        assert!(cache
            .check(&store, "n1", later, later, window)
            .expect("check"));
        assert!(!cache
            .check(&store, "n1", later, later, window)
            .expect("check"));
        // Pruning removed n2 (its timestamp left the window).
        assert!(cache
            .check(&store, "n2", later, later, window)
            .expect("check"));
    }
}
