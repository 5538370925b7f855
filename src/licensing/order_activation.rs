//! Activation of a machine on an online-license order (在线开通License, spec §6) for an offline
//! activation request that names a license of the order instead of an authorization code.
//!
//! What the customer holds for each marketplace variant decides what a request can name:
//!
//! * License 2.0: the authorization code (授权码) → the code path (`activation`).
//! * Online license: no code; the order id is no secret (its form is guessable), but every
//!   license the marketplace delivered for the order (getLicenseAsync, then the upload open API)
//!   is signed by this service. Any revision of any license of the order proves the customer
//!   bought it, also one whose seat was given back or that a renewal superseded (an air-gapped
//!   machine keeps the copy it received); a revoked or suspended one does not.
//! * License 1.0 (getLicense): one license per order, bound at purchase to the identifier the
//!   buyer typed; it holds no seats to hand out, so it is refused, as are licenses issued by
//!   the merchant's `koolicense issue`.
//!
//! The rules are the code path's: one license per machine (the same machine gets the same
//! license, so a replayed request gets the same response), machines counted against the order's
//! quantity under the instance's lock (shared with getLicenseAsync), the instance active and
//! within its validity, one batch with the audit event.

use chrono::{DateTime, Utc};

use super::activation::Activated;
use super::delivery::NewMachine;
use super::handle::event;
use super::leases::validate_machine;
use super::machines::machine_limit;
use super::policy::LicenseModel;
use super::{Licensing, LicensingError};
use crate::store::keys::LockKey;
use crate::store::market_records::InstanceStatus;
use crate::store::records::{LicenseRecord, LicenseStatus, Origin};
use crate::store::WriteBatch;

/// Audit actor of activations (as for authorization codes).
const ACTOR: &str = "activation";

impl Licensing {
    /// The license a request names, authenticated with every key this service has signed with.
    fn held_license(&self, license: &str) -> Result<LicenseRecord, LicensingError> {
        let refused = || {
            LicensingError::ProofRejected(
                "the request's license is not a license of this service".into(),
            )
        };
        let claims = self
            .issuer_verifier()?
            .authenticate(license)
            .map_err(|_| refused())?;
        let record = self
            .store
            .license(&claims.license_id.to_string())?
            .ok_or_else(refused)?;
        let revoked = claims.revision < record.revoked_below
            || matches!(
                record.status,
                LicenseStatus::Revoked | LicenseStatus::Suspended
            );
        if revoked {
            return Err(LicensingError::ProofRejected(
                "the request's license was revoked by the merchant".into(),
            ));
        }
        Ok(record)
    }

    /// Activates `machine` on the order `license` belongs to: the machine's license, found or
    /// issued.
    pub(crate) fn activate_by_license(
        &self,
        license: &str,
        machine: &str,
        now: DateTime<Utc>,
    ) -> Result<Activated, LicensingError> {
        let machine = validate_machine(machine)?;
        let held = self.held_license(license)?;
        let instance_id = match (held.origin, held.instance_id) {
            (Origin::KoomarketOnline, Some(id)) => id,
            (Origin::AuthorizationCode, _) => {
                return Err(LicensingError::Invalid(
                    "this license was activated from an authorization code: write the request \
                     for the authorization code"
                        .into(),
                ))
            }
            _ => {
                return Err(LicensingError::Invalid(
                    "this license's purchase has no seats to activate offline: a License 1.0 \
                     license is bound where it was bought, a floating one's machines lease \
                     seats (POST /v1/leases), one the merchant issued is delivered as it is"
                        .into(),
                ))
            }
        };
        let _guard = self.lock(LockKey::Instance(&instance_id));
        let mut instance = self.store.online_instance(&instance_id)?.ok_or_else(|| {
            LicensingError::Internal(format!("license names missing instance {instance_id}"))
        })?;
        let inactive = match instance.status {
            InstanceStatus::Active if instance.expires_at.is_some_and(|e| e <= now) => {
                Some("expired")
            }
            InstanceStatus::Active => None,
            InstanceStatus::Frozen => Some("frozen"),
            InstanceStatus::Released => Some("released"),
        };
        if let Some(state) = inactive {
            return Err(LicensingError::CodeInactive(format!(
                "the order is {state}; renew it in the marketplace (云商店)"
            )));
        }
        let Some(product_id) = instance.product_id.clone() else {
            return Err(LicensingError::MarketplaceUnavailable(
                "the order's details are not known yet; try again in a few minutes".into(),
            ));
        };
        let policy = self.policy(&product_id, instance.sku_code.as_deref());
        if policy.model == LicenseModel::Floating {
            return Err(LicensingError::Invalid(
                "this product is floating: its machines check out leases (POST /v1/leases)".into(),
            ));
        }
        if let Some(current) = self.find_machine(&instance.devices, Some(machine), &[])? {
            return Activated::held(current);
        }
        let new_machine = NewMachine {
            identifier: Some(machine),
            expires_at: instance.expires_at,
            test: instance.test,
        };
        let record = self.issue_for_instance(&mut instance, new_machine, &[], now)?;
        let mut audit = event(now, ACTOR, "activate", "issued");
        audit.license_id = Some(record.license_id.clone());
        audit.instance_id = Some(instance.instance_id.clone());
        audit.order_id = Some(instance.order_id.clone());
        audit.test = instance.test;
        audit.detail = Some(format!(
            "machine {} of {:?}, by license {}",
            instance.devices.len(),
            machine_limit(policy, instance.amount),
            held.license_id
        ));
        let activated = Activated::issued(&record);
        self.store.write(WriteBatch {
            licenses: vec![record],
            instances: vec![instance],
            audit: vec![audit],
            ..WriteBatch::default()
        })?;
        Ok(activated)
    }
}
