//! Deactivation: a machine gives back the seat it holds in a purchase (an authorization code's
//! machines, an online-license instance's devices), so another machine can take it.
//!
//! The software proves it holds the license on this machine: the license's current token, the
//! machine identifier that satisfies the token's binding and, for an authorization code, the
//! code itself. Deactivations by the software (online or by offline proof) are limited per
//! purchase (`seats.deactivation_limit` per `seats.deactivation_window_secs`), so one seat
//! cannot be rotated among many machines; the merchant frees any seat without limit. A freed
//! license is released: its tokens are listed in the revocation list from the next sequence.

use chrono::{DateTime, Utc};
use koolicense_verify::{check_binding, Binding, HardwareId, Host};

use super::handle::event;
use super::leases::{same_secret, validate_machine};
use super::{claims, Licensing, LicensingError};
use crate::store::keys::LockKey;
use crate::store::records::{LicenseRecord, LicenseStatus, Origin};
use crate::store::seats::DeactivationRecord;
use crate::store::WriteBatch;

/// Status reason of a deactivated license.
const DEACTIVATED: &str = "deactivated";

/// Who frees a seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FreedBy<'a> {
    /// The delivered software, online (`POST /v1/deactivate`).
    Software,
    /// A deactivation proof carried back from an offline machine.
    OfflineProof,
    /// The merchant (API or CLI), by actor name; not rate-limited.
    Merchant(&'a str),
}

impl FreedBy<'_> {
    fn name(&self) -> &str {
        match self {
            FreedBy::Software => "software",
            FreedBy::OfflineProof => "offline",
            FreedBy::Merchant(actor) => actor,
        }
    }
}

/// A seat given back.
#[derive(Debug, Clone)]
pub(crate) struct Deactivated {
    pub(crate) license_id: String,
    /// The purchase whose seat came back (authorization code or instance id).
    pub(crate) pool: String,
    pub(crate) deactivated_at: DateTime<Utc>,
}

/// The purchase a license holds a seat of.
fn pool_of(record: &LicenseRecord) -> Result<String, LicensingError> {
    match (record.origin, &record.instance_id) {
        (Origin::AuthorizationCode | Origin::KoomarketOnline, Some(pool)) => Ok(pool.clone()),
        _ => Err(LicensingError::Invalid(
            "only licenses of authorization codes and online-license instances hold a seat that \
             can be given back"
                .into(),
        )),
    }
}

impl Licensing {
    /// `POST /v1/deactivate`: the software on this machine gives its seat back.
    pub(crate) fn deactivate(
        &self,
        license_token: &str,
        machine: &str,
        authorization_code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Deactivated, LicensingError> {
        let machine = validate_machine(machine)?;
        let record = self.license_of_token(license_token)?;
        let hardware = HardwareId::parse(machine).ok();
        let host = Host {
            hardware: hardware.as_ref(),
            system_identifier: Some(machine),
        };
        let binding = claims(&record)?.binding;
        if matches!(binding, Binding::None) {
            return Err(LicensingError::Invalid(
                "this license is not bound to a machine: there is no seat to give back".into(),
            ));
        }
        if check_binding(&binding, &host).is_err() {
            return Err(LicensingError::ProofRejected(
                "the license is not bound to this machine".into(),
            ));
        }
        if record.origin == Origin::AuthorizationCode {
            let code = record.instance_id.as_deref().unwrap_or_default();
            if !authorization_code.is_some_and(|given| same_secret(given, code)) {
                return Err(LicensingError::ProofRejected(
                    "authorization_code does not match the license".into(),
                ));
            }
        }
        self.free_seat(&record.license_id, FreedBy::Software, now)
    }

    /// Frees the seat of a license: released, dropped from its purchase's machines, recorded.
    /// A license already deactivated answers as the first call did.
    pub(crate) fn free_seat(
        &self,
        license_id: &str,
        by: FreedBy<'_>,
        now: DateTime<Utc>,
    ) -> Result<Deactivated, LicensingError> {
        let record = self
            .store
            .license(license_id)?
            .ok_or_else(|| LicensingError::NotFound(license_id.to_string()))?;
        let pool = pool_of(&record)?;
        let _guard = self.lock(LockKey::Instance(&pool));
        let mut record = self
            .store
            .license(license_id)?
            .ok_or_else(|| LicensingError::NotFound(license_id.to_string()))?;
        if record.status == LicenseStatus::Released
            && record.status_reason.as_deref() == Some(DEACTIVATED)
        {
            return Ok(Deactivated {
                license_id: record.license_id,
                pool,
                deactivated_at: record.updated_at,
            });
        }
        if matches!(
            record.status,
            LicenseStatus::Released | LicenseStatus::Revoked
        ) {
            return Err(LicensingError::Conflict {
                action: "deactivate",
                status: record.status.as_str(),
            });
        }
        if !matches!(by, FreedBy::Merchant(_)) {
            self.check_deactivation_limit(&pool, now)?;
        }
        let mut batch = WriteBatch::default();
        if let Some(mut code) = self.store.license_code(&pool)? {
            code.machines.retain(|d| d.license_id != record.license_id);
            code.updated_at = now;
            batch.codes.push(code);
        } else if let Some(mut instance) = self.store.online_instance(&pool)? {
            instance
                .devices
                .retain(|d| d.license_id != record.license_id);
            batch.instances.push(instance);
        }
        record.status = LicenseStatus::Released;
        record.status_reason = Some(DEACTIVATED.into());
        record.updated_at = now;
        let mut audit = event(now, by.name(), "deactivate", DEACTIVATED);
        audit.license_id = Some(record.license_id.clone());
        audit.instance_id = Some(pool.clone());
        audit.order_id = record.order_id.clone();
        audit.test = record.test;
        batch.audit.push(audit);
        batch.deactivations.push(DeactivationRecord {
            pool: pool.clone(),
            license_id: record.license_id.clone(),
            by: by.name().to_string(),
            at: now,
        });
        batch.revocation_changed = true;
        let license_id = record.license_id.clone();
        batch.licenses.push(record);
        self.store.write(batch)?;
        Ok(Deactivated {
            license_id,
            pool,
            deactivated_at: now,
        })
    }

    /// Refuses when the purchase's seats were given back `deactivation_limit` times within the
    /// window (merchant deactivations included in the count, not limited themselves).
    fn check_deactivation_limit(
        &self,
        pool: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let window = self.rules.deactivation_window;
        let recent = self.store.deactivations_since(pool, now - window)?;
        let limit = self.rules.deactivation_limit;
        if u32::try_from(recent.len()).unwrap_or(u32::MAX) < limit {
            return Ok(());
        }
        let oldest = recent.iter().map(|d| d.at).min().unwrap_or(now);
        let retry_after = (oldest + window - now).num_seconds().max(1);
        Err(LicensingError::DeactivationLimit {
            limit,
            window_secs: u64::try_from(window.num_seconds()).unwrap_or(0),
            retry_after_secs: u64::try_from(retry_after).unwrap_or(1),
        })
    }
}
