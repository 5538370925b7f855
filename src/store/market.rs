//! Reads of the marketplace records: online instances, authorization codes (activated and
//! pending), the outbox, the rejected calls, and the scheme B nonce cache, each in its own
//! tree. Every change goes through the one write path (`WriteBatch`), so an answer never
//! acknowledges a license without its instance, code or upload job, nor the reverse.
//!
//! The one exception is the nonce cache: its compare-and-swap IS the replay check and is not
//! synced on its own (see `koomarket::nonces` for why that is safe).

use super::kv::{self, Tree};

use super::market_records::{
    CodeRecord, JobState, OnlineInstance, OutboxJob, PendingCode, RejectedCall,
};
use super::{decode, Result, Store};

const INSTANCES: &str = "km2-instances";
const CODES: &str = "km2-codes";
const PENDING_CODES: &str = "km2-pending-codes";
const OUTBOX: &str = "km2-outbox";
const OUTBOX_KEYS: &str = "km2-outbox-keys";
const OUTBOX_PENDING: &str = "km2-outbox-pending";
const NONCES: &str = "km2-nonces";
const REJECTED_CALLS: &str = "km-rejected-calls";

/// The trees of this module (opened with the store).
#[derive(Clone)]
pub(crate) struct MarketTrees {
    pub(super) instances: Tree,
    pub(super) codes: Tree,
    pub(super) pending_codes: Tree,
    pub(super) outbox: Tree,
    pub(super) outbox_keys: Tree,
    pub(super) outbox_pending: Tree,
    nonces: Tree,
    pub(super) rejected_calls: Tree,
}

impl MarketTrees {
    /// Opens (or creates) the trees.
    pub(crate) fn open(db: &kv::Db) -> kv::Result<MarketTrees> {
        Ok(MarketTrees {
            instances: db.open_tree(INSTANCES)?,
            codes: db.open_tree(CODES)?,
            pending_codes: db.open_tree(PENDING_CODES)?,
            rejected_calls: db.open_tree(REJECTED_CALLS)?,
            outbox: db.open_tree(OUTBOX)?,
            outbox_keys: db.open_tree(OUTBOX_KEYS)?,
            outbox_pending: db.open_tree(OUTBOX_PENDING)?,
            nonces: db.open_tree(NONCES)?,
        })
    }
}

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

    /// What callbacks said about a code not activated yet.
    pub(crate) fn pending_code(&self, code: &str) -> Result<Option<PendingCode>> {
        self.market
            .pending_codes
            .get(code.as_bytes())?
            .map(|v| decode(PENDING_CODES, &v))
            .transpose()
    }

    /// Rejected calls with an id above `after`, oldest first, at most `limit`.
    pub(crate) fn rejected_calls(&self, after: u64, limit: usize) -> Result<Vec<RejectedCall>> {
        let start = after.saturating_add(1).to_be_bytes();
        self.market
            .rejected_calls
            .range(start..)
            .values()
            .take(limit)
            .map(|v| decode(REJECTED_CALLS, &v?))
            .collect()
    }

    /// The ids of the oldest rejected calls answered before `before`, at most `max` (ids grow
    /// with time: the scan stops at the first call answered at or after `before`).
    pub(crate) fn rejected_calls_before(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        max: usize,
    ) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        for value in self.market.rejected_calls.iter().values().take(max) {
            let call: RejectedCall = decode(REJECTED_CALLS, &value?)?;
            if call.at >= before {
                break;
            }
            ids.push(call.id);
        }
        Ok(ids)
    }

    /// The rejected calls answered at or after `since`, newest first, at most `max`; the flag
    /// says whether `max` cut the list short. Ids grow with time, so the scan walks back from
    /// the newest and stops at the first call older than `since`.
    pub(crate) fn rejected_calls_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        max: usize,
    ) -> Result<(Vec<RejectedCall>, bool)> {
        let mut calls = Vec::new();
        for value in self.market.rejected_calls.iter().rev().values() {
            let call: RejectedCall = decode(REJECTED_CALLS, &value?)?;
            if call.at < since {
                return Ok((calls, false));
            }
            if calls.len() == max {
                return Ok((calls, true));
            }
            calls.push(call);
        }
        Ok((calls, false))
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
        // Shifted since before ids were kept above 0 on every backend (`kv::Db::generate_id`):
        // kept, so that no id given then is given again.
        Ok(self.db.generate_id()? + 1)
    }

    /// Claims pending job `id` for this instance's worker for `lease` (see `kv::Db::claim_job`):
    /// `false` while another instance is sending it.
    pub(crate) fn claim_job(&self, id: u64, lease: std::time::Duration) -> Result<bool> {
        Ok(self.db.claim_job(&id.to_be_bytes(), lease)?)
    }

    /// Gives up the claim of job `id` (its attempt is recorded).
    pub(crate) fn release_job(&self, id: u64) -> Result<()> {
        Ok(self.db.release_job(&id.to_be_bytes())?)
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

    /// The pending job with the lowest id: the oldest (ids are taken when a job is created), read
    /// from the pending index.
    pub(crate) fn oldest_pending_job(&self) -> Result<Option<OutboxJob>> {
        match self.market.outbox_pending.first()? {
            Some((id, _)) => match <[u8; 8]>::try_from(id.as_ref()) {
                Ok(id) => self.outbox_job(u64::from_be_bytes(id)),
                Err(_) => Ok(None),
            },
            None => Ok(None),
        }
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
}

fn nonce_live(stored: &[u8], now_ms: i64, window_ms: u64) -> bool {
    <[u8; 8]>::try_from(stored)
        .map(i64::from_be_bytes)
        .is_ok_and(|ts| ts.abs_diff(now_ms) <= window_ms)
}
