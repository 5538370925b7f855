//! Durable storage: the sled database, one named tree per index, multi-tree writes in one
//! transaction, and acknowledgement only after the group committer has put them on disk.
//!
//! Every method blocks; async callers run them on the blocking pool (`actix_web::web::block`).
//! The interface is deliberately narrow (records in, records out) so another backend can follow.

pub(crate) mod backup;
mod combine;
pub(crate) mod commit;
pub(crate) mod market;
pub(crate) mod market_records;
mod merchant;
pub(crate) mod records;
#[cfg(test)]
mod tests;

pub(crate) use merchant::{AuditFilter, LicenseFilter};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{Transactional, Tree};

use self::combine::Combiner;
use self::commit::{CommitError, GroupCommit, SledFlusher};
use self::records::{AuditEvent, KeyRecord, LicenseRecord};
use crate::metrics::storage::StorageMetrics;

/// Storage schema version; the database lives in `<data_dir>/db/v<SCHEMA>`.
pub(crate) const SCHEMA: u32 = 1;

pub(super) mod tree {
    pub(super) const META: &str = "meta";
    pub(super) const LICENSES: &str = "licenses";
    pub(super) const TOKENS: &str = "license-tokens";
    pub(super) const INSTANCES: &str = "licenses-by-instance";
    pub(super) const IDEMPOTENCY: &str = "idempotency";
    pub(super) const AUDIT: &str = "audit";
    pub(super) const AUDIT_BY_LICENSE: &str = "audit-by-license";
    pub(super) const SIGNING_KEYS: &str = "signing-keys";
    pub(super) const API_TOKENS: &str = "api-tokens";
}

const ACTIVE_KID: &[u8] = b"active-kid";
pub(super) const REVOCATION_SEQUENCE: &[u8] = b"revocation-sequence";

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// sled failed.
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
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

/// Everything one logical change writes, applied atomically.
#[derive(Debug, Default)]
pub(crate) struct WriteBatch {
    /// Licenses to put; each also records its current token in the history and its instance
    /// index.
    pub(crate) licenses: Vec<LicenseRecord>,
    /// Idempotency entries (key, value) to put.
    pub(crate) idempotency: Vec<(String, Vec<u8>)>,
    /// Audit events to append (their `id` is assigned here).
    pub(crate) audit: Vec<AuditEvent>,
    /// The change alters what the revocation list says: advance its sequence.
    pub(crate) revocation_changed: bool,
}

/// The outcome of registering the configured signing key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyRegistration {
    /// The key was already the active one.
    Unchanged,
    /// First key of this database.
    First,
    /// The key replaced the recorded one (rotation was allowed).
    Rotated {
        /// The previous key id.
        previous: String,
    },
    /// The key differs from the recorded one and rotation was not allowed.
    Refused {
        /// The recorded key id.
        recorded: String,
    },
}

/// The storage handle (cheap to clone).
#[derive(Clone)]
pub(crate) struct Store {
    db: sled::Db,
    meta: Tree,
    licenses: Tree,
    tokens: Tree,
    instances: Tree,
    idempotency: Tree,
    audit: Tree,
    audit_by_license: Tree,
    signing_keys: Tree,
    api_tokens: Tree,
    /// Trees of the POST interfaces and the marketplace outbox (`market.rs`).
    market: market::MarketTrees,
    commit: GroupCommit,
    combiner: Arc<Combiner<Prepared, GroupFailure>>,
    metrics: StorageMetrics,
    /// Multi-tree transactions hold it shared; a backup snapshot holds it exclusively.
    gate: Arc<RwLock<()>>,
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
        let path = data_dir.join("db").join(format!("v{SCHEMA}"));
        std::fs::create_dir_all(&path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(cache_mb.saturating_mul(1024 * 1024))
            .open()?;
        let flusher = SledFlusher::open(db.clone(), &path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        let metrics = StorageMetrics::default();
        let commit = GroupCommit::start_observed(flusher, metrics.clone()).map_err(|source| {
            StoreError::Io {
                path: path.clone(),
                source,
            }
        })?;
        Ok(Store {
            meta: db.open_tree(tree::META)?,
            licenses: db.open_tree(tree::LICENSES)?,
            tokens: db.open_tree(tree::TOKENS)?,
            instances: db.open_tree(tree::INSTANCES)?,
            idempotency: db.open_tree(tree::IDEMPOTENCY)?,
            audit: db.open_tree(tree::AUDIT)?,
            audit_by_license: db.open_tree(tree::AUDIT_BY_LICENSE)?,
            signing_keys: db.open_tree(tree::SIGNING_KEYS)?,
            api_tokens: db.open_tree(tree::API_TOKENS)?,
            market: market::MarketTrees::open(&db)?,
            db,
            commit,
            combiner: Arc::new(Combiner::new(MAX_GROUP)),
            metrics,
            gate: Arc::new(RwLock::new(())),
        })
    }

    /// The group-commit and flush metrics this store records.
    pub(crate) fn metrics(&self) -> &StorageMetrics {
        &self.metrics
    }

    /// Blocks until every write made before the call is on disk (shared with concurrent callers).
    pub(crate) fn sync(&self) -> Result<()> {
        Ok(self.commit.sync()?)
    }

    /// Group-commit counters: (flushes, waiters served).
    pub(crate) fn commit_stats(&self) -> (u64, u64) {
        let s = self.commit.stats();
        (s.flushes, s.synced_waiters)
    }

    /// Final flush; later writes fail.
    pub(crate) fn close(&self) -> Result<()> {
        self.db.flush()?;
        self.commit.shutdown();
        Ok(())
    }

    /// Checks the configured signing key against the database and records it.
    pub(crate) fn register_signing_key(
        &self,
        key: KeyRecord,
        allow_rotation: bool,
    ) -> Result<KeyRegistration> {
        let recorded = self
            .meta
            .get(ACTIVE_KID)?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        let outcome = match recorded {
            Some(kid) if kid == key.kid => return Ok(KeyRegistration::Unchanged),
            Some(kid) if !allow_rotation => return Ok(KeyRegistration::Refused { recorded: kid }),
            Some(kid) => KeyRegistration::Rotated { previous: kid },
            None => KeyRegistration::First,
        };
        let previous = match &outcome {
            KeyRegistration::Rotated { previous } => self
                .signing_keys
                .get(previous.as_bytes())?
                .map(|v| decode::<KeyRecord>(tree::SIGNING_KEYS, &v))
                .transpose()?,
            _ => None,
        };
        // `first_used` of the configured key is the time of this start.
        let now = key.first_used;
        // A key used before (rotating back to it) keeps its first use but is no longer retired.
        let active = match self.signing_keys.get(key.kid.as_bytes())? {
            Some(v) => KeyRecord {
                retired_at: None,
                ..decode::<KeyRecord>(tree::SIGNING_KEYS, &v)?
            },
            None => key,
        };
        let _gate = self.gate.read();
        (&self.meta, &self.signing_keys)
            .transaction(|(meta, keys)| {
                if let Some(mut old) = previous.clone() {
                    old.retired_at = Some(now);
                    keys.insert(old.kid.as_bytes(), json(&old))?;
                }
                keys.insert(active.kid.as_bytes(), json(&active))?;
                meta.insert(ACTIVE_KID, active.kid.as_bytes())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)?;
        self.sync()?;
        Ok(outcome)
    }

    /// Every signing key the database has used, oldest first.
    pub(crate) fn signing_keys(&self) -> Result<Vec<KeyRecord>> {
        let mut keys = self
            .signing_keys
            .iter()
            .values()
            .map(|v| decode::<KeyRecord>(tree::SIGNING_KEYS, &v?))
            .collect::<Result<Vec<_>>>()?;
        keys.sort_by_key(|k| k.first_used);
        Ok(keys)
    }

    /// A license by id.
    pub(crate) fn license(&self, license_id: &str) -> Result<Option<LicenseRecord>> {
        self.licenses
            .get(license_id.as_bytes())?
            .map(|v| decode(tree::LICENSES, &v))
            .transpose()
    }

    /// A license by KooMarket instance id.
    pub(crate) fn license_by_instance(&self, instance_id: &str) -> Result<Option<LicenseRecord>> {
        match self.instances.get(instance_id.as_bytes())? {
            Some(id) => self.license(&String::from_utf8_lossy(&id)),
            None => Ok(None),
        }
    }

    /// An idempotency entry.
    pub(crate) fn idempotency(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.idempotency.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Every token a license has had, by revision.
    pub(crate) fn token_history(&self, license_id: &str) -> Result<Vec<(u32, String)>> {
        let prefix = format!("{license_id}/");
        self.tokens
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
            .collect()
    }

    /// The audit events of one license, oldest first.
    pub(crate) fn audit_for_license(&self, license_id: &str) -> Result<Vec<AuditEvent>> {
        let prefix = format!("{license_id}/");
        let mut events = Vec::new();
        for entry in self.audit_by_license.scan_prefix(prefix.as_bytes()) {
            let (k, _) = entry?;
            let id = k.get(prefix.len()..).unwrap_or(&[]);
            if let Some(v) = self.audit.get(id)? {
                events.push(decode(tree::AUDIT, &v)?);
            }
        }
        Ok(events)
    }

    /// Number of licenses (a full scan).
    #[cfg(test)]
    pub(crate) fn license_count(&self) -> usize {
        self.licenses.len()
    }

    /// Applies a batch atomically and returns once it is on disk.
    ///
    /// Concurrent writers share one sled transaction and one durable sync. In sled 0.34 every
    /// transaction takes a process-wide write lock, which waits for any `Db::flush` in progress
    /// (the flush holds the read side while the log goes out), blocks every other read and write
    /// meanwhile, and writes the log out twice itself; one transaction per batch queued all
    /// writers behind each group commit. Instead the first writer to find no group running
    /// applies everything queued (at most [`MAX_GROUP`] batches), its own included, in one
    /// transaction, syncs once for the whole group and hands the outcome to the others (see
    /// [`combine`]); the next group forms meanwhile. Each batch stays atomic (the group is), and
    /// the sync starts only after the group's transaction committed, so nothing returns `Ok`
    /// before it is on disk.
    pub(crate) fn write(&self, mut batch: WriteBatch) -> Result<Vec<AuditEvent>> {
        for event in &mut batch.audit {
            event.id = self.db.generate_id()?;
        }
        let prepared = Prepared {
            licenses: batch
                .licenses
                .iter()
                .map(|l| {
                    let mut token_key = format!("{}/", l.license_id).into_bytes();
                    token_key.extend_from_slice(&l.revision.to_be_bytes());
                    (
                        l.license_id.clone(),
                        json(l),
                        token_key,
                        l.instance_id.clone(),
                        l.token.clone(),
                    )
                })
                .collect(),
            idempotency: std::mem::take(&mut batch.idempotency),
            audit: batch
                .audit
                .iter()
                .map(|e| (e.id, json(e), e.license_id.clone()))
                .collect(),
            revocation_changed: batch.revocation_changed,
        };
        self.combiner.submit(
            prepared,
            |batches| {
                self.metrics.group_size.observe(batches.len() as f64);
                self.apply(batches)?;
                self.commit.sync().map_err(GroupFailure::Commit)
            },
            || GroupFailure::Panicked,
        )?;
        Ok(batch.audit)
    }

    /// One transaction over every tree for `batches`.
    fn apply(&self, batches: &[Prepared]) -> std::result::Result<(), GroupFailure> {
        let _gate = self.gate.read();
        (
            &self.licenses,
            &self.tokens,
            &self.instances,
            &self.idempotency,
            &self.audit,
            &self.audit_by_license,
            &self.meta,
        )
            .transaction(|(lic, tok, inst, idem, aud, aud_lic, meta)| {
                let revocation_changes = batches.iter().filter(|b| b.revocation_changed).count();
                if revocation_changes > 0 {
                    let seq = meta
                        .get(REVOCATION_SEQUENCE)?
                        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                        .map_or(0, u64::from_be_bytes);
                    let next = seq.saturating_add(revocation_changes as u64);
                    meta.insert(REVOCATION_SEQUENCE, &next.to_be_bytes())?;
                }
                for batch in batches {
                    for (id, record, token_key, instance, token) in &batch.licenses {
                        lic.insert(id.as_bytes(), record.as_slice())?;
                        tok.insert(token_key.as_slice(), token.as_bytes())?;
                        if let Some(instance) = instance {
                            inst.insert(instance.as_bytes(), id.as_bytes())?;
                        }
                    }
                    for (key, value) in &batch.idempotency {
                        idem.insert(key.as_bytes(), value.as_slice())?;
                    }
                    for (id, event, license) in &batch.audit {
                        aud.insert(&id.to_be_bytes(), event.as_slice())?;
                        if let Some(license) = license {
                            let mut key = format!("{license}/").into_bytes();
                            key.extend_from_slice(&id.to_be_bytes());
                            aud_lic.insert(key, &[])?;
                        }
                    }
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                TransactionError::Storage(e) => GroupFailure::Sled(e),
                TransactionError::Abort(()) => GroupFailure::Aborted,
            })
    }
}

/// Most batches one transaction applies (a getLicense batch is about 3 KB, so a group stays well
/// inside one 512 KiB sled segment).
const MAX_GROUP: usize = 128;

/// A license row: (license id, record, token-history key, instance id, token).
type LicenseRow = (String, Vec<u8>, Vec<u8>, Option<String>, String);

/// A batch encoded for the transaction: license rows, idempotency entries, audit events as
/// (id, event, license id).
struct Prepared {
    licenses: Vec<LicenseRow>,
    idempotency: Vec<(String, Vec<u8>)>,
    audit: Vec<(u64, Vec<u8>, Option<String>)>,
    /// Advance the revocation sequence for this writer.
    revocation_changed: bool,
}

/// Why a group's write failed; every writer of the group gets it.
#[derive(Clone, Debug)]
enum GroupFailure {
    Sled(sled::Error),
    Aborted,
    Panicked,
    Commit(CommitError),
}

impl From<GroupFailure> for StoreError {
    fn from(failure: GroupFailure) -> Self {
        let corrupt = |message: &str| StoreError::Corrupt {
            tree: "transaction",
            message: message.into(),
        };
        match failure {
            GroupFailure::Sled(e) => StoreError::Sled(e),
            GroupFailure::Aborted => corrupt("aborted"),
            GroupFailure::Panicked => corrupt("panicked"),
            GroupFailure::Commit(e) => StoreError::Commit(e),
        }
    }
}

fn tx_error(e: TransactionError<()>) -> StoreError {
    match e {
        TransactionError::Storage(e) => StoreError::Sled(e),
        TransactionError::Abort(()) => StoreError::Corrupt {
            tree: "transaction",
            message: "aborted".into(),
        },
    }
}
