//! Counters kept by the write path, so that no request and no periodic job counts by walking the
//! licenses, the audit log or the outbox: licenses by status, licenses issued and marketplace
//! calls recorded per UTC day (each split by marketplace test traffic), and outbox jobs by
//! state.
//!
//! They live in `meta` under `count/` (an unsigned 64-bit big-endian value per key) and change
//! in the transaction that writes what they count (`batch::apply`): a license put is counted
//! from the record it replaces to the new one (so a replay that rewrites nothing moves nothing,
//! and a release moves one license from its status to `released`), an audit event when its key
//! is new, an outbox job from its previous state. Each group transaction adds up its deltas and
//! reads and writes each counter it touches once. A database older than the counters gets them
//! from one recount at its migration ([`Store::recount`]), which sets every counter to what the
//! records say, so running it again changes nothing.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::batch::{Prepared, Tree};
use super::encoding::{decode_audit, decode_license};
use super::kv::{TxError, Txn};
use super::market_records::JobState;
use super::records::{AuditEvent, LicenseRecord, LicenseStatus};
use super::{Result, Store};

/// Prefix of every counter key in `meta`.
const PREFIX: &[u8] = b"count/";
/// Audit actor of the KooMarket calls the per-day counter counts.
const MARKETPLACE_ACTOR: &str = "koomarket";
/// Every status, in the order the counters report them.
const STATUSES: [LicenseStatus; 5] = [
    LicenseStatus::Active,
    LicenseStatus::Frozen,
    LicenseStatus::Suspended,
    LicenseStatus::Revoked,
    LicenseStatus::Released,
];
/// Every job state.
const JOB_STATES: [JobState; 3] = [JobState::Pending, JobState::Done, JobState::Failed];

/// What a counter counts.
#[derive(Clone, Copy)]
enum Kind {
    /// Licenses by status and test flag.
    Licenses,
    /// Licenses created on a day, by test flag.
    Issued,
    /// Marketplace calls recorded in the audit log on a day, by test flag.
    Events,
    /// Outbox jobs by state.
    Jobs,
    /// Pending outbox jobs whose last attempt failed.
    Retrying,
}

impl Kind {
    fn key(self, rest: &[u8]) -> Vec<u8> {
        let byte = match self {
            Kind::Licenses => b's',
            Kind::Issued => b'i',
            Kind::Events => b'e',
            Kind::Jobs => b'j',
            Kind::Retrying => b'r',
        };
        [PREFIX, &[byte], rest].concat()
    }
}

fn day_key(kind: Kind, day: NaiveDate, test: bool) -> Vec<u8> {
    // Days from the common era are positive for every date a record can carry.
    let days = u32::try_from(day.num_days_from_ce()).unwrap_or(0);
    kind.key(&[&days.to_be_bytes()[..], &[u8::from(test)]].concat())
}

fn status_key(status: LicenseStatus, test: bool) -> Vec<u8> {
    Kind::Licenses.key(&[super::index::status_byte(status), u8::from(test)])
}

fn job_byte(state: JobState) -> u8 {
    match state {
        JobState::Pending => 0,
        JobState::Done => 1,
        JobState::Failed => 2,
    }
}

/// What the job counters read of a stored job (JSON; other fields are ignored).
#[derive(Deserialize)]
struct JobCounted {
    state: JobState,
    last_error: Option<String>,
}

/// What the license counters read of a license.
#[derive(Clone, Copy, Debug)]
pub(super) struct Counted {
    status: LicenseStatus,
    test: bool,
    created: NaiveDate,
}

impl Counted {
    pub(super) fn of(r: &LicenseRecord) -> Counted {
        Counted {
            status: r.status,
            test: r.test,
            created: r.created_at.date_naive(),
        }
    }
}

/// Changes to the counters, added up over a group before they are written.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Deltas(BTreeMap<Vec<u8>, i64>);

impl Deltas {
    fn add(&mut self, key: Vec<u8>, delta: i64) {
        *self.0.entry(key).or_default() += delta;
    }

    /// Counts a license in (`sign` 1) or out (-1).
    pub(super) fn license(&mut self, c: Counted, sign: i64) {
        self.add(status_key(c.status, c.test), sign);
        self.add(day_key(Kind::Issued, c.created, c.test), sign);
    }

    /// Adds `other`'s changes to these.
    pub(super) fn absorb(&mut self, other: &Deltas) {
        for (key, delta) in &other.0 {
            self.add(key.clone(), *delta);
        }
    }

    /// Counts a new audit event.
    pub(super) fn event(&mut self, e: &AuditEvent) {
        if e.actor == MARKETPLACE_ACTOR {
            self.add(day_key(Kind::Events, e.at.date_naive(), e.test), 1);
        }
    }

    fn job(&mut self, job: &JobCounted, sign: i64) {
        self.add(Kind::Jobs.key(&[job_byte(job.state)]), sign);
        if job.state == JobState::Pending && job.last_error.is_some() {
            self.add(Kind::Retrying.key(&[]), sign);
        }
    }

    /// Counts a put of the write path (`old` the value it replaced, `new` none for a removal):
    /// new audit events and outbox job changes. Licenses are counted by `batch::put_license`,
    /// which decodes the record it replaces anyway.
    pub(super) fn put(&mut self, tree: Tree, old: Option<&[u8]>, new: Option<&[u8]>) -> bool {
        match tree {
            Tree::Audit if old.is_none() => match new.map(decode_audit).transpose() {
                Ok(event) => {
                    if let Some(event) = event {
                        self.event(&event);
                    }
                    true
                }
                Err(_) => false,
            },
            Tree::Outbox => {
                let read = |bytes: Option<&[u8]>| {
                    bytes
                        .map(serde_json::from_slice::<JobCounted>)
                        .transpose()
                        .ok()
                };
                let (Some(old), Some(new)) = (read(old), read(new)) else {
                    return false;
                };
                for (job, sign) in [(old, -1), (new, 1)] {
                    if let Some(job) = job {
                        self.job(&job, sign);
                    }
                }
                true
            }
            _ => true,
        }
    }

    /// Whether [`Deltas::put`] counts writes to `tree` (it needs the value each replaces).
    pub(super) fn counts(tree: Tree) -> bool {
        matches!(tree, Tree::Audit | Tree::Outbox)
    }

    /// Adds the deltas to the stored counters, in the group's transaction.
    pub(super) fn write(&self, txn: &mut dyn Txn) -> std::result::Result<(), TxError> {
        let meta = Tree::Meta as usize;
        let changed: Vec<(&Vec<u8>, i64)> = self
            .0
            .iter()
            .filter(|(_, d)| **d != 0)
            .map(|(k, d)| (k, *d))
            .collect();
        let keys: Vec<&[u8]> = changed.iter().map(|(k, _)| k.as_slice()).collect();
        txn.prefetch(meta, &keys)?;
        for (key, delta) in changed {
            let stored = txn.get(meta, key)?.map_or(0, |v| read_count(&v));
            let value = stored.saturating_add_signed(delta);
            txn.put(meta, key, &value.to_be_bytes())?;
        }
        Ok(())
    }

    /// The deltas as absolute values (a recount, which starts from zero).
    fn totals(&self) -> impl Iterator<Item = (&Vec<u8>, u64)> {
        self.0
            .iter()
            .filter(|(_, d)| **d > 0)
            .map(|(k, d)| (k, d.unsigned_abs()))
    }
}

fn read_count(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes).map_or(0, u64::from_be_bytes)
}

/// One UTC day's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DayCounts {
    /// Licenses created that day.
    pub(crate) licenses_issued: u64,
    /// Marketplace calls recorded in the audit log that day.
    pub(crate) marketplace_events: u64,
}

impl Store {
    fn count(&self, key: &[u8]) -> Result<u64> {
        Ok(self.meta.get(key)?.map_or(0, |v| read_count(&v)))
    }

    /// Licenses per status (every status, zero included), with marketplace test traffic when
    /// `include_test`.
    pub(crate) fn licenses_by_status(
        &self,
        include_test: bool,
    ) -> Result<BTreeMap<&'static str, u64>> {
        let mut counts = BTreeMap::new();
        for status in STATUSES {
            let mut n = self.count(&status_key(status, false))?;
            if include_test {
                n += self.count(&status_key(status, true))?;
            }
            counts.insert(status.as_str(), n);
        }
        Ok(counts)
    }

    /// Per UTC day from `first` to `last`, both included: licenses issued and marketplace
    /// calls recorded, with test traffic when `include_test`. Reads at most four counters a day.
    pub(crate) fn daily_counts(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        include_test: bool,
    ) -> Result<BTreeMap<NaiveDate, DayCounts>> {
        let mut days: BTreeMap<NaiveDate, DayCounts> = first
            .iter_days()
            .take_while(|d| *d <= last)
            .map(|d| (d, DayCounts::default()))
            .collect();
        for kind in [Kind::Issued, Kind::Events] {
            let range = day_key(kind, first, false)..=day_key(kind, last, true);
            for entry in self.meta.range(range) {
                let (key, value) = entry?;
                let Some((day, test)) = parse_day(&key) else {
                    continue;
                };
                let (Some(counts), true) = (days.get_mut(&day), include_test || !test) else {
                    continue;
                };
                match kind {
                    Kind::Issued => counts.licenses_issued += read_count(&value),
                    _ => counts.marketplace_events += read_count(&value),
                }
            }
        }
        Ok(days)
    }

    /// Outbox jobs per state (every state, zero included) and the pending ones whose last
    /// attempt failed.
    pub(crate) fn jobs_by_state(&self) -> Result<(BTreeMap<&'static str, u64>, u64)> {
        let mut counts = BTreeMap::new();
        for state in JOB_STATES {
            counts.insert(
                state.as_str(),
                self.count(&Kind::Jobs.key(&[job_byte(state)]))?,
            );
        }
        Ok((counts, self.count(&Kind::Retrying.key(&[]))?))
    }

    /// Sets every counter to what the records say: walks the licenses, the audit log and the
    /// outbox once (the migration, and tools that rewrite records in place; never a request).
    /// Only for a store nothing else writes meanwhile: it reads outside the transaction that
    /// sets the counters.
    /// Also drops the postings a released license no longer keeps (`index::license_postings`),
    /// which databases written before that rule still hold.
    pub(crate) fn recount(&self) -> Result<()> {
        let mut counts = Deltas::default();
        self.in_chunks(&self.licenses, |_, value, prepared| {
            let record = decode_license(value)?;
            counts.license(Counted::of(&record), 1);
            for key in super::index::pruned_postings(&record) {
                prepared.puts.push((Tree::Index, key, None));
            }
            Ok(())
        })?;
        for value in self.audit.iter().values() {
            counts.event(&decode_audit(&value?)?);
        }
        for value in self.market.outbox.iter().values() {
            let value = value?;
            if !counts.put(Tree::Outbox, None, Some(&value)) {
                return Err(super::StoreError::Corrupt {
                    tree: "km2-outbox",
                    message: "unreadable job".into(),
                });
            }
        }
        let mut prepared = Prepared::default();
        for key in self.meta.scan_prefix(PREFIX).keys() {
            prepared.puts.push((Tree::Meta, key?.to_vec(), None));
        }
        for (key, value) in counts.totals() {
            prepared
                .puts
                .push((Tree::Meta, key.clone(), Some(value.to_be_bytes().to_vec())));
        }
        self.apply(std::slice::from_ref(&prepared))
            .map_err(super::StoreError::from)
    }
}

fn parse_day(key: &[u8]) -> Option<(NaiveDate, bool)> {
    let rest = key.get(PREFIX.len() + 1..)?;
    let days = i32::try_from(u32::from_be_bytes(rest.get(..4)?.try_into().ok()?)).ok()?;
    Some((
        NaiveDate::from_num_days_from_ce_opt(days)?,
        *rest.get(4)? == 1,
    ))
}

#[cfg(test)]
mod tests;
