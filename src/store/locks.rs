//! Per-key mutual exclusion: operations on one order, instance, code or license never
//! interleave, while unrelated keys proceed in parallel (striped locks, so memory stays
//! bounded). A lock is held from the first read until the write is durable, which is what makes
//! a read-check-write sequence over the store race-free.
//!
//! On PostgreSQL several instances share the database, so a lock is also taken across them: an
//! advisory lock on a stable hash of the key's text (`kv::pg::locks`), held with the stripe.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use super::failure::Failure;
use super::keys::LockKey;
use super::kv::pg::{AdvisoryGuard, AdvisoryLocks};
use super::Store;

/// The lock table.
pub(crate) struct KeyLocks {
    stripes: Vec<Mutex<()>>,
    /// Keyed randomly per process, so nobody can choose keys that share a stripe.
    hasher: RandomState,
    /// The locks across instances (PostgreSQL), and the failure record their errors set.
    shared: Option<(Arc<AdvisoryLocks>, Arc<Failure>)>,
}

/// A held lock: the stripe, and on PostgreSQL the advisory lock.
pub(crate) struct KeyGuard<'a> {
    _shared: Option<AdvisoryGuard<'a>>,
    _stripe: MutexGuard<'a, ()>,
}

impl KeyLocks {
    /// A lock table with `stripes` stripes.
    pub(crate) fn new(stripes: usize) -> KeyLocks {
        KeyLocks {
            stripes: (0..stripes.max(1)).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
            shared: None,
        }
    }

    /// Also locks across the instances sharing `store`'s database (PostgreSQL).
    pub(crate) fn across_instances_of(mut self, store: &Store) -> KeyLocks {
        let db = store.db();
        self.shared = db
            .postgres()
            .map(|pg| (pg.locks().clone(), db.failure().clone()));
        self
    }

    /// Locks the stripe of `key` (and its advisory lock).
    pub(crate) fn lock(&self, key: LockKey<'_>) -> KeyGuard<'_> {
        let text = key.to_string();
        let index = (self.hasher.hash_one(&text) % self.stripes.len() as u64) as usize;
        // `index` is reduced modulo the length, so it is always in range.
        let stripe = self.stripes[index].lock();
        KeyGuard {
            _shared: self.across_instances(&text),
            _stripe: stripe,
        }
    }

    /// Only the advisory lock of `text` (PostgreSQL; `None` on sled), for a lock whose
    /// in-process part is held elsewhere.
    pub(crate) fn across_instances(&self, text: &str) -> Option<AdvisoryGuard<'_>> {
        self.shared
            .as_ref()
            .map(|(locks, failure)| locks.lock(text, failure))
    }
}

impl Default for KeyLocks {
    /// 65,536 stripes (64 KiB). A held lock lasts until the operation's write is durable, a full
    /// group commit, so a request that shares a stripe with any of the others in flight waits for
    /// one: with 1,024 stripes that was 6% of requests at 64 in flight, now 0.1%.
    fn default() -> Self {
        KeyLocks::new(1 << 16)
    }
}
