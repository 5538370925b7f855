//! The online-license instances (在线开通License, spec §6): newInstance, refreshInstance,
//! updateInstanceStatus, releaseInstance, and the order details the outbox's order query brings
//! (getLicenseAsync is in `delivery`). Same discipline as the GET licenses: the lock of the
//! order line or instance is held from the first read until the write is durable, and every
//! change (licenses, instance, idempotency key, audit event, outbox job) is one batch.

use chrono::{DateTime, Utc};

use super::commands::{Call, NewInstance, Release, Renew, Scene, SetStatus};
use super::handle::{event, MARKETPLACE};
use super::jobs::OrderDetails;
use super::renewal::{self, ExpiryChange, Renewal};
use super::{Licensing, LicensingError};
use crate::store::keys::{IdemKey, JobKey, LockKey};
use crate::store::market_records::{InstanceStatus, JobKind, OnlineInstance};
use crate::store::records::{AuditEvent, LicenseStatus};
use crate::store::WriteBatch;

pub(super) fn audit(
    now: DateTime<Utc>,
    call: &Call,
    outcome: &str,
    instance: &OnlineInstance,
) -> AuditEvent {
    AuditEvent {
        instance_id: Some(instance.instance_id.clone()),
        order_id: Some(instance.order_id.clone()),
        test: instance.test || call.test,
        ..event(now, MARKETPLACE, &call.activity, outcome)
    }
}

impl Licensing {
    /// newInstance: one instance per (orderId, orderLineId), answered at once; the order's
    /// details are fetched afterwards by the outbox (order query), never while the marketplace
    /// waits.
    pub(crate) fn new_instance(
        &self,
        req: NewInstance,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<String, LicensingError> {
        let line = LockKey::OrderLine {
            order: &req.order_id,
            line: &req.order_line_id,
        };
        let _guard = self.lock(line);
        let key = IdemKey::OrderLine {
            order: &req.order_id,
            line: &req.order_line_id,
        }
        .to_string();
        if let Some(id) = self.store.idempotency(&key)? {
            let id = String::from_utf8_lossy(&id).into_owned();
            let instance = self.store.online_instance(&id)?.ok_or_else(|| {
                LicensingError::Internal(format!("order index names missing instance {id}"))
            })?;
            let mut event = audit(now, call, "replayed", &instance);
            event.business_id = Some(req.business_id);
            self.audit_only(event)?;
            return Ok(id);
        }
        let instance = OnlineInstance {
            instance_id: uuid::Uuid::new_v4().to_string(),
            order_id: req.order_id.clone(),
            order_line_id: req.order_line_id.clone(),
            business_id: Some(req.business_id.clone()),
            status: InstanceStatus::Active,
            trial: false,
            test: call.test,
            expires_at: None,
            product_id: None,
            sku_code: None,
            product_name: None,
            amount: None,
            charging_mode: None,
            period_type: None,
            order_created_at: None,
            order_fetched_at: None,
            devices: Vec::new(),
            pending_deliveries: Vec::new(),
            status_signed_at: None,
            created_at: now,
            updated_at: now,
        };
        let job = self.jobs.job(
            &self.store,
            JobKey::OrderQuery(&instance.instance_id),
            JobKind::QueryOrder {
                instance_id: instance.instance_id.clone(),
                order_id: req.order_id,
                order_line_id: req.order_line_id,
            },
            now,
        )?;
        let mut event = audit(now, call, "created", &instance);
        event.business_id = Some(req.business_id);
        let id = instance.instance_id.clone();
        self.store.write(WriteBatch {
            idempotency: vec![(key, id.clone().into_bytes())],
            audit: vec![event],
            instances: vec![instance],
            jobs: vec![job],
            ..WriteBatch::default()
        })?;
        self.jobs.wake();
        Ok(id)
    }

    /// refreshInstance: TRIAL_TO_FORMAL, RENEWAL and RENEWAL_CHANGE extend the validity,
    /// UNSUBSCRIBE_RENEWAL_PERIOD sets it (and may shorten it); once per (scene, orderId,
    /// orderLineId); carried over to every license.
    pub(crate) fn renew_instance(
        &self,
        req: Renew,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.target));
        let Some(mut instance) = self.store.online_instance(&req.target)? else {
            return self.test_replay(call, &req.target, "unknown instance", now);
        };
        let key = IdemKey::InstanceRefresh {
            instance: &req.target,
            scene: req.scene.as_str(),
            order: &req.order_id,
            line: req.order_line_id.as_deref().unwrap_or(""),
        }
        .to_string();
        let mut event = audit(now, call, "renewed", &instance);
        event.order_id = Some(req.order_id.clone());
        // A replay answers as the first call did, also after a release.
        if self.store.idempotency(&key)?.is_some() {
            event.outcome = "replayed".into();
            return self.audit_only(event);
        }
        if instance.status == InstanceStatus::Released {
            return self.test_replay(call, &req.target, "released instance", now);
        }
        let before = instance.expires_at;
        let change = ExpiryChange::of(req.scene.extends(), req.expires_at);
        instance.expires_at = change.apply_to_order(instance.expires_at);
        if let Some(product) = &req.product_id {
            instance.product_id = Some(product.clone());
        }
        let formal = req.scene == Scene::TrialToFormal;
        if formal {
            instance.trial = false;
        }
        let unfreeze = req.scene.extends();
        if unfreeze {
            if instance.status == InstanceStatus::Frozen {
                instance.status = InstanceStatus::Active;
            }
            renewal::renewal_applied(&mut instance.status_signed_at, call.signed_at);
        }
        instance.updated_at = now;
        // The licenses follow the instance's validity, by the same rule.
        let expiry = ExpiryChange::for_licenses(req.scene.extends(), instance.expires_at);
        let renewal = Renewal {
            product_id: req.product_id.as_deref(),
            formal,
            unfreeze,
            ..Renewal::expiry(expiry)
        };
        let (licenses, superseded) = self.renew_devices(&instance.devices, &renewal, now)?;
        event.detail = Some(format!(
            "scene {}: expiry {before:?} -> {:?} (requested {}); {} license(s) re-signed",
            req.scene.as_str(),
            instance.expires_at,
            req.expires_at,
            licenses.len()
        ));
        self.store.write(WriteBatch {
            licenses,
            idempotency: vec![(key, req.expires_at.to_rfc3339().into_bytes())],
            audit: vec![event],
            revocation_changed: superseded,
            instances: vec![instance],
            ..WriteBatch::default()
        })?;
        Ok(())
    }

    /// updateInstanceStatus FREEZE / UNFREEZE (idempotent; a released instance stays released;
    /// one signed before the last status change applied is stale).
    pub(crate) fn set_instance_status(
        &self,
        req: SetStatus,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.target));
        let Some(mut instance) = self.store.online_instance(&req.target)? else {
            return self.test_replay(call, &req.target, "unknown instance", now);
        };
        let mut event = audit(now, call, "unchanged", &instance);
        if instance.status == InstanceStatus::Released {
            event.detail = Some("the instance is released".into());
            return self.audit_only(event);
        }
        if renewal::status_is_stale(instance.status_signed_at, call.signed_at) {
            event.outcome = "ignored".into();
            event.detail = Some("stale status change: signed before the last one".into());
            return self.audit_only(event);
        }
        let (from, to, license_to) = if req.freeze {
            (
                InstanceStatus::Active,
                InstanceStatus::Frozen,
                LicenseStatus::Frozen,
            )
        } else {
            (
                InstanceStatus::Frozen,
                InstanceStatus::Active,
                LicenseStatus::Active,
            )
        };
        instance.status_signed_at = renewal::latest(instance.status_signed_at, call.signed_at);
        let mut batch = WriteBatch::default();
        if instance.status == from {
            event.outcome = "changed".into();
            instance.status = to;
            instance.updated_at = now;
            let reason = "frozen at the marketplace";
            let (licenses, _) =
                self.set_devices_status(&instance.devices, license_to, reason, now)?;
            event.detail = Some(format!(
                "{} license(s) -> {}",
                licenses.len(),
                license_to.as_str()
            ));
            batch.licenses = licenses;
        }
        batch.audit.push(event);
        batch.instances.push(instance);
        self.store.write(batch)?;
        Ok(())
    }

    /// releaseInstance: the instance and its licenses become tombstones; releasing twice
    /// succeeds.
    pub(crate) fn release_instance(
        &self,
        req: Release,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.target));
        let Some(mut instance) = self.store.online_instance(&req.target)? else {
            return self.test_replay(call, &req.target, "unknown instance", now);
        };
        let changed = instance.status != InstanceStatus::Released;
        let outcome = if changed { "released" } else { "unchanged" };
        let mut event = audit(now, call, outcome, &instance);
        if let Some(order) = req.order_id {
            event.detail = Some(format!(
                "unsubscription order {order} {:?}",
                req.order_line_id
            ));
        }
        if !changed {
            return self.audit_only(event);
        }
        instance.status = InstanceStatus::Released;
        instance.updated_at = now;
        let reason = "released at the marketplace";
        let (licenses, revocation_changed) =
            self.set_devices_status(&instance.devices, LicenseStatus::Released, reason, now)?;
        self.store.write(WriteBatch {
            licenses,
            audit: vec![event],
            revocation_changed,
            instances: vec![instance],
            ..WriteBatch::default()
        })?;
        Ok(())
    }
}

/// Fills in what the order query told about the instance. Fields already known (from a later
/// `refreshInstance`, which is authoritative) are kept.
pub(super) fn apply_order_details(
    instance: &mut OnlineInstance,
    details: &OrderDetails,
    now: DateTime<Utc>,
) {
    fn fill<T: Clone>(have: &mut Option<T>, new: &Option<T>) {
        if have.is_none() {
            have.clone_from(new);
        }
    }
    fill(&mut instance.product_id, &details.product_id);
    fill(&mut instance.sku_code, &details.sku_code);
    fill(&mut instance.product_name, &details.product_name);
    fill(&mut instance.amount, &details.amount);
    fill(&mut instance.charging_mode, &details.charging_mode);
    fill(&mut instance.period_type, &details.period_type);
    fill(&mut instance.expires_at, &details.expires_at);
    fill(&mut instance.order_created_at, &details.created_at);
    if instance.order_fetched_at.is_none() {
        instance.trial = details.trial.unwrap_or(instance.trial);
    }
    instance.order_fetched_at = Some(now);
    instance.updated_at = now;
}
