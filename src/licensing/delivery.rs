//! getLicenseAsync (spec §6.5), asynchronous delivery: validate (000900–000903), issue the
//! machine's license (or find the one it holds) and deliver it through the upload open API
//! (§6.6) from the outbox, keyed by `eventId`. Before the order's details are known the request
//! is kept on the instance and answered `000004` (资源异步开通); the order query's completion
//! issues it and queues its upload, so the outbox chains order query → issue → upload.

use chrono::{DateTime, Utc};

use super::commands::{Call, Deliver};
use super::machines::{fingerprint_digest, machine_limit};
use super::online::audit;
use super::policy::BindingKind;
use super::renewal::{self, ExpiryChange, Renewal};
use super::{create, Licensing, LicensingError, NewLicense};
use crate::store::keys::{IdemKey, JobKey, LockKey};
use crate::store::market_records::{
    Device, InstanceStatus, JobKind, JobState, OnlineInstance, PendingDelivery,
};
use crate::store::records::{LicenseRecord, LicenseStatus, Origin};
use crate::store::WriteBatch;

/// A machine new to an online-license instance.
pub(super) struct NewMachine<'a> {
    /// Its fingerprint (hardware or system identifier), if the product binds.
    pub(super) identifier: Option<&'a str>,
    /// The license's expiry.
    pub(super) expires_at: Option<DateTime<Utc>>,
    /// Test traffic.
    pub(super) test: bool,
}

/// Leeway when comparing a requested license period with the order's (time zones, rounding).
const VALIDITY_LEEWAY_HOURS: i64 = 24;

/// What a getLicenseAsync call achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The license is issued and its upload queued (`000000`).
    Issued,
    /// Waiting for the order's details (`000004`).
    InProgress,
}

fn check_validity(
    instance: &OnlineInstance,
    req: &PendingDelivery,
    now: DateTime<Utc>,
) -> Result<(), LicensingError> {
    let leeway = chrono::Duration::hours(VALIDITY_LEEWAY_HOURS);
    let outside = LicensingError::OutsideValidity;
    if let Some(end) = instance.expires_at {
        if now >= end || req.effective_at >= end {
            return Err(outside(format!(
                "the order is valid until {end}; apply within its validity"
            )));
        }
        if req.expires_at.is_some_and(|e| e > end + leeway) {
            return Err(outside(format!(
                "expireTime is after the order's end {end}"
            )));
        }
    }
    if let Some(start) = instance.order_created_at {
        if req.effective_at + leeway < start {
            return Err(outside(format!(
                "effectiveTime is before the order was placed ({start})"
            )));
        }
    }
    Ok(())
}

impl Licensing {
    /// getLicenseAsync. The same eventId and fingerprint always name the same license and one
    /// upload; a replay after a release answers as before it.
    pub(crate) fn deliver(
        &self,
        req: Deliver,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<Delivery, LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.instance_id));
        let Some(mut instance) = self.store.online_instance(&req.instance_id)? else {
            return self
                .test_replay(call, &req.instance_id, "unknown instance", now)
                .map(|()| Delivery::Issued);
        };
        let digest = fingerprint_digest(req.fingerprint.as_deref());
        let event_key = IdemKey::Delivery {
            event: &req.event_id,
            fingerprint: &digest,
        }
        .to_string();
        let upload_key = JobKey::Upload(&req.event_id).to_string();
        let mut event = audit(now, call, "issued", &instance);
        event.detail = Some(format!("eventId {}", req.event_id));
        if let Some(license_id) = self.store.idempotency(&event_key)? {
            event.license_id = Some(String::from_utf8_lossy(&license_id).into_owned());
            event.outcome = "replayed".into();
            // A repeated request re-arms an upload that gave up; a done upload is never resent.
            if let Some(job) = self.store.outbox_job_by_key(&upload_key)? {
                if job.state == JobState::Failed {
                    self.retry_job(job.id, now)?;
                }
            }
            self.audit_only(event)?;
            return Ok(Delivery::Issued);
        }
        if instance.status == InstanceStatus::Released {
            return self
                .test_replay(call, &req.instance_id, "released instance", now)
                .map(|()| Delivery::Issued);
        }
        let other_fingerprint = || {
            LicensingError::Invalid(format!(
                "eventId {} was already used with another deviceFingerprint",
                req.event_id
            ))
        };
        let pending = PendingDelivery {
            event_id: req.event_id.clone(),
            fingerprint: req.fingerprint.clone(),
            effective_at: req.effective_at,
            expires_at: req.expires_at,
            test: call.test,
        };
        let waiting = instance
            .pending_deliveries
            .iter()
            .find(|p| p.event_id == req.event_id);
        match waiting {
            Some(p) if fingerprint_digest(p.fingerprint.as_deref()) == digest => {
                self.rearm_order_query(&instance.instance_id, now)?;
                return Ok(Delivery::InProgress);
            }
            Some(_) => return Err(other_fingerprint()),
            None => {}
        }
        if self.store.outbox_job_by_key(&upload_key)?.is_some() {
            return Err(other_fingerprint());
        }
        if instance.status == InstanceStatus::Frozen {
            return Err(LicensingError::OutsideValidity(
                "the instance is frozen".into(),
            ));
        }
        let mut batch = WriteBatch::default();
        if instance.product_id.is_none() {
            instance.pending_deliveries.push(pending);
            instance.updated_at = now;
            event.outcome = "waiting for the order's details".into();
            batch.audit.push(event);
            batch.instances.push(instance.clone());
            self.store.write(batch)?;
            self.rearm_order_query(&instance.instance_id, now)?;
            return Ok(Delivery::InProgress);
        }
        let license_id = self.issue_delivery(&mut instance, &pending, now, &mut batch)?;
        event.license_id = Some(license_id);
        batch.audit.push(event);
        batch.instances.push(instance);
        self.store.write(batch)?;
        self.jobs.wake();
        Ok(Delivery::Issued)
    }

    /// Makes the instance's order query due now (and pending again if it gave up).
    fn rearm_order_query(
        &self,
        instance_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let key = JobKey::OrderQuery(instance_id).to_string();
        if let Some(job) = self.store.outbox_job_by_key(&key)? {
            if job.state != JobState::Done {
                self.retry_job(job.id, now)?;
            }
        }
        Ok(())
    }

    /// Issues the deliveries that waited for the order's details into `batch` (each with its
    /// upload job); one that cannot be issued is audited and dropped, so the marketplace's
    /// next retry of its eventId gets the reason as a result code.
    pub(super) fn issue_pending(
        &self,
        instance: &mut OnlineInstance,
        now: DateTime<Utc>,
        batch: &mut WriteBatch,
    ) -> Result<(), LicensingError> {
        for pending in std::mem::take(&mut instance.pending_deliveries) {
            let call = Call {
                activity: "getLicenseAsync".into(),
                signed_at: None,
                test: pending.test,
            };
            let mut event = audit(now, &call, "issued", instance);
            event.detail = Some(format!(
                "eventId {} (after the order query)",
                pending.event_id
            ));
            match self.issue_delivery(instance, &pending, now, batch) {
                Ok(license_id) => event.license_id = Some(license_id),
                Err(LicensingError::Storage(e)) => return Err(LicensingError::Storage(e)),
                Err(e) => {
                    event.outcome = "refused".into();
                    event.detail = Some(format!("eventId {}: {e}", pending.event_id));
                }
            }
            batch.audit.push(event);
        }
        Ok(())
    }

    /// Issues a license of `instance` for a machine it does not know yet, counted against the
    /// order's quantity (`unwritten` as for `find_machine`); the machine joins the instance.
    pub(super) fn issue_for_instance(
        &self,
        instance: &mut OnlineInstance,
        machine: NewMachine<'_>,
        unwritten: &[LicenseRecord],
        now: DateTime<Utc>,
    ) -> Result<LicenseRecord, LicensingError> {
        let product_id = instance.product_id.clone().unwrap_or_default();
        let policy = self.policy(&product_id, instance.sku_code.as_deref());
        if let Some(max) = machine_limit(policy, instance.amount) {
            if self.machines_in_use(&instance.devices, unwritten)? >= max {
                return Err(LicensingError::QuantityExhausted(format!(
                    "all {max} license(s) of this order are in use; give one back \
                     (deactivation) or buy more"
                )));
            }
        }
        let record = create(
            NewLicense {
                origin: Origin::KoomarketOnline,
                instance_id: Some(instance.instance_id.clone()),
                order_id: Some(instance.order_id.clone()),
                product_id,
                sku_code: instance.sku_code.clone(),
                customer_id: None,
                customer_name: None,
                trial: instance.trial,
                test: machine.test,
                charging_mode: instance.charging_mode.clone(),
                period_type: instance.period_type.clone(),
                period_number: None,
                amount: instance.amount,
                expires_at: machine.expires_at,
                identifier: machine.identifier.map(str::to_owned),
            },
            policy,
            &self.signer,
            now,
        )?;
        instance.devices.push(Device {
            license_id: record.license_id.clone(),
            fingerprint_sha256: fingerprint_digest(machine.identifier),
        });
        instance.updated_at = now;
        Ok(record)
    }

    /// Validates a delivery against the known order and issues (or finds) the machine's license,
    /// putting it, its idempotency entry and its upload job into `batch`.
    fn issue_delivery(
        &self,
        instance: &mut OnlineInstance,
        req: &PendingDelivery,
        now: DateTime<Utc>,
        batch: &mut WriteBatch,
    ) -> Result<String, LicensingError> {
        let product_id = instance.product_id.clone().unwrap_or_default();
        let policy = self.policy(&product_id, instance.sku_code.as_deref());
        let binds = matches!(policy.binding, BindingKind::Hardware | BindingKind::System);
        if binds && req.fingerprint.is_none() {
            return Err(LicensingError::FingerprintRequired(
                "this product binds licenses to a machine: deviceFingerprint is required".into(),
            ));
        }
        if instance.periodic() && req.expires_at.is_none() {
            return Err(LicensingError::ExpiryRequired(
                "a periodic purchase needs expireTime".into(),
            ));
        }
        check_validity(instance, req, now)?;
        let expires_at = req.expires_at.or(instance.expires_at);
        let digest = fingerprint_digest(req.fingerprint.as_deref());
        let found = self.find_machine(
            &instance.devices,
            req.fingerprint.as_deref(),
            &batch.licenses,
        )?;
        let record = match found {
            Some(record)
                if matches!(
                    record.status,
                    LicenseStatus::Revoked | LicenseStatus::Suspended
                ) =>
            {
                return Err(LicensingError::Invalid(format!(
                    "this machine's license is {} by the merchant",
                    record.status.as_str()
                )));
            }
            Some(mut record) => {
                let change = Renewal::expiry(ExpiryChange::Set(expires_at));
                let renewed =
                    renewal::renew(&mut record, &change, &self.policies, &self.signer, now)?;
                batch.revocation_changed |= renewed.superseded;
                record
            }
            None => self.issue_for_instance(
                instance,
                NewMachine {
                    identifier: req.fingerprint.as_deref(),
                    expires_at,
                    test: instance.test || req.test,
                },
                &batch.licenses,
                now,
            )?,
        };
        let job = self.jobs.job(
            &self.store,
            JobKey::Upload(&req.event_id),
            JobKind::UploadLicense {
                event_id: req.event_id.clone(),
                instance_id: instance.instance_id.clone(),
                license_id: record.license_id.clone(),
                characters: record.token.clone(),
            },
            now,
        )?;
        let event_key = IdemKey::Delivery {
            event: &req.event_id,
            fingerprint: &digest,
        };
        let license_id = record.license_id.clone();
        batch
            .idempotency
            .push((event_key.to_string(), license_id.clone().into_bytes()));
        batch.licenses.push(record);
        batch.jobs.push(job);
        Ok(license_id)
    }
}
