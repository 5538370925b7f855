//! What the POST interfaces and activation share about the licenses of an instance or an
//! authorization code: their errors, recognising a machine that already holds a license (same
//! fingerprint, or a K-of-N hardware match), counting machines against the purchased quantity,
//! and carrying a renewal or a status change over to every license.

use chrono::{DateTime, Utc};
use koolicense_verify::{Binding, HardwareId};
use sha2::{Digest, Sha256};

use super::params::FieldError;
use crate::licensing::policy::Policy;
use crate::licensing::{self, LicensingError};
use crate::state::AppState;
use crate::store::market_records::Device;
use crate::store::records::{LicenseRecord, LicenseStatus};
use crate::store::StoreError;

/// Why a POST activity failed; mapped to a `resultCode` by the handler.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostError {
    /// `000002`.
    #[error("{0}")]
    Invalid(String),
    /// `000003`: no such instance or authorization code.
    #[error("{0}")]
    Unknown(String),
    /// `000900` quantity exhausted.
    #[error("{0}")]
    QuantityExhausted(String),
    /// `000901` outside the order's validity.
    #[error("{0}")]
    OutsideValidity(String),
    /// `000902` a periodic purchase needs an expiry.
    #[error("{0}")]
    ExpiryRequired(String),
    /// `000903` the product binds to a machine and no fingerprint was sent.
    #[error("{0}")]
    FingerprintRequired(String),
    /// `000005` with a reason the marketplace may act on (retry later).
    #[error("{0}")]
    NotYet(String),
    /// `000005` storage.
    #[error("storage failure")]
    Storage(#[from] StoreError),
    /// `000005` internal.
    #[error("internal error")]
    Internal(String),
}

impl From<FieldError> for PostError {
    fn from(e: FieldError) -> Self {
        PostError::Invalid(e.to_string())
    }
}

impl From<LicensingError> for PostError {
    fn from(e: LicensingError) -> Self {
        match e {
            LicensingError::Corrupt(m) => PostError::Internal(m),
            LicensingError::MissingIdentifier(_) => PostError::FingerprintRequired(e.to_string()),
            other => PostError::Invalid(other.to_string()),
        }
    }
}

/// Hex SHA-256 of the trimmed, upper-cased fingerprint ("" when none): the idempotency part of
/// a getLicenseAsync event and the exact-match key of a machine.
pub(crate) fn fingerprint_digest(fingerprint: Option<&str>) -> String {
    let normalised = fingerprint.unwrap_or("").trim().to_uppercase();
    hex::encode(Sha256::digest(normalised.as_bytes()))
}

/// Whether a license still occupies a machine slot (revoked and released ones do not).
fn occupies(record: &LicenseRecord) -> bool {
    !matches!(
        record.status,
        LicenseStatus::Revoked | LicenseStatus::Released
    )
}

/// The license already held by the machine with this fingerprint: the same fingerprint, or a
/// hardware binding that the fingerprint satisfies under the K-of-N rule (so a replaced disk
/// or network card is still the same machine).
pub(crate) fn find_machine(
    state: &AppState,
    devices: &[Device],
    fingerprint: Option<&str>,
) -> Result<Option<LicenseRecord>, PostError> {
    let digest = fingerprint_digest(fingerprint);
    let mut records = Vec::with_capacity(devices.len());
    for device in devices {
        if let Some(record) = state.store.license(&device.license_id)? {
            if device.fingerprint_sha256 == digest {
                return Ok(Some(record));
            }
            records.push(record);
        }
    }
    let Some(hwid) = fingerprint.and_then(|f| HardwareId::parse(f).ok()) else {
        return Ok(None);
    };
    for record in records {
        if let Binding::Hardware(binding) = licensing::claims(&record)?.binding {
            if binding.matches(&hwid) {
                return Ok(Some(record));
            }
        }
    }
    Ok(None)
}

/// How many machines may hold a license: the policy's quantity for the purchased amount (one
/// when the amount is unknown); `None` = no limit (a policy with `quantity = none`).
pub(crate) fn machine_limit(policy: &Policy, amount: Option<u32>) -> Option<u32> {
    policy.quantity(amount.or(Some(1)))
}

/// Machines whose license still occupies a slot.
pub(crate) fn machines_in_use(state: &AppState, devices: &[Device]) -> Result<u32, PostError> {
    let mut count = 0u32;
    for device in devices {
        if state
            .store
            .license(&device.license_id)?
            .is_some_and(|r| occupies(&r))
        {
            count = count.saturating_add(1);
        }
    }
    Ok(count)
}

/// A renewal (or trial conversion, or product change) carried over to licenses.
#[derive(Debug, Clone)]
pub(crate) struct Renewal<'a> {
    /// The new expiry.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// A new productId.
    pub(crate) product_id: Option<&'a str>,
    /// Clear the trial flag.
    pub(crate) formal: bool,
    /// Frozen licenses become active.
    pub(crate) unfreeze: bool,
}

/// Re-signs every live license of `devices` with the renewal's claims. When the expiry moves
/// backwards (退续费) the earlier tokens are superseded (revoked below the new revision), since
/// they would otherwise stay valid until their later expiry; the second value says so.
pub(crate) fn renew_licenses(
    state: &AppState,
    devices: &[Device],
    renewal: &Renewal<'_>,
    now: DateTime<Utc>,
) -> Result<(Vec<LicenseRecord>, bool), PostError> {
    let mut out = Vec::new();
    let mut superseded = false;
    for device in devices {
        let Some(mut record) = state.store.license(&device.license_id)? else {
            continue;
        };
        if !occupies(&record) {
            continue;
        }
        let backwards = match (record.expires_at, renewal.expires_at) {
            (None, Some(_)) => true,
            (Some(old), Some(new)) => new < old,
            _ => false,
        };
        if let Some(product) = renewal.product_id.filter(|p| *p != record.product_id) {
            let old = std::mem::replace(&mut record.product_id, product.to_string());
            record.previous_product_ids.push(old);
        }
        if renewal.formal {
            record.trial = false;
        }
        let policy = state
            .policies
            .for_product(&record.product_id, record.sku_code.as_deref());
        record.features = policy.features_for(record.trial);
        record.quantity = policy.quantity(record.amount);
        record.expires_at = renewal.expires_at;
        if renewal.unfreeze && record.status == LicenseStatus::Frozen {
            record.status = LicenseStatus::Active;
            record.status_reason = None;
        }
        licensing::resign(&mut record, &state.signer, now)?;
        if backwards {
            record.revoked_below = record.revision;
            superseded = true;
        }
        out.push(record);
    }
    Ok((out, superseded))
}

/// Moves every license of `devices` to `to` where that transition applies (freeze: active →
/// frozen; unfreeze: frozen → active; release: anything but revoked → released). Licenses the
/// merchant suspended or revoked keep that state. The second value says whether the revocation
/// list changes.
pub(crate) fn set_license_status(
    state: &AppState,
    devices: &[Device],
    to: LicenseStatus,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<LicenseRecord>, bool), PostError> {
    let mut out = Vec::new();
    for device in devices {
        let Some(mut record) = state.store.license(&device.license_id)? else {
            continue;
        };
        if apply_status(&mut record, to, reason, now) {
            out.push(record);
        }
    }
    let revocation_changed = to == LicenseStatus::Released && !out.is_empty();
    Ok((out, revocation_changed))
}

/// The transition rule of [`set_license_status`] on one record; true if it changed.
pub(crate) fn apply_status(
    record: &mut LicenseRecord,
    to: LicenseStatus,
    reason: &str,
    now: DateTime<Utc>,
) -> bool {
    let applies = match to {
        LicenseStatus::Frozen => record.status == LicenseStatus::Active,
        LicenseStatus::Active => record.status == LicenseStatus::Frozen,
        LicenseStatus::Released => occupies(record),
        LicenseStatus::Suspended | LicenseStatus::Revoked => false,
    };
    if applies {
        record.status = to;
        record.status_reason = (to != LicenseStatus::Active).then(|| reason.to_string());
        record.updated_at = now;
    }
    applies
}
