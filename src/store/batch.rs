//! The one durable write path: every change, of any record, is a [`WriteBatch`] handed to
//! [`Store::write`], applied atomically together with the batches of concurrent writers in one
//! sled transaction, then made durable by one group commit before any of them returns.
//!
//! In sled 0.34 every transaction takes a process-wide write lock, which waits for any
//! `Db::flush` in progress (the flush holds the read side while the log goes out), blocks every
//! other read and write meanwhile, and writes the log out twice itself; one transaction per batch
//! queued all writers behind each group commit. Instead the first writer to find no group running
//! applies everything queued (at most [`MAX_GROUP`] batches), its own included, in one
//! transaction, syncs once for the whole group and hands the outcome to the others (see
//! `combine`); the next group forms meanwhile. Each batch stays atomic (the group is), and the
//! sync starts only after the group's transaction committed, so nothing returns `Ok` before it is
//! on disk.

use std::sync::atomic::Ordering;

use super::commit::CommitError;
use super::counters::{Counted, Deltas};
use super::encoding::{decode_license, encode_audit, encode_license};
use super::index::{audit_postings, license_postings};
use super::kv::{self, TxError, Txn};
use super::market_records::{
    CodeRecord, JobState, OnlineInstance, OutboxJob, PendingCode, RejectedCall,
};
use super::records::{AuditEvent, KeyRecord, LicenseRecord, TokenRecord};
use super::seats::{held_key, DeactivationRecord, LeaseRecord};
use super::{json, Result, Store, StoreError, ACTIVE_KID, REVOCATION_SEQUENCE};

/// Most batches one transaction applies (a getLicense batch is about 1 KB, so a group stays well
/// inside one 512 KiB sled segment).
const MAX_GROUP: usize = 128;

/// Everything one logical change writes, applied atomically.
#[derive(Debug, Default)]
pub(crate) struct WriteBatch {
    /// Licenses to put; each also keeps its previous token in the history (when the revision
    /// moved), its instance index and its postings (`index`).
    pub(crate) licenses: Vec<LicenseRecord>,
    /// Idempotency entries (key, value) to put.
    pub(crate) idempotency: Vec<(String, Vec<u8>)>,
    /// Audit events to append (their `id` is assigned here).
    pub(crate) audit: Vec<AuditEvent>,
    /// The change alters what the revocation list says: advance its sequence.
    pub(crate) revocation_changed: bool,
    /// Online instances to put.
    pub(crate) instances: Vec<OnlineInstance>,
    /// Authorization codes to put.
    pub(crate) codes: Vec<CodeRecord>,
    /// Callbacks about codes not activated yet, to put.
    pub(crate) pending_codes: Vec<PendingCode>,
    /// Pending records of codes to remove (the activation applied them).
    pub(crate) pending_codes_done: Vec<String>,
    /// Outbox jobs to put (new or updated); the key index and the pending index follow.
    pub(crate) jobs: Vec<OutboxJob>,
    /// Rejected marketplace calls to append (their `id` is assigned here).
    pub(crate) rejected_calls: Vec<RejectedCall>,
    /// Ids of rejected calls to remove (past their retention).
    pub(crate) rejected_calls_removed: Vec<u64>,
    /// API tokens to put.
    pub(crate) api_tokens: Vec<TokenRecord>,
    /// Signing keys to put.
    pub(crate) signing_keys: Vec<KeyRecord>,
    /// The kid to record as the active signing key.
    pub(crate) active_kid: Option<String>,
    /// Leases to put; a returned one leaves the index of leases held.
    pub(crate) leases: Vec<LeaseRecord>,
    /// Lapsed leases to drop from the index of leases held: (license id, lease id).
    pub(crate) leases_lapsed: Vec<(String, String)>,
    /// Freed seats to record.
    pub(crate) deactivations: Vec<DeactivationRecord>,
}

/// A batch encoded for the transaction, as (tree, key, value) puts in order; `None` removes.
#[derive(Default)]
pub(super) struct Prepared {
    pub(super) puts: Vec<(Tree, Vec<u8>, Option<Vec<u8>>)>,
    /// License records, applied before `puts` (they read the record they replace).
    pub(super) licenses: Vec<LicenseWrite>,
    /// New audit events (key, value): their ids were just generated, so nothing is there to
    /// read, and they are counted from `event_counts`, not by decoding what was written.
    pub(super) events: Vec<(Vec<u8>, Vec<u8>)>,
    /// What `events` add to the counters.
    pub(super) event_counts: Deltas,
    /// Advance the revocation sequence for this writer.
    pub(super) revocation_changed: bool,
}

/// One license record to put, encoded, with its postings.
pub(super) struct LicenseWrite {
    id: Vec<u8>,
    value: Vec<u8>,
    revision: u32,
    postings: Vec<(Vec<u8>, Vec<u8>)>,
    /// What the counters count of it.
    counted: Counted,
    /// Write every posting, whatever the replaced record had (the migration: schema 1 had none).
    pub(super) fresh_index: bool,
}

impl LicenseWrite {
    pub(super) fn new(record: &LicenseRecord) -> LicenseWrite {
        LicenseWrite {
            id: record.license_id.clone().into_bytes(),
            value: encode_license(record),
            revision: record.revision,
            postings: license_postings(record),
            counted: Counted::of(record),
            fresh_index: false,
        }
    }
}

/// The key of a superseded token in the token history.
pub(super) fn token_key(license_id: &str, revision: u32) -> Vec<u8> {
    let mut key = format!("{license_id}/").into_bytes();
    key.extend_from_slice(&revision.to_be_bytes());
    key
}

/// The trees a batch writes, by position in [`Store::write_trees`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tree {
    Meta,
    Licenses,
    Tokens,
    Instances,
    Idempotency,
    Audit,
    Index,
    SigningKeys,
    ApiTokens,
    OnlineInstances,
    Codes,
    PendingCodes,
    Outbox,
    OutboxKeys,
    OutboxPending,
    RejectedCalls,
    Leases,
    LeasesHeld,
    Deactivations,
}

/// Why a group's write failed; every writer of the group gets it.
#[derive(Clone, Debug)]
pub(super) enum GroupFailure {
    Backend(kv::Error),
    Aborted,
    Panicked,
    Commit(CommitError),
    Failed(String),
}

impl From<GroupFailure> for StoreError {
    fn from(failure: GroupFailure) -> Self {
        let corrupt = |message: &str| StoreError::Corrupt {
            tree: "transaction",
            message: message.into(),
        };
        match failure {
            GroupFailure::Backend(e) => StoreError::Backend(e),
            GroupFailure::Aborted => corrupt("aborted"),
            GroupFailure::Panicked => corrupt("panicked"),
            GroupFailure::Commit(e) => StoreError::Commit(e),
            GroupFailure::Failed(reason) => StoreError::Failed(reason),
        }
    }
}

fn id_key(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

impl Store {
    /// Applies a batch atomically and returns once it is on disk, with the audit events as
    /// written (ids assigned).
    ///
    /// Any failure on the way (sled, the transaction, the sync) fails the store for good; see
    /// `store::failure`.
    pub(crate) fn write(&self, batch: WriteBatch) -> Result<Vec<AuditEvent>> {
        self.refuse_if_failed()?;
        self.write_unchecked(batch).inspect_err(|e| self.fail_on(e))
    }

    fn write_unchecked(&self, mut batch: WriteBatch) -> Result<Vec<AuditEvent>> {
        for event in &mut batch.audit {
            event.id = self.db.generate_id()?;
        }
        for call in &mut batch.rejected_calls {
            // Shifted since before ids were kept above 0 on every backend (`kv::Db::generate_id`):
            // kept, so that no id given then is given again.
            call.id = self.db.generate_id()? + 1;
        }
        let mut puts = Vec::new();
        let mut put =
            |tree: Tree, key: Vec<u8>, value: Vec<u8>| puts.push((tree, key, Some(value)));
        let licenses = batch.licenses.iter().map(LicenseWrite::new).collect();
        // An instance named after its license needs no entry (`Store::license_by_instance`).
        for l in &batch.licenses {
            if let Some(instance) = l.instance_id.as_ref().filter(|i| **i != l.license_id) {
                put(
                    Tree::Instances,
                    instance.clone().into_bytes(),
                    l.license_id.clone().into_bytes(),
                );
            }
        }
        for (key, value) in std::mem::take(&mut batch.idempotency) {
            put(Tree::Idempotency, key.into_bytes(), value);
        }
        let mut events = Vec::with_capacity(batch.audit.len());
        let mut event_counts = Deltas::default();
        for e in &batch.audit {
            events.push((id_key(e.id), encode_audit(e)));
            event_counts.event(e);
            for key in audit_postings(e) {
                put(Tree::Index, key, Vec::new());
            }
        }
        for i in &batch.instances {
            put(
                Tree::OnlineInstances,
                i.instance_id.clone().into_bytes(),
                json(i),
            );
        }
        for c in &batch.codes {
            put(Tree::Codes, c.code.clone().into_bytes(), json(c));
        }
        for p in &batch.pending_codes {
            put(Tree::PendingCodes, p.code.clone().into_bytes(), json(p));
        }
        for j in &batch.jobs {
            put(Tree::Outbox, id_key(j.id), json(j));
            put(Tree::OutboxKeys, j.key.clone().into_bytes(), id_key(j.id));
        }
        for c in &batch.rejected_calls {
            put(Tree::RejectedCalls, id_key(c.id), json(c));
        }

        for t in &batch.api_tokens {
            put(Tree::ApiTokens, t.id.clone().into_bytes(), json(t));
        }
        for k in &batch.signing_keys {
            put(Tree::SigningKeys, k.kid.clone().into_bytes(), json(k));
        }
        for l in &batch.leases {
            put(Tree::Leases, l.lease_id.clone().into_bytes(), json(l));
        }
        for d in &batch.deactivations {
            put(Tree::Deactivations, d.key(), json(d));
        }
        if let Some(kid) = &batch.active_kid {
            put(Tree::Meta, ACTIVE_KID.to_vec(), kid.clone().into_bytes());
        }
        for j in &batch.jobs {
            let pending = (j.state == JobState::Pending).then(Vec::new);
            puts.push((Tree::OutboxPending, id_key(j.id), pending));
        }
        for l in &batch.leases {
            let held = l.returned_at.is_none().then(Vec::new);
            puts.push((Tree::LeasesHeld, held_key(&l.license_id, &l.lease_id), held));
        }
        for (license, lease) in &batch.leases_lapsed {
            puts.push((Tree::LeasesHeld, held_key(license, lease), None));
        }
        for id in &batch.rejected_calls_removed {
            puts.push((Tree::RejectedCalls, id_key(*id), None));
        }
        for code in &batch.pending_codes_done {
            puts.push((Tree::PendingCodes, code.clone().into_bytes(), None));
        }
        let prepared = Prepared {
            puts,
            licenses,
            events,
            event_counts,
            revocation_changed: batch.revocation_changed,
        };
        let outcome = self.combiner.submit(
            prepared,
            |batches| {
                self.metrics.group_size.observe(batches.len() as f64);
                // Counted before the transaction: its effects are readable from then on.
                let mark = self.applied.fetch_add(1, Ordering::SeqCst) + 1;
                if let Err(reason) = self.refuse_if_failed() {
                    return Err(GroupFailure::Failed(reason.to_string()));
                }
                let started = std::time::Instant::now();
                self.apply(batches)?;
                if self.commit.is_none() {
                    // PostgreSQL: the transaction's commit is the durable step.
                    self.metrics
                        .flush_seconds
                        .observe(started.elapsed().as_secs_f64());
                }
                self.durable().map_err(GroupFailure::Commit)?;
                self.synced.fetch_max(mark, Ordering::SeqCst);
                Ok(())
            },
            || GroupFailure::Panicked,
        );
        outcome.map_err(StoreError::from)?;
        Ok(batch.audit)
    }

    /// One transaction over every tree for `batches`.
    pub(super) fn apply(&self, batches: &[Prepared]) -> std::result::Result<(), GroupFailure> {
        // A backup snapshot waits for this transaction, and this one for a running snapshot.
        let _gate = self.gate.read();
        let trees = self.write_trees();
        let run = |txn: &mut dyn Txn| -> std::result::Result<(), TxError> {
            let revocation_changes = batches.iter().filter(|b| b.revocation_changed).count();
            if revocation_changes > 0 {
                let seq = txn
                    .get(Tree::Meta as usize, REVOCATION_SEQUENCE)?
                    .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                    .map_or(0, u64::from_be_bytes);
                let next = seq.saturating_add(revocation_changes as u64);
                txn.put(
                    Tree::Meta as usize,
                    REVOCATION_SEQUENCE,
                    &next.to_be_bytes(),
                )?;
            }
            let ids: Vec<&[u8]> = batches
                .iter()
                .flat_map(|b| b.licenses.iter().map(|l| l.id.as_slice()))
                .collect();
            txn.prefetch(Tree::Licenses as usize, &ids)?;
            for tree in [Tree::Audit, Tree::Outbox] {
                let keys: Vec<&[u8]> = batches
                    .iter()
                    .flat_map(|b| b.puts.iter())
                    .filter(|(t, ..)| *t == tree)
                    .map(|(_, key, _)| key.as_slice())
                    .collect();
                txn.prefetch(tree as usize, &keys)?;
            }
            let mut counts = Deltas::default();
            for batch in batches {
                for license in &batch.licenses {
                    put_license(license, txn, &mut counts)?;
                }
                for (key, value) in &batch.events {
                    txn.put(Tree::Audit as usize, key, value)?;
                }
                counts.absorb(&batch.event_counts);
                for (t, key, value) in &batch.puts {
                    put_counted(txn, &mut counts, *t, key, value.as_deref())?;
                }
            }
            counts.write(txn)
        };
        self.db.transaction(&trees, &run).map_err(|e| match e {
            TxError::Backend(e) => GroupFailure::Backend(e),
            TxError::Abort(reason) => {
                tracing::error!(%reason, "a write transaction gave up");
                GroupFailure::Aborted
            }
            TxError::Sled(_) => GroupFailure::Aborted,
        })
    }
}

/// Puts a license record and keeps what depends on the record it replaces: the postings that
/// changed, the counters and, when the revision moved, the replaced token in the history.
fn put_license(
    l: &LicenseWrite,
    txn: &mut dyn Txn,
    counts: &mut Deltas,
) -> std::result::Result<(), TxError> {
    let old = match txn.replace(Tree::Licenses as usize, &l.id, &l.value)? {
        Some(bytes) => Some(decode_license(&bytes).map_err(|e| {
            tracing::error!(error = %e, "cannot read the license a write replaces");
            TxError::Abort(e.to_string())
        })?),
        None => None,
    };
    if let Some(old) = &old {
        counts.license(Counted::of(old), -1);
    }
    counts.license(l.counted, 1);
    let index = Tree::Index as usize;
    let old_postings = match &old {
        Some(old) if !l.fresh_index => license_postings(old),
        _ => Vec::new(),
    };
    for (gone, _) in &old_postings {
        if !l.postings.iter().any(|(key, _)| key == gone) {
            txn.remove(index, gone)?;
        }
    }
    for (key, value) in l.postings.iter().filter(|p| !old_postings.contains(p)) {
        txn.put(index, key, value)?;
    }
    if let Some(old) = old.filter(|old| old.revision != l.revision) {
        let key = token_key(&old.license_id, old.revision);
        txn.put(Tree::Tokens as usize, &key, old.token.as_bytes())?;
    }
    Ok(())
}

/// Puts (or, without `value`, removes) one entry; an entry of a counted tree (new audit events,
/// outbox jobs) also moves the counters, from the value it replaces.
fn put_counted(
    txn: &mut dyn Txn,
    counts: &mut Deltas,
    tree: Tree,
    key: &[u8],
    value: Option<&[u8]>,
) -> std::result::Result<(), TxError> {
    let t = tree as usize;
    if !Deltas::counts(tree) {
        return match value {
            Some(value) => txn.put(t, key, value),
            None => txn.remove(t, key),
        };
    }
    let old = match value {
        Some(value) => txn.replace(t, key, value)?,
        None => {
            let old = txn.get(t, key)?;
            txn.remove(t, key)?;
            old
        }
    };
    match counts.put(tree, old.as_deref(), value) {
        true => Ok(()),
        false => Err(TxError::Abort(format!(
            "cannot read the record a write to {tree:?} replaces"
        ))),
    }
}

pub(super) fn new_combiner() -> super::combine::Combiner<Prepared, GroupFailure> {
    super::combine::Combiner::new(MAX_GROUP)
}

pub(super) type WriteCombiner = super::combine::Combiner<Prepared, GroupFailure>;
