//! The online-license activities (在线开通License, spec §6) newInstance, refreshInstance,
//! updateInstanceStatus and releaseInstance (getLicenseAsync is in `license_async`). Same
//! discipline as the GET lifecycle: the lock of the order or instance is held from the first read
//! until the write is durable, every change (licenses, instance, idempotency key, audit event,
//! outbox job) is one transaction, and the answer comes after the group commit.

use chrono::{DateTime, Utc};

use super::machines::{self, PostError, Renewal};
use super::post_params::{NewInstance, Refresh, Release, Scene, StatusChange};
use crate::marketplace::outbox::Outbox;
use crate::marketplace::OrderDetails;
use crate::state::AppState;
use crate::store::market::MarketBatch;
use crate::store::market_records::{InstanceStatus, JobKind, OnlineInstance};
use crate::store::records::{AuditEvent, LicenseStatus};
use crate::store::WriteBatch;

/// The lock of an instance: the same key the merchant actions take for its licenses.
pub(crate) fn instance_lock(instance_id: &str) -> String {
    format!("km/instance/{instance_id}")
}

pub(super) fn audit(
    now: DateTime<Utc>,
    action: &str,
    outcome: &str,
    instance: &OnlineInstance,
) -> AuditEvent {
    AuditEvent {
        id: 0,
        at: now,
        actor: super::lifecycle::ACTOR.into(),
        action: action.into(),
        outcome: outcome.into(),
        license_id: None,
        instance_id: Some(instance.instance_id.clone()),
        order_id: Some(instance.order_id.clone()),
        business_id: None,
        test: instance.test,
        detail: None,
    }
}

pub(super) fn audit_only(state: &AppState, event: AuditEvent) -> Result<(), PostError> {
    state.store.write_market(MarketBatch {
        base: WriteBatch {
            audit: vec![event],
            ..WriteBatch::default()
        },
        ..MarketBatch::default()
    })?;
    Ok(())
}

pub(super) fn load(state: &AppState, instance_id: &str) -> Result<OnlineInstance, PostError> {
    state
        .store
        .online_instance(instance_id)?
        .ok_or_else(|| PostError::Unknown(format!("instance {instance_id} does not exist")))
}

/// newInstance: one instance per (orderId, orderLineId), answered at once; the order's details
/// are fetched afterwards by the outbox (order query), never while the marketplace waits.
pub(crate) fn new_instance(
    state: &AppState,
    req: NewInstance,
    now: DateTime<Utc>,
) -> Result<String, PostError> {
    let key = format!("km2/order/{}/{}", req.order_id, req.order_line_id);
    let _guard = state.locks.lock(&key);
    if let Some(id) = state.store.idempotency(&key)? {
        let id = String::from_utf8_lossy(&id).into_owned();
        let instance = load(state, &id)
            .map_err(|_| PostError::Internal(format!("order index names missing instance {id}")))?;
        let mut event = audit(now, "newInstance", "replayed", &instance);
        event.business_id = Some(req.business_id);
        audit_only(state, event)?;
        return Ok(id);
    }
    let instance = OnlineInstance {
        instance_id: uuid::Uuid::new_v4().to_string(),
        order_id: req.order_id.clone(),
        order_line_id: req.order_line_id.clone(),
        business_id: Some(req.business_id.clone()),
        status: InstanceStatus::Active,
        trial: false,
        test: req.test,
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
        created_at: now,
        updated_at: now,
    };
    let job = Outbox::job(
        &state.store,
        format!("order/{}", instance.instance_id),
        JobKind::QueryOrder {
            instance_id: instance.instance_id.clone(),
            order_id: req.order_id,
            order_line_id: req.order_line_id,
        },
        now,
    )?;
    let mut event = audit(now, "newInstance", "created", &instance);
    event.business_id = Some(req.business_id);
    let id = instance.instance_id.clone();
    state.store.write_market(MarketBatch {
        base: WriteBatch {
            idempotency: vec![(key, id.clone().into_bytes())],
            audit: vec![event],
            ..WriteBatch::default()
        },
        instances: vec![instance],
        jobs: vec![job],
        ..MarketBatch::default()
    })?;
    state.market.outbox.wake();
    Ok(id)
}

/// Fills in what the order query told about the instance. Fields already known (from a later
/// `refreshInstance`, which is authoritative) are kept.
pub(crate) fn apply_order_details(
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

/// refreshInstance: TRIAL_TO_FORMAL, RENEWAL, UNSUBSCRIBE_RENEWAL_PERIOD (the expiry may move
/// backwards), once per (scene, orderId, orderLineId); carried over to every license.
pub(crate) fn refresh(state: &AppState, req: Refresh, now: DateTime<Utc>) -> Result<(), PostError> {
    let _guard = state.locks.lock(&instance_lock(&req.target));
    let mut instance = load(state, &req.target)?;
    if instance.status == InstanceStatus::Released {
        return Err(PostError::Unknown(format!(
            "instance {} is released",
            req.target
        )));
    }
    let key = format!(
        "km2/refresh/{}/{}/{}/{}",
        req.target,
        req.scene.as_str(),
        req.order_id,
        req.order_line_id
    );
    let mut event = audit(now, "refreshInstance", "renewed", &instance);
    event.order_id = Some(req.order_id.clone());
    event.test |= req.test;
    if state.store.idempotency(&key)?.is_some() {
        event.outcome = "replayed".into();
        return audit_only(state, event);
    }
    let before = instance.expires_at;
    instance.expires_at = Some(req.expires_at);
    if let Some(product) = &req.product_id {
        instance.product_id = Some(product.clone());
    }
    let formal = req.scene == Scene::TrialToFormal;
    if formal {
        instance.trial = false;
    }
    let unfreeze = req.scene != Scene::UnsubscribeRenewalPeriod;
    if unfreeze && instance.status == InstanceStatus::Frozen {
        instance.status = InstanceStatus::Active;
    }
    instance.updated_at = now;
    let renewal = Renewal {
        expires_at: instance.expires_at,
        product_id: req.product_id.as_deref(),
        formal,
        unfreeze,
    };
    let (licenses, superseded) = machines::renew_licenses(state, &instance.devices, &renewal, now)?;
    event.detail = Some(format!(
        "scene {}: expiry {before:?} -> {:?}; {} license(s) re-signed",
        req.scene.as_str(),
        instance.expires_at,
        licenses.len()
    ));
    state.store.write_market(MarketBatch {
        base: WriteBatch {
            licenses,
            idempotency: vec![(key, req.expires_at.to_rfc3339().into_bytes())],
            audit: vec![event],
            revocation_changed: superseded,
        },
        instances: vec![instance],
        ..MarketBatch::default()
    })?;
    Ok(())
}

/// updateInstanceStatus FREEZE / UNFREEZE (idempotent; a released instance stays released).
pub(crate) fn set_status(
    state: &AppState,
    req: StatusChange,
    now: DateTime<Utc>,
) -> Result<(), PostError> {
    let _guard = state.locks.lock(&instance_lock(&req.target));
    let mut instance = load(state, &req.target)?;
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
    let changed = instance.status == from;
    let action = "updateInstanceStatus";
    let mut event = audit(
        now,
        action,
        if changed { "changed" } else { "unchanged" },
        &instance,
    );
    event.test |= req.test;
    if !changed {
        return audit_only(state, event);
    }
    instance.status = to;
    instance.updated_at = now;
    let reason = "frozen at the marketplace";
    let (licenses, _) =
        machines::set_license_status(state, &instance.devices, license_to, reason, now)?;
    event.detail = Some(format!(
        "{} license(s) -> {}",
        licenses.len(),
        license_to.as_str()
    ));
    state.store.write_market(MarketBatch {
        base: WriteBatch {
            licenses,
            audit: vec![event],
            ..WriteBatch::default()
        },
        instances: vec![instance],
        ..MarketBatch::default()
    })?;
    Ok(())
}

/// releaseInstance: the instance and its licenses become tombstones; releasing twice succeeds.
pub(crate) fn release(state: &AppState, req: Release, now: DateTime<Utc>) -> Result<(), PostError> {
    let _guard = state.locks.lock(&instance_lock(&req.target));
    let mut instance = load(state, &req.target)?;
    let changed = instance.status != InstanceStatus::Released;
    let mut event = audit(
        now,
        "releaseInstance",
        if changed { "released" } else { "unchanged" },
        &instance,
    );
    event.test |= req.test;
    if let Some(order) = req.order_id {
        event.detail = Some(format!(
            "unsubscription order {order} {:?}",
            req.order_line_id
        ));
    }
    if !changed {
        return audit_only(state, event);
    }
    instance.status = InstanceStatus::Released;
    instance.updated_at = now;
    let reason = "released at the marketplace";
    let (licenses, revocation_changed) = machines::set_license_status(
        state,
        &instance.devices,
        LicenseStatus::Released,
        reason,
        now,
    )?;
    state.store.write_market(MarketBatch {
        base: WriteBatch {
            licenses,
            audit: vec![event],
            revocation_changed,
            ..WriteBatch::default()
        },
        instances: vec![instance],
        ..MarketBatch::default()
    })?;
    Ok(())
}
