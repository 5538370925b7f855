//! The licenses of the GET production interface (License 1.0 and the SaaS V1 names): provision
//! (getLicense/newInstance), renew, expire, status change, release, upgrade. Each operation holds
//! the lock of its order or instance from the first read until its write is durable, so retries
//! and concurrent duplicates see one consistent state.

use chrono::{DateTime, Utc};

use super::commands::{Call, Expire, Provision, Release, Renew, Scene, SetStatus, Upgrade};
use super::handle::{event, MARKETPLACE};
use super::policy::BindingKind;
use super::renewal::{self, ExpiryChange, Renewal};
use super::{create_as, new_id, Licensing, LicensingError, NewLicense};
use crate::store::keys::{IdemKey, LockKey};
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus, Origin};
use crate::store::WriteBatch;

/// The answer to a provisioning call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provisioned {
    /// instanceId.
    pub(crate) instance_id: String,
    /// The current one-line license.
    pub(crate) license: String,
}

/// A marketplace order's change to a license, ready to apply (see `Licensing::order_change`).
struct OrderChange {
    record: LicenseRecord,
    idem_key: String,
    audit: AuditEvent,
}

fn audit(call: &Call, now: DateTime<Utc>, outcome: &str, license: &LicenseRecord) -> AuditEvent {
    AuditEvent {
        license_id: Some(license.license_id.clone()),
        instance_id: license.instance_id.clone(),
        test: license.test || call.test,
        ..event(now, MARKETPLACE, &call.activity, outcome)
    }
}

impl Licensing {
    /// getLicense / newInstance: one license per orderId, forever. Whether the buyer's
    /// identifier is required is the product policy's decision, whatever the activity's name.
    pub(crate) fn provision(
        &self,
        req: Provision,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<Provisioned, LicensingError> {
        let _guard = self.lock(LockKey::Order(&req.order_id));
        if let Some(record) = self.store.order_license(&req.order_id)? {
            let mut audit = audit(call, now, "replayed", &record);
            audit.order_id = Some(req.order_id.clone());
            audit.business_id = Some(req.business_id.clone());
            // The write also syncs: nothing is acknowledged before it is on disk, even if the
            // first call's answer was lost.
            self.audit_only(audit)?;
            return Ok(Provisioned {
                instance_id: record.instance_id.clone().unwrap_or_default(),
                license: record.token,
            });
        }
        let policy = self.policy(&req.product_id, req.sku_code.as_deref());
        if req.identifier.is_none() && policy.binding != BindingKind::None {
            return Err(LicensingError::Invalid(
                "saasExtendParams with identificationCode is required: this product binds \
                 licenses to a machine"
                    .into(),
            ));
        }
        // The instance is named after its license: the license record is the instance's
        // index entry, and the order's posting its idempotency entry (`Store::order_license`).
        let id = new_id();
        let instance_id = id.to_string();
        let record = create_as(
            id,
            NewLicense {
                origin: Origin::KoomarketGet,
                instance_id: Some(instance_id.clone()),
                order_id: Some(req.order_id.clone()),
                product_id: req.product_id.clone(),
                sku_code: req.sku_code.clone(),
                customer_id: Some(req.customer_id.clone()),
                customer_name: req.customer_name.clone(),
                trial: req.trial,
                test: call.test,
                charging_mode: req.charging_mode.clone(),
                period_type: req.period_type.clone(),
                period_number: req.period_number.clone(),
                amount: req.amount,
                expires_at: req.expires_at,
                identifier: req.identifier.clone(),
            },
            policy,
            &self.signer,
            now,
        )?;
        let mut audit = audit(call, now, "issued", &record);
        audit.order_id = Some(req.order_id.clone());
        audit.business_id = Some(req.business_id);
        let answer = Provisioned {
            instance_id,
            license: record.token.clone(),
        };
        self.store.write(WriteBatch {
            licenses: vec![record],
            audit: vec![audit],
            ..WriteBatch::default()
        })?;
        Ok(answer)
    }

    /// The license of a GET instance; a test call about an unknown one is answered as done.
    fn instance_license(
        &self,
        instance_id: &str,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<Option<LicenseRecord>, LicensingError> {
        match self.store.license_by_instance(instance_id)? {
            Some(record) => Ok(Some(record)),
            None => {
                self.test_replay(call, instance_id, "unknown instance", now)?;
                Ok(None)
            }
        }
    }

    /// A test call (testFlag=1) about an unknown or released instance: `000000` and a test
    /// audit event, so the debugger's replays and the daily dial tests never fail. Production
    /// calls get `000003`.
    pub(super) fn test_replay(
        &self,
        call: &Call,
        target: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        if !call.test {
            return Err(LicensingError::UnknownInstance(format!(
                "instance {target} does not exist ({why})"
            )));
        }
        let mut audit = event(now, MARKETPLACE, &call.activity, "ignored");
        audit.instance_id = Some(target.to_string());
        audit.test = true;
        audit.detail = Some(format!("test call about an {why}: nothing to change"));
        self.audit_only(audit)
    }

    /// The prelude of a change a marketplace order makes to a GET instance's license (renewal,
    /// upgrade), under the caller's lock of the instance: `None` when the call is answered
    /// already (a test call about an unknown instance; a replay of the order, answered as the
    /// first call was, also after a release; a change to a released license, as `test_replay`
    /// answers it), else the license, the order's idempotency key and the audit event (with
    /// `outcome`) to write with the change.
    fn order_change(
        &self,
        instance: &str,
        order_id: &str,
        key: IdemKey<'_>,
        outcome: &str,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<Option<OrderChange>, LicensingError> {
        let Some(record) = self.instance_license(instance, call, now)? else {
            return Ok(None);
        };
        let idem_key = key.to_string();
        let mut audit = audit(call, now, outcome, &record);
        audit.order_id = Some(order_id.to_string());
        if self.store.idempotency(&idem_key)?.is_some() {
            audit.outcome = "replayed".into();
            self.audit_only(audit)?;
            return Ok(None);
        }
        if record.status == LicenseStatus::Released {
            self.test_replay(call, instance, "released instance", now)?;
            return Ok(None);
        }
        Ok(Some(OrderChange {
            record,
            idem_key,
            audit,
        }))
    }

    /// refreshLicense / refreshInstance: extend the validity, once per renewal order.
    pub(crate) fn renew_license(
        &self,
        req: Renew,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.target));
        let key = IdemKey::Renewal {
            instance: &req.target,
            order: &req.order_id,
        };
        let Some(OrderChange {
            mut record,
            idem_key,
            mut audit,
        }) = self.order_change(&req.target, &req.order_id, key, "renewed", call, now)?
        else {
            return Ok(());
        };
        let before = format!(
            "expires {:?}, product {}, trial {}, status {}",
            record.expires_at,
            record.product_id,
            record.trial,
            record.status.as_str()
        );
        let renewal = Renewal {
            expiry: ExpiryChange::Extend(req.expires_at),
            product_id: req.product_id.as_deref(),
            sku_code: None,
            amount: None,
            formal: req.scene == Scene::TrialToFormal,
            unfreeze: true,
            period: (req.period_type.as_deref(), req.period_number.as_deref()),
        };
        let renewed = renewal::renew(&mut record, &renewal, &self.policies, &self.signer, now)?;
        if !renewed.changed {
            audit.outcome = "unchanged".into();
        }
        renewal::renewal_applied(&mut record.status_signed_at, call.signed_at);
        audit.detail = Some(format!(
            "before: {before}; after: expires {:?}, revision {} (requested {})",
            record.expires_at, record.revision, req.expires_at
        ));
        self.store.write(WriteBatch {
            idempotency: vec![(idem_key, req.expires_at.to_rfc3339().into_bytes())],
            licenses: vec![record],
            audit: vec![audit],
            revocation_changed: renewed.superseded,
            ..WriteBatch::default()
        })?;
        Ok(())
    }

    /// expireLicense / expireInstance: freeze, unless a renewal made the expire stale.
    pub(crate) fn expire_license(
        &self,
        req: Expire,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.instance_id));
        let Some(record) = self.instance_license(&req.instance_id, call, now)? else {
            return Ok(());
        };
        if renewal::expire_is_stale(record.expires_at, now, self.rules.stale_expire_tolerance) {
            let mut audit = audit(call, now, "ignored", &record);
            audit.order_id = req.order_id;
            audit.detail = Some(format!(
                "stale expire: the license is valid until {:?}",
                record.expires_at
            ));
            return self.audit_only(audit);
        }
        self.change_status(record, true, req.order_id, call, now)
    }

    /// instanceStatus FREEZE / NORMAL: applied unless signed before the last status change.
    pub(crate) fn set_license_status(
        &self,
        req: SetStatus,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.target));
        let Some(record) = self.instance_license(&req.target, call, now)? else {
            return Ok(());
        };
        self.change_status(record, req.freeze, None, call, now)
    }

    fn change_status(
        &self,
        mut record: LicenseRecord,
        freeze: bool,
        order_id: Option<String>,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let mut audit = audit(call, now, "unchanged", &record);
        audit.order_id = order_id;
        if renewal::status_is_stale(record.status_signed_at, call.signed_at) {
            audit.outcome = "ignored".into();
            audit.detail = Some(format!(
                "stale status change: signed {:?}, before the last one applied ({:?})",
                call.signed_at, record.status_signed_at
            ));
            return self.audit_only(audit);
        }
        let (from, to) = if freeze {
            (LicenseStatus::Active, LicenseStatus::Frozen)
        } else {
            (LicenseStatus::Frozen, LicenseStatus::Active)
        };
        let mut batch = WriteBatch::default();
        if record.status == from {
            audit.outcome = if freeze { "frozen" } else { "unfrozen" }.into();
            record.status = to;
            record.status_reason = freeze.then(|| "expired at the marketplace".to_string());
            record.updated_at = now;
        } else {
            audit.detail = Some(format!("status stays {}", record.status.as_str()));
        }
        if record.status == to {
            record.status_signed_at = renewal::latest(record.status_signed_at, call.signed_at);
            batch.licenses.push(record);
        }
        batch.audit.push(audit);
        self.store.write(batch)?;
        Ok(())
    }

    /// releaseLicense / releaseInstance: keep a tombstone; releasing twice succeeds.
    pub(crate) fn release_license(
        &self,
        req: Release,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.target));
        let Some(mut record) = self.instance_license(&req.target, call, now)? else {
            return Ok(());
        };
        let changed = record.status != LicenseStatus::Released;
        let outcome = if changed { "released" } else { "unchanged" };
        let mut audit = audit(call, now, outcome, &record);
        audit.order_id = req.order_id;
        let mut batch = WriteBatch::default();
        if changed {
            record.status = LicenseStatus::Released;
            record.status_reason = Some("released at the marketplace".into());
            record.updated_at = now;
            batch.licenses.push(record);
            batch.revocation_changed = true;
        }
        batch.audit.push(audit);
        self.store.write(batch)?;
        Ok(())
    }

    /// upgrade: new sku/product/amount, applied once per upgrade order.
    pub(crate) fn upgrade_license(
        &self,
        req: Upgrade,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.instance_id));
        let key = IdemKey::Upgrade {
            instance: &req.instance_id,
            order: &req.order_id,
        };
        let Some(OrderChange {
            mut record,
            idem_key,
            audit,
        }) = self.order_change(&req.instance_id, &req.order_id, key, "upgraded", call, now)?
        else {
            return Ok(());
        };
        let renewal = Renewal {
            product_id: Some(&req.product_id),
            sku_code: Some(&req.sku_code),
            amount: req.amount,
            ..Renewal::expiry(ExpiryChange::Set(record.expires_at))
        };
        renewal::renew(&mut record, &renewal, &self.policies, &self.signer, now)?;
        self.store.write(WriteBatch {
            idempotency: vec![(idem_key, record.revision.to_be_bytes().to_vec())],
            licenses: vec![record],
            audit: vec![audit],
            ..WriteBatch::default()
        })?;
        Ok(())
    }
}
