//! The ordered key-value trees the store is built on, on any backend: sled (embedded, one
//! process), PostgreSQL (one table per tree, several instances on one database; see `pg`)
//! or fjall (embedded, one process: a log-structured merge tree; see `lsm`).
//! Everything above (records, indexes, encodings, the schema migration, the one write path)
//! is shared: it sees [`Db`], [`Tree`] and [`Iter`], whose methods are named as sled's.
//!
//! Every backend error, of a read as much as of a write, fails the store (`failure`) before it
//! is returned: an answer built on a read that failed is never given as a success, and the
//! service stops to be restarted. Tests arm [`ReadFault`] to make every read fail.

use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub(crate) use sled::IVec;

use super::failure::Failure;

pub(crate) mod lsm;
pub(crate) mod pg;
mod txn;

pub(crate) use txn::{TxError, Txn};

/// Every tree the store opens, on any backend (PostgreSQL has a table for each; a copy between
/// backends copies each).
pub(crate) const TREES: &[&str] = &[
    "meta",
    "licenses",
    "license-tokens",
    "licenses-by-instance",
    "idempotency",
    "audit",
    "index",
    "signing-keys",
    "api-tokens",
    "km2-instances",
    "km2-codes",
    "km2-pending-codes",
    "km2-outbox",
    "km2-outbox-keys",
    "km2-outbox-pending",
    "km2-nonces",
    "km-rejected-calls",
    "seat-leases",
    "seat-leases-held",
    "seat-deactivations",
];

/// A backend failure.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum Error {
    /// sled failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// PostgreSQL failed (the message never holds the connection's password).
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// fjall failed.
    #[error("fjall: {0}")]
    Fjall(String),
    /// An operation this backend does not offer, or a copy refused.
    #[error("{0}")]
    Refused(String),
    /// A read failed on purpose ([`ReadFault`]).
    #[error("injected read fault")]
    Injected,
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Postgres(pg::describe(&e))
    }
}

/// A `Result` over [`Error`].
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// A switch that makes every later read of a store fail (tests prove the fail-stop with it).
#[derive(Clone, Debug, Default)]
pub struct ReadFault(Arc<AtomicBool>);

impl ReadFault {
    /// From now on, every read fails.
    pub fn arm(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn check(&self) -> Result<()> {
        match self.0.load(Ordering::Relaxed) {
            true => Err(Error::Injected),
            false => Ok(()),
        }
    }
}

/// What every handle shares: the failure record and the fault switch.
#[derive(Clone)]
struct Guard {
    failure: Arc<Failure>,
    fault: ReadFault,
}

impl Guard {
    /// Fails the store on an error, then returns the result unchanged.
    fn watch<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.failure.set(format!("database error: {e}"));
        }
        result
    }

    fn read<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.watch(self.fault.check().and_then(|()| f()))
    }
}

/// The database: every tree of the store.
#[derive(Clone)]
pub(crate) struct Db {
    backend: Backend,
    guard: Guard,
}

#[derive(Clone)]
enum Backend {
    Sled(sled::Db),
    Postgres(pg::Database),
    Lsm(lsm::Database),
}

impl Db {
    /// Opens (or creates) a sled database at `path`.
    pub(crate) fn open_sled(path: &Path, cache_mb: u64, failure: Arc<Failure>) -> Result<Db> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_mb.saturating_mul(1024 * 1024))
            .open()?;
        Ok(Db::new(Backend::Sled(db), failure))
    }

    /// Connects to PostgreSQL and brings its schema up to date (see `pg`).
    pub(crate) fn open_postgres(settings: &pg::Connection, failure: Arc<Failure>) -> Result<Db> {
        Ok(Db::new(
            Backend::Postgres(pg::Database::open(settings)?),
            failure,
        ))
    }

    /// Opens (or creates) a fjall database at `path` (see `lsm`).
    pub(crate) fn open_fjall(path: &Path, cache_mb: u64, failure: Arc<Failure>) -> Result<Db> {
        let db = lsm::Database::open(path, cache_mb.saturating_mul(1024 * 1024))?;
        Ok(Db::new(Backend::Lsm(db), failure))
    }

    fn new(backend: Backend, failure: Arc<Failure>) -> Db {
        Db {
            backend,
            guard: Guard {
                failure,
                fault: ReadFault::default(),
            },
        }
    }

    /// Makes every read fail once `fault` is armed.
    pub(crate) fn with_fault(mut self, fault: ReadFault) -> Db {
        self.guard.fault = fault;
        self
    }

    /// The failure record every handle reports to.
    pub(crate) fn failure(&self) -> &Arc<Failure> {
        &self.guard.failure
    }

    /// The sled database, when that is the backend (its flusher syncs it).
    pub(crate) fn sled(&self) -> Option<&sled::Db> {
        match &self.backend {
            Backend::Sled(db) => Some(db),
            _ => None,
        }
    }

    /// The fjall database, when that is the backend (its flusher syncs it).
    pub(crate) fn lsm(&self) -> Option<&lsm::Database> {
        match &self.backend {
            Backend::Lsm(db) => Some(db),
            _ => None,
        }
    }

    /// The PostgreSQL database, when that is the backend.
    pub(crate) fn postgres(&self) -> Option<&pg::Database> {
        match &self.backend {
            Backend::Postgres(db) => Some(db),
            _ => None,
        }
    }

    /// A tree by name (created if missing).
    pub(crate) fn open_tree(&self, name: &str) -> Result<Tree> {
        let inner = match &self.backend {
            Backend::Sled(db) => Inner::Sled(
                self.guard
                    .watch(db.open_tree(name.as_bytes()).map_err(Error::from))?,
            ),
            Backend::Postgres(db) => Inner::Postgres(db.table(name)),
            Backend::Lsm(db) => Inner::Lsm(self.guard.watch(db.table(name))?),
        };
        Ok(Tree {
            inner,
            guard: self.guard.clone(),
        })
    }

    /// A fresh id, never handed out before (in this database, by any instance), and never 0:
    /// the cursors above read 0 as "before every id" (an event with id 0 would never be
    /// listed). sled counts from 0, so its ids are shifted by one; PostgreSQL's sequence and
    /// fjall's block start at 1.
    pub(crate) fn generate_id(&self) -> Result<u64> {
        self.guard.watch(match &self.backend {
            Backend::Sled(db) => db.generate_id().map(|id| id + 1).map_err(Error::from),
            Backend::Postgres(db) => db.generate_id(),
            Backend::Lsm(db) => db.generate_id(),
        })
    }

    /// Makes every later id greater than `id` (a restore carries a snapshot's generator over).
    pub(crate) fn advance_ids_past(&self, id: u64) -> Result<()> {
        self.guard.watch(match &self.backend {
            Backend::Sled(db) => loop {
                match db.generate_id().map(|next| next + 1) {
                    Ok(next) if next <= id => {}
                    Ok(_) => break Ok(()),
                    Err(e) => break Err(Error::from(e)),
                }
            },
            Backend::Postgres(db) => db.advance_ids_past(id),
            Backend::Lsm(db) => db.advance_ids_past(id),
        })
    }

    /// The names of every tree (on sled, its internal default tree too).
    pub(crate) fn tree_names(&self) -> Vec<String> {
        match &self.backend {
            Backend::Sled(db) => db
                .tree_names()
                .iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect(),
            Backend::Postgres(_) => TREES.iter().map(|t| (*t).to_owned()).collect(),
            Backend::Lsm(db) => db.tree_names(),
        }
    }

    /// Drops a tree (sled, fjall; PostgreSQL databases never had the trees dropped by
    /// migrations).
    pub(crate) fn drop_tree(&self, name: &str) -> Result<()> {
        match &self.backend {
            Backend::Sled(db) => self
                .guard
                .watch(db.drop_tree(name).map(drop).map_err(Error::from)),
            Backend::Lsm(db) => self.guard.watch(db.drop_tree(name)),
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// Writes out what is buffered (sled, fjall; a PostgreSQL commit is durable when it
    /// returns).
    pub(crate) fn flush(&self) -> Result<()> {
        match &self.backend {
            Backend::Sled(db) => self.guard.watch(db.flush().map(drop).map_err(Error::from)),
            Backend::Lsm(db) => self.guard.watch(db.sync()),
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// Claims pending outbox job `key` for `lease`: always on sled (one process sends
    /// everything); on PostgreSQL unless another instance holds a live claim.
    pub(crate) fn claim_job(&self, key: &[u8], lease: std::time::Duration) -> Result<bool> {
        match &self.backend {
            Backend::Sled(_) | Backend::Lsm(_) => Ok(true),
            Backend::Postgres(db) => self.guard.read(|| db.claim_job(key, lease)),
        }
    }

    /// Gives up the claim of job `key`.
    pub(crate) fn release_job(&self, key: &[u8]) -> Result<()> {
        match &self.backend {
            Backend::Sled(_) | Backend::Lsm(_) => Ok(()),
            Backend::Postgres(db) => self.guard.watch(db.release_job(key)),
        }
    }

    /// Runs `f` in one transaction over `trees` (the order of `f`'s tree indexes), committed
    /// when `f` returns `Ok`. An aborted `f` changes nothing and fails nothing; a backend error
    /// fails the store.
    pub(crate) fn transaction(
        &self,
        trees: &[&Tree],
        f: &dyn Fn(&mut dyn Txn) -> std::result::Result<(), TxError>,
    ) -> std::result::Result<(), TxError> {
        let outcome = match &self.backend {
            Backend::Sled(_) => txn::sled(trees, f),
            Backend::Postgres(db) => db.transaction(trees, f),
            Backend::Lsm(db) => db.transaction(trees, f),
        };
        if let Err(TxError::Backend(e)) = &outcome {
            self.guard.failure.set(format!("database error: {e}"));
        }
        outcome
    }
}

/// One ordered tree of byte keys and values.
#[derive(Clone)]
pub(crate) struct Tree {
    inner: Inner,
    guard: Guard,
}

#[derive(Clone)]
pub(crate) enum Inner {
    Sled(sled::Tree),
    Postgres(pg::Table),
    Lsm(lsm::Table),
}

fn owned(bound: Bound<&impl AsRef<[u8]>>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl Tree {
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The value of `key`.
    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>> {
        self.guard.read(|| match &self.inner {
            Inner::Sled(t) => Ok(t.get(key)?),
            Inner::Postgres(t) => t.get(key.as_ref()),
            Inner::Lsm(t) => t.get(key.as_ref()),
        })
    }

    /// Puts `value` at `key` on its own, outside the write path (not durable by itself).
    pub(crate) fn insert(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.guard.watch(match &self.inner {
            Inner::Sled(t) => t
                .insert(key.as_ref(), value.as_ref())
                .map(drop)
                .map_err(Error::from),
            Inner::Postgres(t) => t.put(key.as_ref(), value.as_ref()),
            Inner::Lsm(t) => t.put(key.as_ref(), value.as_ref()),
        })
    }

    /// Removes `key` on its own, outside the write path (tests).
    #[cfg(test)]
    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.guard.watch(match &self.inner {
            Inner::Sled(t) => t.remove(key.as_ref()).map(drop).map_err(Error::from),
            Inner::Postgres(t) => t.remove(key.as_ref()),
            Inner::Lsm(t) => t.remove(key.as_ref()),
        })
    }

    /// Atomically replaces `old` (`None`: absent) by `new` (`None`: remove); the error holds
    /// the current value when it was not `old`.
    pub(crate) fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        old: Option<impl AsRef<[u8]>>,
        new: Option<impl AsRef<[u8]>>,
    ) -> Result<std::result::Result<(), sled::CompareAndSwapError>> {
        let (old, new) = (
            old.as_ref().map(AsRef::as_ref),
            new.as_ref().map(AsRef::as_ref),
        );
        self.guard.read(|| match &self.inner {
            Inner::Sled(t) => Ok(t.compare_and_swap(key, old, new)?),
            Inner::Postgres(t) => t.compare_and_swap(key.as_ref(), old, new),
            Inner::Lsm(t) => t.compare_and_swap(key.as_ref(), old, new),
        })
    }

    /// Every entry in key order.
    pub(crate) fn iter(&self) -> Iter {
        self.range::<&[u8], _>(..)
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let start = Bound::Included(prefix.as_ref().to_vec());
        let end =
            super::index::prefix_end(prefix.as_ref()).map_or(Bound::Unbounded, Bound::Excluded);
        self.range((start, end))
    }

    /// The entries with keys in `range`, in key order.
    pub(crate) fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        let (start, end) = (owned(range.start_bound()), owned(range.end_bound()));
        let inner = match &self.inner {
            Inner::Sled(t) => IterInner::Sled(t.range((start, end))),
            Inner::Postgres(t) => IterInner::Postgres(t.range(start, end)),
            Inner::Lsm(t) => IterInner::Lsm(t.range(start, end)),
        };
        Iter {
            inner,
            guard: self.guard.clone(),
        }
    }

    /// The first entry.
    pub(crate) fn first(&self) -> Result<Option<(IVec, IVec)>> {
        self.iter().next().transpose()
    }

    /// Whether the tree has no entry (reads one entry at most).
    pub(crate) fn is_empty(&self) -> Result<bool> {
        Ok(self.first()?.is_none())
    }

    /// Number of entries. Walks the whole tree: for tools and tests, never a request path.
    pub(crate) fn len(&self) -> Result<usize> {
        match &self.inner {
            Inner::Sled(t) => Ok(t.len()),
            Inner::Postgres(t) => self.guard.read(|| t.len()),
            Inner::Lsm(t) => self.guard.read(|| t.len()),
        }
    }
}

/// Entries of a tree in key order (or reversed), read lazily.
pub(crate) struct Iter {
    inner: IterInner,
    guard: Guard,
}

enum IterInner {
    Sled(sled::Iter),
    SledRev(sled::Iter),
    Postgres(pg::Cursor),
    Lsm(fjall::Iter),
    LsmRev(fjall::Iter),
}

impl Iter {
    /// The same entries, last first.
    pub(crate) fn rev(self) -> Iter {
        let inner = match self.inner {
            IterInner::Sled(i) => IterInner::SledRev(i),
            IterInner::SledRev(i) => IterInner::Sled(i),
            IterInner::Postgres(c) => IterInner::Postgres(c.rev()),
            IterInner::Lsm(i) => IterInner::LsmRev(i),
            IterInner::LsmRev(i) => IterInner::Lsm(i),
        };
        Iter {
            inner,
            guard: self.guard,
        }
    }

    /// The keys only.
    pub(crate) fn keys(self) -> impl Iterator<Item = Result<IVec>> {
        self.map(|e| e.map(|(k, _)| k))
    }

    /// The values only.
    pub(crate) fn values(self) -> impl Iterator<Item = Result<IVec>> {
        self.map(|e| e.map(|(_, v)| v))
    }
}

impl Iterator for Iter {
    type Item = Result<(IVec, IVec)>;

    fn next(&mut self) -> Option<Self::Item> {
        let guard = &self.guard;
        let item = match guard.fault.check() {
            Err(e) => Some(Err(e)),
            Ok(()) => match &mut self.inner {
                IterInner::Sled(i) => i.next().map(|r| r.map_err(Error::from)),
                IterInner::SledRev(i) => i.next_back().map(|r| r.map_err(Error::from)),
                IterInner::Postgres(c) => c.next(),
                IterInner::Lsm(i) => i.next().map(lsm::entry),
                IterInner::LsmRev(i) => i.next_back().map(lsm::entry),
            },
        };
        item.map(|r| guard.watch(r))
    }
}
