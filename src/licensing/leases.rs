//! Floating licenses: a product policy with `model = "floating"` turns the license's quantity
//! into concurrent seats. A machine checks out a short-lived signed lease bound to it, renews it
//! by heartbeats and returns it; a lease nobody renews lapses and its seat comes back. A lease
//! may be borrowed for offline use up to the policy's limit.
//!
//! Proof: a checkout presents the floating license's current token; a heartbeat or return the
//! lease's current token (a retried heartbeat may present the one before it) and the machine
//! identifier it is bound to. Every operation on one license's leases holds its seat lock from
//! the first read until the write is durable, so N + 1 machines racing for N seats get N leases.

use chrono::{DateTime, Utc};
use koolicense_verify::{Lease, LicenseId, UnsignedLease};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::handle::event;
use super::machines::fingerprint_digest;
use super::policy::{BindingKind, LicenseModel, Policy};
use super::{binding_claim, claims, new_id, resolve_binding, Licensing, LicensingError};
use crate::store::keys::LockKey;
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus};
use crate::store::seats::LeaseRecord;
use crate::store::WriteBatch;

/// Audit actor of lease calls.
const ACTOR: &str = "lease";
/// Longest machine identifier accepted.
const MAX_MACHINE_LEN: usize = 5 * 1024;

/// A lease handed to the software.
#[derive(Debug, Clone)]
pub(crate) struct LeaseAnswer {
    pub(crate) lease: String,
    pub(crate) lease_id: String,
    pub(crate) license_id: String,
    pub(crate) expires_at: DateTime<Utc>,
    /// When to send the next heartbeat (`None` for a borrowed lease).
    pub(crate) heartbeat_at: Option<DateTime<Utc>>,
    pub(crate) borrowed: bool,
}

impl LeaseAnswer {
    fn of(lease: &LeaseRecord, ttl_secs: u64) -> LeaseAnswer {
        let half = chrono::Duration::seconds(i64::try_from(ttl_secs / 2).unwrap_or(450));
        LeaseAnswer {
            lease: lease.token.clone(),
            lease_id: lease.lease_id.clone(),
            license_id: lease.license_id.clone(),
            expires_at: lease.expires_at,
            heartbeat_at: (!lease.borrowed).then(|| (lease.issued_at + half).min(lease.expires_at)),
            borrowed: lease.borrowed,
        }
    }
}

/// Whether two texts are equal, in constant time.
pub(super) fn same_secret(a: &str, b: &str) -> bool {
    a.trim().as_bytes().ct_eq(b.trim().as_bytes()).into()
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.trim().as_bytes()))
}

pub(super) fn validate_machine(machine: &str) -> Result<&str, LicensingError> {
    let machine = machine.trim();
    if machine.is_empty() || machine.len() > MAX_MACHINE_LEN {
        return Err(LicensingError::Invalid(
            "machine must be this machine's hardware or system identifier (1 byte to 5 KiB)".into(),
        ));
    }
    Ok(machine)
}

impl Licensing {
    /// The license a presented token is the current token of; anything else (an unknown, edited
    /// or superseded token) is refused.
    pub(super) fn license_of_token(&self, token: &str) -> Result<LicenseRecord, LicensingError> {
        let refused =
            || LicensingError::ProofRejected("not a current license of this service".into());
        let unverified = koolicense_verify::inspect(token).map_err(|_| refused())?;
        let record = self
            .store
            .license(&unverified.claims.license_id.to_string())?
            .ok_or_else(refused)?;
        if !same_secret(&record.token, token) {
            return Err(refused());
        }
        Ok(record)
    }

    fn floating_policy(&self, record: &LicenseRecord) -> Result<Policy, LicensingError> {
        let policy = self.policy(&record.product_id, record.sku_code.as_deref());
        if policy.model != LicenseModel::Floating {
            return Err(LicensingError::Invalid(
                "this product is not floating: its licenses are used where installed".into(),
            ));
        }
        Ok(policy.clone())
    }

    /// `POST /v1/leases`: a seat of the floating license for this machine, or the lease it
    /// already holds (a retry gets the same lease, byte for byte).
    pub(crate) fn check_out(
        &self,
        license_token: &str,
        machine: &str,
        borrow_secs: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<LeaseAnswer, LicensingError> {
        let machine = validate_machine(machine)?;
        let record = self.license_of_token(license_token)?;
        let policy = self.floating_policy(&record)?;
        if let Some(secs) = borrow_secs {
            if secs == 0 || secs > policy.max_borrow_secs {
                return Err(LicensingError::Invalid(format!(
                    "borrow_secs must be 1 to {} for this product",
                    policy.max_borrow_secs
                )));
            }
        }
        let _guard = self.lock(LockKey::Seats(&record.license_id));
        let record = self
            .store
            .license(&record.license_id)?
            .ok_or_else(|| LicensingError::NotFound(record.license_id.clone()))?;
        if record.status != LicenseStatus::Active {
            return Err(LicensingError::Conflict {
                action: "lease a seat of",
                status: record.status.as_str(),
            });
        }
        if record.expires_at.is_some_and(|e| e <= now) {
            return Err(LicensingError::Conflict {
                action: "lease a seat of",
                status: "expired",
            });
        }
        let digest = fingerprint_digest(Some(machine));
        let mut batch = WriteBatch::default();
        let mut held = 0u32;
        let mut next_free: Option<DateTime<Utc>> = None;
        for lease in self.store.leases_held(&record.license_id)? {
            if !lease.holds_seat(now) {
                drop_lapsed(&lease, now, &mut batch);
                continue;
            }
            if lease.machine_sha256 == digest {
                return Ok(LeaseAnswer::of(&lease, policy.lease_ttl_secs));
            }
            held = held.saturating_add(1);
            next_free = Some(next_free.map_or(lease.expires_at, |t| t.min(lease.expires_at)));
        }
        let seats = record.quantity.unwrap_or(1);
        if held >= seats {
            // Lapsed index entries are dropped by the next checkout that succeeds.
            return Err(LicensingError::QuantityExhausted(format!(
                "all {seats} seat(s) of this floating license are leased; one comes back when a \
                 lease is returned or lapses (the next lapses at {})",
                next_free.map_or_else(|| "?".into(), |t| t.to_rfc3339())
            )));
        }
        let mut lease_policy = policy.clone();
        if matches!(lease_policy.binding, BindingKind::None) {
            lease_policy.binding = BindingKind::Auto;
        }
        let binding = resolve_binding(Some(machine), &lease_policy)?;
        let ttl = borrow_secs.unwrap_or(policy.lease_ttl_secs);
        let mut lease = LeaseRecord {
            lease_id: new_id().to_string(),
            license_id: record.license_id.clone(),
            machine_sha256: digest,
            binding,
            revision: 0,
            borrowed: borrow_secs.is_some(),
            issued_at: now,
            expires_at: now,
            returned_at: None,
            token: String::new(),
            previous_token_sha256: None,
            created_at: now,
        };
        self.sign_lease(&mut lease, &record, ttl, now)?;
        let mut audit = event(now, ACTOR, "checkout", "leased");
        audit.license_id = Some(record.license_id.clone());
        audit.instance_id = record.instance_id.clone();
        audit.order_id = record.order_id.clone();
        audit.detail = Some(format!(
            "lease {} seat {} of {seats}{}",
            lease.lease_id,
            held + 1,
            if lease.borrowed { ", borrowed" } else { "" }
        ));
        batch.audit.push(audit);
        batch.leases.push(lease.clone());
        self.store.write(batch)?;
        Ok(LeaseAnswer::of(&lease, policy.lease_ttl_secs))
    }

    /// Signs the lease's next revision, valid from `now` for `ttl_secs` (never past the
    /// license's own expiry).
    fn sign_lease(
        &self,
        lease: &mut LeaseRecord,
        license: &LicenseRecord,
        ttl_secs: u64,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let ttl = chrono::Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2));
        let mut ends = now + ttl;
        if let Some(expiry) = license.expires_at {
            ends = ends.min(expiry);
        }
        let lease_id = LicenseId::parse(&lease.lease_id)
            .ok_or_else(|| LicensingError::Corrupt(format!("lease id {:?}", lease.lease_id)))?;
        let mut lease_claims = claims(license)?;
        lease.revision = lease.revision.saturating_add(1);
        lease_claims.revision = lease.revision;
        lease_claims.issued_at = unix(now);
        lease_claims.not_before = unix(now);
        lease_claims.expires_at = Some(unix(ends));
        lease_claims.binding = binding_claim(&lease.binding)?;
        let unsigned = UnsignedLease::new(
            &self.signer.kid(),
            &Lease {
                lease_id,
                borrowed: lease.borrowed,
                claims: lease_claims,
            },
        )?;
        lease.token = unsigned.finish(&self.signer.sign_raw(&unsigned.message()));
        lease.issued_at = now;
        lease.expires_at = ends;
        Ok(())
    }

    /// The lease `lease_id` under its seat lock, after checking the caller's proof: the lease's
    /// current token (or, with `previous_ok`, the one before the last heartbeat) and the machine
    /// it is bound to. Returns the lease and whether the previous token was presented.
    fn proven_lease(
        &self,
        lease_id: &str,
        lease_token: &str,
        machine: &str,
        previous_ok: bool,
    ) -> Result<(LeaseRecord, bool), LicensingError> {
        let refused = || {
            LicensingError::ProofRejected(
                "the lease and machine do not match a lease of this service".into(),
            )
        };
        let lease = self.store.lease(lease_id)?.ok_or_else(refused)?;
        let current = same_secret(&lease.token, lease_token);
        let previous = previous_ok
            && lease
                .previous_token_sha256
                .as_deref()
                .is_some_and(|p| same_secret(p, &sha256_hex(lease_token)));
        let machine_ok = same_secret(&lease.machine_sha256, &fingerprint_digest(Some(machine)));
        if !(current || previous) || !machine_ok {
            return Err(refused());
        }
        Ok((lease, previous && !current))
    }

    /// `POST /v1/leases/{id}/heartbeat`: renews the lease for another lease time. A retry with
    /// the token the first call replaced gets the same answer.
    pub(crate) fn heartbeat(
        &self,
        lease_id: &str,
        lease_token: &str,
        machine: &str,
        now: DateTime<Utc>,
    ) -> Result<LeaseAnswer, LicensingError> {
        let machine = validate_machine(machine)?;
        let license_id = self
            .store
            .lease(lease_id)?
            .map(|l| l.license_id)
            .unwrap_or_default();
        let _guard = self.lock(LockKey::Seats(&license_id));
        let (mut lease, retried) = self.proven_lease(lease_id, lease_token, machine, true)?;
        let license = self
            .store
            .license(&lease.license_id)?
            .ok_or_else(|| LicensingError::NotFound(lease.license_id.clone()))?;
        let policy = self.floating_policy(&license)?;
        if retried && lease.holds_seat(now) {
            return Ok(LeaseAnswer::of(&lease, policy.lease_ttl_secs));
        }
        let refuse = |status: &'static str| LicensingError::Conflict {
            action: "renew a lease that is",
            status,
        };
        if lease.returned_at.is_some() {
            return Err(refuse("returned"));
        }
        if !lease.holds_seat(now) {
            return Err(refuse("lapsed; check out a new lease"));
        }
        if lease.borrowed {
            return Err(refuse("borrowed; it ends on its own"));
        }
        if license.status != LicenseStatus::Active || license.expires_at.is_some_and(|e| e <= now) {
            return Err(LicensingError::Conflict {
                action: "renew a lease of",
                status: if license.status == LicenseStatus::Active {
                    "expired"
                } else {
                    license.status.as_str()
                },
            });
        }
        lease.previous_token_sha256 = Some(sha256_hex(&lease.token));
        let previous_beat = lease.issued_at;
        self.sign_lease(&mut lease, &license, policy.lease_ttl_secs, now)?;
        let mut batch = WriteBatch::default();
        let interval = self.rules.heartbeat_audit_interval;
        if first_beat_of_period(lease.created_at, previous_beat, now, interval) {
            batch
                .audit
                .push(lease_event(&lease, "heartbeat", "renewed", now));
        }
        batch.leases.push(lease.clone());
        self.store.write(batch)?;
        Ok(LeaseAnswer::of(&lease, policy.lease_ttl_secs))
    }

    /// `DELETE /v1/leases/{id}`: gives the seat back at once. Returning a returned or lapsed
    /// lease is not an error (a retry answers the same).
    pub(crate) fn return_lease(
        &self,
        lease_id: &str,
        lease_token: &str,
        machine: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, LicensingError> {
        let machine = validate_machine(machine)?;
        let license_id = self
            .store
            .lease(lease_id)?
            .map(|l| l.license_id)
            .unwrap_or_default();
        let _guard = self.lock(LockKey::Seats(&license_id));
        let (mut lease, _) = self.proven_lease(lease_id, lease_token, machine, false)?;
        if let Some(at) = lease.returned_at {
            return Ok(at);
        }
        lease.returned_at = Some(now);
        self.store.write(WriteBatch {
            audit: vec![lease_event(&lease, "return", "returned", now)],
            leases: vec![lease],
            ..WriteBatch::default()
        })?;
        Ok(now)
    }
}

/// Audits a lease that no longer holds its seat (unless it was returned, which was audited
/// then) and drops its index entry.
pub(super) fn drop_lapsed(lease: &LeaseRecord, now: DateTime<Utc>, batch: &mut WriteBatch) {
    if lease.returned_at.is_none() {
        batch.audit.push(lease_event(lease, "lapse", "lapsed", now));
    }
    batch
        .leases_lapsed
        .push((lease.license_id.clone(), lease.lease_id.clone()));
}

/// The audit event of a lease's heartbeat, return or lapse: which lease, since when, how many
/// heartbeats, until when.
fn lease_event(lease: &LeaseRecord, action: &str, outcome: &str, now: DateTime<Utc>) -> AuditEvent {
    let mut audit = event(now, ACTOR, action, outcome);
    audit.license_id = Some(lease.license_id.clone());
    audit.detail = Some(format!(
        "lease {} checked out {}, {} heartbeat(s), {} {}",
        lease.lease_id,
        lease.created_at.to_rfc3339(),
        lease.revision.saturating_sub(1),
        if lease.holds_seat(now) || lease.returned_at.is_some() {
            "until"
        } else {
            "lapsed at"
        },
        lease.returned_at.unwrap_or(lease.expires_at).to_rfc3339()
    ));
    audit
}

/// Whether a heartbeat at `now` (the one before at `previous`) is the first of its audit
/// period; periods of `interval` count from the checkout, and a zero interval audits every
/// heartbeat. One lease thus writes at most one heartbeat event per period however often its
/// client beats.
fn first_beat_of_period(
    checked_out: DateTime<Utc>,
    previous: DateTime<Utc>,
    now: DateTime<Utc>,
    interval: chrono::Duration,
) -> bool {
    let secs = interval.num_seconds();
    if secs <= 0 {
        return true;
    }
    let period = |t: DateTime<Utc>| (t - checked_out).num_seconds().div_euclid(secs);
    period(now) > period(previous)
}

fn unix(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp()).unwrap_or(0)
}
