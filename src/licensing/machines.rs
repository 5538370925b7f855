//! What online instances, authorization codes and activation share about the licenses of their
//! machines: recognising a machine that already holds a license (same fingerprint, or a K-of-N
//! hardware match), counting machines against the purchased quantity, and carrying a renewal or
//! a status change over to every license (through the one renewal rule).

use chrono::{DateTime, Utc};
use koolicense_verify::{Binding, HardwareId};
use sha2::{Digest, Sha256};

use super::policy::Policy;
use super::renewal::{self, Renewal, Renewed};
use super::{claims, Licensing, LicensingError};
use crate::store::market_records::Device;
use crate::store::records::{LicenseRecord, LicenseStatus};

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

/// How many machines may hold a license: the policy's quantity for the purchased amount (one
/// when the amount is unknown); `None` = no limit (a policy with `quantity = none`).
pub(crate) fn machine_limit(policy: &Policy, amount: Option<u32>) -> Option<u32> {
    policy.quantity(amount.or(Some(1)))
}

/// The transition of a license to `to` where it applies (freeze: active → frozen; unfreeze:
/// frozen → active; release: anything but revoked or released → released). Licenses the
/// merchant suspended or revoked keep that state. True if it changed.
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

impl Licensing {
    /// The license already held by the machine with this fingerprint: the same fingerprint, or
    /// a hardware binding that the fingerprint satisfies under the K-of-N rule (so a replaced
    /// disk or network card is still the same machine).
    /// `unwritten` are licenses of the same change not stored yet (they take precedence).
    pub(super) fn find_machine(
        &self,
        devices: &[Device],
        fingerprint: Option<&str>,
        unwritten: &[LicenseRecord],
    ) -> Result<Option<LicenseRecord>, LicensingError> {
        let digest = fingerprint_digest(fingerprint);
        let mut records = Vec::with_capacity(devices.len());
        for device in devices {
            if let Some(record) = self.current(&device.license_id, unwritten)? {
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
            if let Binding::Hardware(binding) = claims(&record)?.binding {
                if binding.matches(&hwid) {
                    return Ok(Some(record));
                }
            }
        }
        Ok(None)
    }

    /// A license as this change sees it: from `unwritten` if there, else from the store.
    fn current(
        &self,
        license_id: &str,
        unwritten: &[LicenseRecord],
    ) -> Result<Option<LicenseRecord>, LicensingError> {
        match unwritten.iter().rev().find(|l| l.license_id == license_id) {
            Some(record) => Ok(Some(record.clone())),
            None => Ok(self.store.license(license_id)?),
        }
    }

    /// Machines whose license still occupies a slot (`unwritten` as for [`Self::find_machine`]).
    pub(super) fn machines_in_use(
        &self,
        devices: &[Device],
        unwritten: &[LicenseRecord],
    ) -> Result<u32, LicensingError> {
        let mut count = 0u32;
        for device in devices {
            if self
                .current(&device.license_id, unwritten)?
                .is_some_and(|r| occupies(&r))
            {
                count = count.saturating_add(1);
            }
        }
        Ok(count)
    }

    /// Applies `renewal` to every live license of `devices`; returns the changed ones and
    /// whether any earlier token was superseded.
    pub(super) fn renew_devices(
        &self,
        devices: &[Device],
        renewal: &Renewal<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<LicenseRecord>, bool), LicensingError> {
        let mut out = Vec::new();
        let mut superseded = false;
        for device in devices {
            let Some(mut record) = self.store.license(&device.license_id)? else {
                continue;
            };
            if !occupies(&record) {
                continue;
            }
            let Renewed {
                changed,
                superseded: s,
            } = renewal::renew(&mut record, renewal, &self.policies, &self.signer, now)?;
            superseded |= s;
            if changed {
                out.push(record);
            }
        }
        Ok((out, superseded))
    }

    /// Moves every license of `devices` to `to` where that transition applies; returns the
    /// changed ones and whether the revocation list changes.
    pub(super) fn set_devices_status(
        &self,
        devices: &[Device],
        to: LicenseStatus,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<LicenseRecord>, bool), LicensingError> {
        let mut out = Vec::new();
        for device in devices {
            let Some(mut record) = self.store.license(&device.license_id)? else {
                continue;
            };
            if apply_status(&mut record, to, reason, now) {
                out.push(record);
            }
        }
        let revocation_changed = to == LicenseStatus::Released && !out.is_empty();
        Ok((out, revocation_changed))
    }
}
