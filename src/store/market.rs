//! Storage of the POST interfaces and the marketplace client: online instances, authorization
//! codes, the outbox, and the scheme B nonce cache, each in its own tree.
//!
//! [`Store::write_market`] applies a [`MarketBatch`] — the license changes of a [`WriteBatch`]
//! plus instances, codes and outbox jobs — in ONE sled transaction over every tree involved,
//! then waits for the group commit, exactly like [`Store::write`] (whose license, token-history,
//! instance-index, idempotency and audit handling it mirrors), so an answer never acknowledges a
//! license without its instance, code or upload job, nor the reverse.

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::{Transactional, Tree};

use super::market_records::{CodeRecord, JobState, OnlineInstance, OutboxJob};
use super::{decode, json, tx_error, Result, Store, WriteBatch, REVOCATION_SEQUENCE};

const INSTANCES: &str = "km2-instances";
const CODES: &str = "km2-codes";
const OUTBOX: &str = "km2-outbox";
const OUTBOX_KEYS: &str = "km2-outbox-keys";
const OUTBOX_PENDING: &str = "km2-outbox-pending";
const NONCES: &str = "km2-nonces";

/// The trees of this module (opened with the store).
#[derive(Clone)]
pub(crate) struct MarketTrees {
    instances: Tree,
    codes: Tree,
    outbox: Tree,
    outbox_keys: Tree,
    outbox_pending: Tree,
    nonces: Tree,
}

impl MarketTrees {
    /// Opens (or creates) the trees.
    pub(crate) fn open(db: &sled::Db) -> std::result::Result<MarketTrees, sled::Error> {
        Ok(MarketTrees {
            instances: db.open_tree(INSTANCES)?,
            codes: db.open_tree(CODES)?,
            outbox: db.open_tree(OUTBOX)?,
            outbox_keys: db.open_tree(OUTBOX_KEYS)?,
            outbox_pending: db.open_tree(OUTBOX_PENDING)?,
            nonces: db.open_tree(NONCES)?,
        })
    }
}

/// One logical change of the POST interfaces or the outbox, applied atomically.
#[derive(Debug, Default)]
pub(crate) struct MarketBatch {
    /// License, idempotency and audit changes (as for [`Store::write`]).
    pub(crate) base: WriteBatch,
    /// Instances to put.
    pub(crate) instances: Vec<OnlineInstance>,
    /// Codes to put.
    pub(crate) codes: Vec<CodeRecord>,
    /// Jobs to put (new or updated); the key index and the pending index follow.
    pub(crate) jobs: Vec<OutboxJob>,
}

type Tx = TransactionalTree;
/// A license prepared for the transaction: id, record, token-history key, instance, token.
type LicenseRow = (String, Vec<u8>, Vec<u8>, Option<String>, String);
type TxResult = std::result::Result<(), ConflictableTransactionError<()>>;

impl Store {
    /// An online instance.
    pub(crate) fn online_instance(&self, instance_id: &str) -> Result<Option<OnlineInstance>> {
        self.market
            .instances
            .get(instance_id.as_bytes())?
            .map(|v| decode(INSTANCES, &v))
            .transpose()
    }

    /// An authorization code.
    pub(crate) fn license_code(&self, code: &str) -> Result<Option<CodeRecord>> {
        self.market
            .codes
            .get(code.as_bytes())?
            .map(|v| decode(CODES, &v))
            .transpose()
    }

    /// An outbox job by id.
    pub(crate) fn outbox_job(&self, id: u64) -> Result<Option<OutboxJob>> {
        self.market
            .outbox
            .get(id.to_be_bytes())?
            .map(|v| decode(OUTBOX, &v))
            .transpose()
    }

    /// The outbox job with this deduplication key.
    pub(crate) fn outbox_job_by_key(&self, key: &str) -> Result<Option<OutboxJob>> {
        match self.market.outbox_keys.get(key.as_bytes())? {
            Some(id) => match <[u8; 8]>::try_from(id.as_ref()) {
                Ok(id) => self.outbox_job(u64::from_be_bytes(id)),
                Err(_) => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// A fresh outbox job id.
    pub(crate) fn next_job_id(&self) -> Result<u64> {
        // sled ids start at 0; keep 0 out of the visible ids.
        Ok(self.db.generate_id()? + 1)
    }

    /// Every pending job (from the pending index, so done jobs cost nothing).
    pub(crate) fn pending_jobs(&self) -> Result<Vec<OutboxJob>> {
        let mut jobs = Vec::new();
        for entry in self.market.outbox_pending.iter() {
            let (id, _) = entry?;
            if let Ok(id) = <[u8; 8]>::try_from(id.as_ref()) {
                if let Some(job) = self.outbox_job(u64::from_be_bytes(id))? {
                    jobs.push(job);
                }
            }
        }
        Ok(jobs)
    }

    /// Jobs in id order after `after`, optionally in one state, at most `limit`.
    pub(crate) fn list_jobs(
        &self,
        state: Option<JobState>,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<OutboxJob>> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let mut jobs = Vec::new();
        for entry in self.market.outbox.range(start.to_be_bytes()..) {
            let (_, v) = entry?;
            let job: OutboxJob = decode(OUTBOX, &v)?;
            if state.is_none_or(|s| s == job.state) {
                jobs.push(job);
                if jobs.len() >= limit {
                    break;
                }
            }
        }
        Ok(jobs)
    }

    /// Records `nonce` (of a request signed at `ts_ms`) unless it is already recorded with a
    /// timestamp still inside the window. `Ok(false)` means a replay.
    pub(crate) fn remember_nonce(
        &self,
        nonce: &str,
        ts_ms: i64,
        now_ms: i64,
        window_ms: u64,
    ) -> Result<bool> {
        let tree = &self.market.nonces;
        let value = ts_ms.to_be_bytes();
        let mut expected = None;
        // Two rounds: an expired entry may be replaced once; losing that race is a replay.
        for _ in 0..2 {
            match tree.compare_and_swap(nonce.as_bytes(), expected.as_deref(), Some(&value[..]))? {
                Ok(()) => return Ok(true),
                Err(conflict) => match conflict.current {
                    Some(current) if !nonce_live(&current, now_ms, window_ms) => {
                        expected = Some(current.to_vec());
                    }
                    Some(_) => return Ok(false),
                    None => expected = None,
                },
            }
        }
        Ok(false)
    }

    /// Removes nonces whose timestamps left the window; returns how many.
    pub(crate) fn prune_nonces(&self, now_ms: i64, window_ms: u64) -> Result<usize> {
        let mut removed = 0;
        for entry in self.market.nonces.iter() {
            let (k, v) = entry?;
            if !nonce_live(&v, now_ms, window_ms)
                && self
                    .market
                    .nonces
                    .compare_and_swap(&k, Some(&v), None::<&[u8]>)?
                    .is_ok()
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Applies a batch atomically and returns once it is on disk.
    pub(crate) fn write_market(&self, mut batch: MarketBatch) -> Result<()> {
        for event in &mut batch.base.audit {
            event.id = self.db.generate_id()?;
        }
        let base = &batch.base;
        let licenses: Vec<LicenseRow> = base
            .licenses
            .iter()
            .map(|l| {
                let mut token_key = format!("{}/", l.license_id).into_bytes();
                token_key.extend_from_slice(&l.revision.to_be_bytes());
                let id = l.license_id.clone();
                (
                    id,
                    json(l),
                    token_key,
                    l.instance_id.clone(),
                    l.token.clone(),
                )
            })
            .collect();
        let audit: Vec<(u64, Vec<u8>, Option<String>)> = base
            .audit
            .iter()
            .map(|e| (e.id, json(e), e.license_id.clone()))
            .collect();
        let instances: Vec<(String, Vec<u8>)> = batch
            .instances
            .iter()
            .map(|i| (i.instance_id.clone(), json(i)))
            .collect();
        let codes: Vec<(String, Vec<u8>)> = batch
            .codes
            .iter()
            .map(|c| (c.code.clone(), json(c)))
            .collect();
        let jobs: Vec<(u64, String, bool, Vec<u8>)> = batch
            .jobs
            .iter()
            .map(|j| (j.id, j.key.clone(), j.state == JobState::Pending, json(j)))
            .collect();
        let m = &self.market;
        let gate = self.gate.read();
        (
            &self.licenses,
            &self.tokens,
            &self.instances,
            &self.idempotency,
            &self.audit,
            &self.audit_by_license,
            &self.meta,
            &m.instances,
            &m.codes,
            &m.outbox,
            &m.outbox_keys,
            &m.outbox_pending,
        )
            .transaction(
                |(
                    lic,
                    tok,
                    inst,
                    idem,
                    aud,
                    aud_lic,
                    meta,
                    km_inst,
                    km_codes,
                    ob,
                    ob_keys,
                    ob_pend,
                )| {
                    if base.revocation_changed {
                        bump_revocation_sequence(meta)?;
                    }
                    for (id, record, token_key, instance, token) in &licenses {
                        lic.insert(id.as_bytes(), record.as_slice())?;
                        tok.insert(token_key.as_slice(), token.as_bytes())?;
                        if let Some(instance) = instance {
                            inst.insert(instance.as_bytes(), id.as_bytes())?;
                        }
                    }
                    for (key, value) in &base.idempotency {
                        idem.insert(key.as_bytes(), value.as_slice())?;
                    }
                    for (id, event, license) in &audit {
                        aud.insert(&id.to_be_bytes(), event.as_slice())?;
                        if let Some(license) = license {
                            let mut key = format!("{license}/").into_bytes();
                            key.extend_from_slice(&id.to_be_bytes());
                            aud_lic.insert(key, &[])?;
                        }
                    }
                    for (id, record) in &instances {
                        km_inst.insert(id.as_bytes(), record.as_slice())?;
                    }
                    for (code, record) in &codes {
                        km_codes.insert(code.as_bytes(), record.as_slice())?;
                    }
                    put_jobs(&jobs, ob, ob_keys, ob_pend)
                },
            )
            .map_err(tx_error)?;
        drop(gate);
        self.sync()
    }
}

fn nonce_live(stored: &[u8], now_ms: i64, window_ms: u64) -> bool {
    <[u8; 8]>::try_from(stored)
        .map(i64::from_be_bytes)
        .is_ok_and(|ts| ts.abs_diff(now_ms) <= window_ms)
}

fn bump_revocation_sequence(meta: &Tx) -> TxResult {
    let seq = meta
        .get(REVOCATION_SEQUENCE)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    meta.insert(REVOCATION_SEQUENCE, &(seq + 1).to_be_bytes())?;
    Ok(())
}

fn put_jobs(jobs: &[(u64, String, bool, Vec<u8>)], ob: &Tx, keys: &Tx, pending: &Tx) -> TxResult {
    for (id, key, is_pending, record) in jobs {
        let id = id.to_be_bytes();
        ob.insert(&id, record.as_slice())?;
        keys.insert(key.as_bytes(), &id)?;
        if *is_pending {
            pending.insert(&id, &[])?;
        } else {
            pending.remove(&id)?;
        }
    }
    Ok(())
}
