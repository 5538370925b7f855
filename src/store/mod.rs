//! Durable storage: the database (sled, or PostgreSQL), one named tree per index, and ONE write path
//! ([`WriteBatch`] → [`Store::write`]: the combiner groups concurrent batches into one
//! transaction, the group commit makes it durable) used by every writer, so nothing is
//! acknowledged before it is on disk. Typed keys ([`keys`]) and the per-key locks ([`locks`])
//! that make read-check-write sequences race-free live here too.
//!
//! Every method blocks; async callers run them on the blocking pool. The trees are ordered
//! key-value trees on sled or PostgreSQL ([`kv`]), so everything here is the same on both.

pub(crate) mod backup;
mod batch;
mod combine;
pub(crate) mod commit;
pub(crate) mod counters;
mod encoding;
pub(crate) mod failure;
pub(crate) mod index;
pub(crate) mod keys;
pub(crate) mod kv;
pub(crate) mod locks;
mod maintenance;
pub(crate) mod market;
pub(crate) mod market_records;
mod merchant;
mod migrate;
mod orders;
pub(crate) mod records;
pub(crate) mod seats;
mod signing_keys;
#[cfg(test)]
mod tests;
pub(crate) mod transfer;

pub(crate) use batch::WriteBatch;
pub(crate) use merchant::{AuditFilter, LicenseFilter};
pub(crate) use signing_keys::KeyRegistration;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use self::kv::Tree;

use self::batch::WriteCombiner;
use self::commit::{CommitError, GroupCommit, LsmFlusher, SledFlusher};
use self::encoding::{decode_audit, decode_license};
use self::failure::Failure;
use self::records::{AuditEvent, LicenseRecord};
use crate::metrics::storage::StorageMetrics;

/// Version of the on-disk directory layout: the database lives in `<data_dir>/db/v<SCHEMA>`.
/// The version of the records inside is `migrate::SCHEMA_VERSION`, kept in the database.
pub(crate) const SCHEMA: u32 = 1;

/// The directory of the fjall database under the data directory.
pub(crate) const FJALL_DIR: &str = "fjall";

pub(super) mod tree {
    pub(super) const META: &str = "meta";
    pub(super) const LICENSES: &str = "licenses";
    pub(super) const TOKENS: &str = "license-tokens";
    pub(super) const INSTANCES: &str = "licenses-by-instance";
    pub(super) const IDEMPOTENCY: &str = "idempotency";
    pub(super) const AUDIT: &str = "audit";
    /// Schema 1 only (its postings moved to `INDEX`); dropped by the migration.
    pub(super) const AUDIT_BY_LICENSE: &str = "audit-by-license";
    pub(super) const INDEX: &str = "index";
    pub(super) const SIGNING_KEYS: &str = "signing-keys";
    pub(super) const API_TOKENS: &str = "api-tokens";
}

pub(super) const ACTIVE_KID: &[u8] = b"active-kid";
pub(super) const REVOCATION_SEQUENCE: &[u8] = b"revocation-sequence";

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// sled failed.
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    /// The backend (sled or PostgreSQL) failed; the store is failed.
    #[error("database error: {0}")]
    Backend(#[from] kv::Error),
    /// The group commit failed, so the write is not known to be durable.
    #[error("durable commit failed: {0}")]
    Commit(#[from] CommitError),
    /// A stored record could not be decoded.
    #[error("corrupt record in {tree}: {message}")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Storage failed earlier (see [`failure`]): nothing is written or acknowledged any more.
    #[error("storage failed earlier, nothing is written until a restart: {0}")]
    Failed(String),
    /// The data directory could not be prepared.
    #[error("cannot prepare {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A `Result` over [`StoreError`].
pub(crate) type Result<T> = std::result::Result<T, StoreError>;

/// The storage handle (cheap to clone).
#[derive(Clone)]
pub(crate) struct Store {
    db: kv::Db,
    meta: Tree,
    licenses: Tree,
    tokens: Tree,
    instances: Tree,
    idempotency: Tree,
    audit: Tree,
    /// Postings of the secondary indexes (`index.rs`).
    index: Tree,
    signing_keys: Tree,
    api_tokens: Tree,
    /// Trees of the POST interfaces, the outbox and the rejected calls (`market.rs`).
    market: market::MarketTrees,
    /// Trees of leases and deactivations (`seats.rs`).
    seats: seats::SeatTrees,
    /// sled's group commit; none on PostgreSQL, whose commit is durable when it returns.
    commit: Option<GroupCommit>,
    combiner: Arc<WriteCombiner>,
    metrics: StorageMetrics,
    /// Write transactions hold it shared; a backup snapshot holds it exclusively.
    gate: Arc<RwLock<()>>,
    /// Set at the first storage failure.
    failure: Arc<Failure>,
    /// Groups whose transaction was started / whose sync then succeeded: when equal, nothing
    /// readable is still waiting for the disk.
    applied: Arc<AtomicU64>,
    synced: Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain records cannot fail (no maps with non-string keys).
    serde_json::to_vec(value).unwrap_or_default()
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    tree: &'static str,
    bytes: &[u8],
) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree,
        message: e.to_string(),
    })
}

impl Store {
    /// Opens (or creates) the database under `data_dir` with a page cache of `cache_mb` MiB.
    pub(crate) fn open(data_dir: &Path, cache_mb: u64) -> Result<Store> {
        Store::open_with(data_dir, cache_mb, |flusher| flusher)
    }

    /// As [`Store::open`]; `fault` makes reads fail once armed.
    pub(crate) fn open_with_fault(
        data_dir: &Path,
        cache_mb: u64,
        fault: kv::ReadFault,
    ) -> Result<Store> {
        Store::open_sled(data_dir, cache_mb, |flusher| flusher, fault)
    }

    /// As [`Store::open`], with the durable flush wrapped by `wrap` (tests inject faults).
    pub(crate) fn open_with<F: commit::Flusher + Send + 'static>(
        data_dir: &Path,
        cache_mb: u64,
        wrap: impl FnOnce(SledFlusher) -> F,
    ) -> Result<Store> {
        Store::open_sled(data_dir, cache_mb, wrap, kv::ReadFault::default())
    }

    fn open_sled<F: commit::Flusher + Send + 'static>(
        data_dir: &Path,
        cache_mb: u64,
        wrap: impl FnOnce(SledFlusher) -> F,
        fault: kv::ReadFault,
    ) -> Result<Store> {
        let path = data_dir.join("db").join(format!("v{SCHEMA}"));
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&path).map_err(io)?;
        let failure = Arc::new(Failure::default());
        let db = kv::Db::open_sled(&path, cache_mb, failure)?.with_fault(fault);
        let sled = db
            .sled()
            .cloned()
            .ok_or_else(|| StoreError::Failed("not sled".into()))?;
        let flusher = SledFlusher::open(sled, &path).map_err(io)?;
        Store::committed(db, wrap(flusher), &path)
    }

    /// Opens (or creates) the fjall database under `data_dir` (see `kv::lsm`), its journal
    /// synced by the group committer.
    pub(crate) fn open_fjall(
        data_dir: &Path,
        cache_mb: u64,
        fault: kv::ReadFault,
    ) -> Result<Store> {
        Store::open_fjall_with(data_dir, cache_mb, |flusher| flusher, fault)
    }

    /// As [`Store::open_fjall`], with the durable flush wrapped by `wrap` (tests inject faults).
    pub(crate) fn open_fjall_with<F: commit::Flusher + Send + 'static>(
        data_dir: &Path,
        cache_mb: u64,
        wrap: impl FnOnce(LsmFlusher) -> F,
        fault: kv::ReadFault,
    ) -> Result<Store> {
        let path = data_dir.join(FJALL_DIR);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&path).map_err(io)?;
        let failure = Arc::new(Failure::default());
        let db = kv::Db::open_fjall(&path, cache_mb, failure)?.with_fault(fault);
        let lsm = db
            .lsm()
            .cloned()
            .ok_or_else(|| StoreError::Failed("not fjall".into()))?;
        Store::committed(db, wrap(LsmFlusher::new(lsm)), &path)
    }

    /// The store over an embedded database whose writes `flusher` makes durable.
    fn committed<F: commit::Flusher + Send + 'static>(
        db: kv::Db,
        flusher: F,
        path: &Path,
    ) -> Result<Store> {
        let metrics = StorageMetrics::default();
        let commit = GroupCommit::start_observed(flusher, metrics.clone()).map_err(|source| {
            StoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Store::over(db, Some(commit), metrics)
    }

    /// Opens the store on PostgreSQL (see `kv::pg`); `fault` makes reads fail once armed.
    pub(crate) fn open_postgres(
        connection: &kv::pg::Connection,
        fault: kv::ReadFault,
    ) -> Result<Store> {
        let db = kv::Db::open_postgres(connection, Arc::new(Failure::default()))?;
        Store::over(db.with_fault(fault), None, StorageMetrics::default())
    }

    /// The store over an opened database, migrated to the current schema.
    fn over(db: kv::Db, commit: Option<GroupCommit>, metrics: StorageMetrics) -> Result<Store> {
        let store = Store {
            meta: db.open_tree(tree::META)?,
            licenses: db.open_tree(tree::LICENSES)?,
            tokens: db.open_tree(tree::TOKENS)?,
            instances: db.open_tree(tree::INSTANCES)?,
            idempotency: db.open_tree(tree::IDEMPOTENCY)?,
            audit: db.open_tree(tree::AUDIT)?,
            index: db.open_tree(tree::INDEX)?,
            signing_keys: db.open_tree(tree::SIGNING_KEYS)?,
            api_tokens: db.open_tree(tree::API_TOKENS)?,
            market: market::MarketTrees::open(&db)?,
            seats: seats::SeatTrees::open(&db)?,
            failure: db.failure().clone(),
            db,
            commit,
            combiner: Arc::new(batch::new_combiner()),
            metrics,
            gate: Arc::new(RwLock::new(())),
            applied: Arc::new(AtomicU64::new(0)),
            synced: Arc::new(AtomicU64::new(0)),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Why storage failed, once it has (see [`failure`]).
    pub(crate) fn failure(&self) -> &Failure {
        &self.failure
    }

    /// `Err(Failed)` once storage failed.
    pub(crate) fn refuse_if_failed(&self) -> Result<()> {
        match self.failure.reason() {
            Some(reason) => Err(StoreError::Failed(reason.to_string())),
            None => Ok(()),
        }
    }

    /// Marks the store failed by `error`, unless the error only says it is shutting down.
    fn fail_on(&self, error: &StoreError) {
        if !matches!(error, StoreError::Commit(CommitError::Closed)) {
            self.failure.set(error.to_string());
        }
    }

    /// Returns once everything readable is on disk: at once when no group is between its
    /// transaction and its sync, else after a sync of its own.
    fn ensure_durable(&self) -> Result<()> {
        if self.synced.load(Ordering::SeqCst) >= self.applied.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.durable().map_err(|e| {
            let error = StoreError::from(e);
            self.fail_on(&error);
            error
        })
    }

    /// Waits for sled's group commit to make everything written durable (at once on
    /// PostgreSQL: a transaction is durable when its commit returns).
    fn durable(&self) -> std::result::Result<(), CommitError> {
        match &self.commit {
            Some(commit) => commit.sync(),
            None => Ok(()),
        }
    }

    /// The underlying database (the per-key locks and the outbox claims use it on PostgreSQL).
    pub(crate) fn db(&self) -> &kv::Db {
        &self.db
    }

    /// The group-commit and flush metrics this store records.
    pub(crate) fn metrics(&self) -> &StorageMetrics {
        &self.metrics
    }

    /// Blocks until every write made before the call is on disk (shared with concurrent callers).
    #[cfg(test)]
    pub(crate) fn sync(&self) -> Result<()> {
        Ok(self.durable()?)
    }

    /// Group-commit counters: (flushes, waiters served).
    pub(crate) fn commit_stats(&self) -> (u64, u64) {
        let s = self
            .commit
            .as_ref()
            .map(GroupCommit::stats)
            .unwrap_or_default();
        (s.flushes, s.synced_waiters)
    }

    /// Final flush; later writes fail.
    pub(crate) fn close(&self) -> Result<()> {
        self.db.flush()?;
        if let Some(commit) = &self.commit {
            commit.shutdown();
        }
        Ok(())
    }

    /// A license by id.
    pub(crate) fn license(&self, license_id: &str) -> Result<Option<LicenseRecord>> {
        self.licenses
            .get(license_id.as_bytes())?
            .map(|v| decode_license(&v))
            .transpose()
    }

    /// A license by KooMarket instance id: the license of that id when its instance carries
    /// its name (getLicense names new instances so, and writes no index entry for them), else
    /// the one the instance index names.
    pub(crate) fn license_by_instance(&self, instance_id: &str) -> Result<Option<LicenseRecord>> {
        if let Some(record) = self.license(instance_id)? {
            if record.instance_id.as_deref() == Some(instance_id) {
                return Ok(Some(record));
            }
        }
        match self.instances.get(instance_id.as_bytes())? {
            Some(id) => self.license(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// An idempotency entry.
    ///
    /// An entry found is answered as a success, so it must be on disk first: a write applied but
    /// not yet synced (or whose sync failed) is never acknowledged by a retry.
    pub(crate) fn idempotency(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.refuse_if_failed()?;
        let found = self.idempotency.get(key.as_bytes())?.map(|v| v.to_vec());
        if found.is_some() {
            self.ensure_durable()?;
        }
        Ok(found)
    }

    /// Every token a license has had, by revision: the superseded ones from the history, the
    /// current one from the record (stored once).
    pub(crate) fn token_history(&self, license_id: &str) -> Result<Vec<(u32, String)>> {
        let prefix = format!("{license_id}/");
        let mut tokens = self
            .tokens
            .scan_prefix(prefix.as_bytes())
            .map(|entry| {
                let (k, v) = entry?;
                let rev = k
                    .get(prefix.len()..)
                    .and_then(|r| <[u8; 4]>::try_from(r).ok())
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                Ok((rev, String::from_utf8_lossy(&v).into_owned()))
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(record) = self.license(license_id)? {
            tokens.retain(|(rev, _)| *rev < record.revision);
            tokens.push((record.revision, record.token));
        }
        Ok(tokens)
    }

    /// The audit events of one license, oldest first.
    pub(crate) fn audit_for_license(&self, license_id: &str) -> Result<Vec<AuditEvent>> {
        let prefix = index::prefix(index::Kind::AuditByLicense, &index::compact_id(license_id));
        let mut events = Vec::new();
        for entry in self.index.scan_prefix(&prefix) {
            let (k, _) = entry?;
            let id = k.get(prefix.len()..).unwrap_or(&[]);
            if let Some(v) = self.audit.get(id)? {
                events.push(decode_audit(&v)?);
            }
        }
        Ok(events)
    }

    /// The trees a batch writes, in the order of `batch::Tree`.
    fn write_trees(&self) -> Vec<&Tree> {
        let m = &self.market;
        vec![
            &self.meta,
            &self.licenses,
            &self.tokens,
            &self.instances,
            &self.idempotency,
            &self.audit,
            &self.index,
            &self.signing_keys,
            &self.api_tokens,
            &m.instances,
            &m.codes,
            &m.pending_codes,
            &m.outbox,
            &m.outbox_keys,
            &m.outbox_pending,
            &m.rejected_calls,
            &self.seats.leases,
            &self.seats.leases_held,
            &self.seats.deactivations,
        ]
    }
}
