//! getLicenseAsync (spec §6.5): validate (000900–000903), issue the machine's license (or find
//! the one it holds), answer, and deliver the license through the upload open API (§6.6) from
//! the outbox, keyed by `eventId`.

use chrono::{DateTime, Utc};

use super::machines::{
    self, find_machine, fingerprint_digest, machine_limit, machines_in_use, PostError, Renewal,
};
use super::online::{audit, audit_only, instance_lock, load};
use super::post_params::LicenseAsync;
use crate::licensing::policy::BindingKind;
use crate::licensing::{self, NewLicense};
use crate::marketplace::outbox::Outbox;
use crate::state::AppState;
use crate::store::market::MarketBatch;
use crate::store::market_records::{Device, InstanceStatus, JobKind, JobState, OnlineInstance};
use crate::store::records::{LicenseStatus, Origin};
use crate::store::WriteBatch;

/// Leeway when comparing a requested license period with the order's (time zones, rounding).
const VALIDITY_LEEWAY_HOURS: i64 = 24;

fn check_validity(
    instance: &OnlineInstance,
    req: &LicenseAsync,
    now: DateTime<Utc>,
) -> Result<(), PostError> {
    let leeway = chrono::Duration::hours(VALIDITY_LEEWAY_HOURS);
    if let Some(end) = instance.expires_at {
        if now >= end || req.effective_at >= end {
            return Err(PostError::OutsideValidity(format!(
                "the order is valid until {end}; apply within its validity"
            )));
        }
        if req.expires_at.is_some_and(|e| e > end + leeway) {
            return Err(PostError::OutsideValidity(format!(
                "expireTime is after the order's end {end}"
            )));
        }
    }
    if let Some(start) = instance.order_created_at {
        if req.effective_at + leeway < start {
            return Err(PostError::OutsideValidity(format!(
                "effectiveTime is before the order was placed ({start})"
            )));
        }
    }
    Ok(())
}

/// getLicenseAsync: validate (000900–000903), issue (or find) the license of this machine, answer
/// `000000`, and deliver it through the upload open API (outbox job `upload/<eventId>`). The
/// same eventId and fingerprint always name the same license and one upload.
pub(crate) fn license_async(
    state: &AppState,
    req: LicenseAsync,
    now: DateTime<Utc>,
) -> Result<(), PostError> {
    let _guard = state.locks.lock(&instance_lock(&req.instance_id));
    let mut instance = load(state, &req.instance_id)?;
    if instance.status == InstanceStatus::Released {
        return Err(PostError::Unknown(format!(
            "instance {} is released",
            req.instance_id
        )));
    }
    let digest = fingerprint_digest(req.fingerprint.as_deref());
    let event_key = format!("km2/event/{}/{digest}", req.event_id);
    let upload_key = format!("upload/{}", req.event_id);
    let mut event = audit(now, "getLicenseAsync", "issued", &instance);
    event.test |= req.test;
    event.detail = Some(format!("eventId {}", req.event_id));
    if let Some(license_id) = state.store.idempotency(&event_key)? {
        event.license_id = Some(String::from_utf8_lossy(&license_id).into_owned());
        event.outcome = "replayed".into();
        // A repeated request re-arms an upload that gave up; a done upload is never resent.
        if let Some(job) = state.store.outbox_job_by_key(&upload_key)? {
            if job.state == JobState::Failed {
                state.market.outbox.retry(&state.store, job.id, now)?;
            }
        }
        return audit_only(state, event);
    }
    if state.store.outbox_job_by_key(&upload_key)?.is_some() {
        return Err(PostError::Invalid(format!(
            "eventId {} was already used with another deviceFingerprint",
            req.event_id
        )));
    }
    if instance.status == InstanceStatus::Frozen {
        return Err(PostError::OutsideValidity("the instance is frozen".into()));
    }
    let Some(product_id) = instance.product_id.clone() else {
        if let Some(job) = state
            .store
            .outbox_job_by_key(&format!("order/{}", instance.instance_id))?
        {
            state.market.outbox.retry(&state.store, job.id, now)?;
        }
        return Err(PostError::NotYet(
            "the order's details are not known yet (order query pending); retry later".into(),
        ));
    };
    let policy = state
        .policies
        .for_product(&product_id, instance.sku_code.as_deref());
    let binds = matches!(policy.binding, BindingKind::Hardware | BindingKind::System);
    if binds && req.fingerprint.is_none() {
        return Err(PostError::FingerprintRequired(
            "this product binds licenses to a machine: deviceFingerprint is required".into(),
        ));
    }
    if instance.periodic() && req.expires_at.is_none() {
        return Err(PostError::ExpiryRequired(
            "a periodic purchase needs expireTime".into(),
        ));
    }
    check_validity(&instance, &req, now)?;
    let expires_at = req.expires_at.or(instance.expires_at);
    let mut superseded = false;
    let record = match find_machine(state, &instance.devices, req.fingerprint.as_deref())? {
        Some(record)
            if matches!(
                record.status,
                LicenseStatus::Revoked | LicenseStatus::Suspended
            ) =>
        {
            return Err(PostError::Invalid(format!(
                "this machine's license is {} by the merchant",
                record.status.as_str()
            )));
        }
        Some(mut record) => {
            event.outcome = "same machine".into();
            if record.expires_at != expires_at {
                let renewal = Renewal {
                    expires_at,
                    product_id: None,
                    formal: false,
                    unfreeze: false,
                };
                let device = Device {
                    license_id: record.license_id.clone(),
                    fingerprint_sha256: digest.clone(),
                };
                let (mut renewed, s) = machines::renew_licenses(state, &[device], &renewal, now)?;
                superseded = s;
                record = renewed.pop().unwrap_or(record);
            }
            record
        }
        None => {
            if let Some(max) = machine_limit(policy, instance.amount) {
                if machines_in_use(state, &instance.devices)? >= max {
                    return Err(PostError::QuantityExhausted(format!(
                        "all {max} license(s) of this order are in use"
                    )));
                }
            }
            let record = licensing::create(
                NewLicense {
                    origin: Origin::KoomarketOnline,
                    instance_id: Some(instance.instance_id.clone()),
                    order_id: Some(instance.order_id.clone()),
                    product_id,
                    sku_code: instance.sku_code.clone(),
                    customer_id: None,
                    customer_name: None,
                    trial: instance.trial,
                    test: instance.test || req.test,
                    charging_mode: instance.charging_mode.clone(),
                    period_type: instance.period_type.clone(),
                    period_number: None,
                    amount: instance.amount,
                    expires_at,
                    identifier: req.fingerprint.clone(),
                },
                policy,
                &state.signer,
                now,
            )?;
            instance.devices.push(Device {
                license_id: record.license_id.clone(),
                fingerprint_sha256: digest,
            });
            instance.updated_at = now;
            record
        }
    };
    event.license_id = Some(record.license_id.clone());
    let job = Outbox::job(
        &state.store,
        upload_key,
        JobKind::UploadLicense {
            event_id: req.event_id,
            instance_id: instance.instance_id.clone(),
            license_id: record.license_id.clone(),
            characters: record.token.clone(),
        },
        now,
    )?;
    state.store.write_market(MarketBatch {
        base: WriteBatch {
            idempotency: vec![(event_key, record.license_id.clone().into_bytes())],
            licenses: vec![record],
            audit: vec![event],
            revocation_changed: superseded,
        },
        instances: vec![instance],
        jobs: vec![job],
        ..MarketBatch::default()
    })?;
    state.market.outbox.wake();
    Ok(())
}
