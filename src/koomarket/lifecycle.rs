//! What each KooMarket License activity does to a license: provision (getLicense/newInstance),
//! renew, freeze/unfreeze, release, upgrade. Each operation holds the lock of its order or
//! instance from the first read until its write is durable, so retries and concurrent duplicates
//! see one consistent state, and answers success only after `Store::write` has synced.

use chrono::{DateTime, Utc};

use super::extend;
use super::params::{InstanceRequest, ProvisionRequest, RenewRequest, UpgradeRequest};
use crate::licensing::policy::{BindingKind, Policies};
use crate::licensing::{self, KeyLocks, LicensingError, NewLicense};
use crate::signing::Signer;
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus, Origin};
use crate::store::{Store, StoreError, WriteBatch};

/// Actor name of marketplace callbacks in the audit log.
pub(crate) const ACTOR: &str = "koomarket";

/// Why an operation failed; mapped to a `resultCode` by the handler.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpError {
    /// The request is invalid (`000002`).
    #[error("{0}")]
    Invalid(String),
    /// No such instance (`000003`).
    #[error("instance {0} does not exist")]
    UnknownInstance(String),
    /// Storage failed (`000005`).
    #[error("storage failure")]
    Storage(#[from] StoreError),
    /// An internal inconsistency (`000005`).
    #[error("internal error")]
    Internal(String),
}

impl From<LicensingError> for OpError {
    fn from(e: LicensingError) -> Self {
        match e {
            LicensingError::Corrupt(m) => OpError::Internal(m),
            other => OpError::Invalid(other.to_string()),
        }
    }
}

/// What operations need.
pub(crate) struct Ctx<'a> {
    /// Storage.
    pub(crate) store: &'a Store,
    /// Signing key.
    pub(crate) signer: &'a Signer,
    /// Product policies.
    pub(crate) policies: &'a Policies,
    /// Lock table.
    pub(crate) locks: &'a KeyLocks,
    /// The current time.
    pub(crate) now: DateTime<Utc>,
}

/// The answer to a provisioning call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provisioned {
    /// instanceId.
    pub(crate) instance_id: String,
    /// The current one-line license.
    pub(crate) license: String,
    /// The call repeated an order already provisioned.
    pub(crate) replayed: bool,
}

fn event(
    ctx: &Ctx<'_>,
    action: &str,
    outcome: &str,
    license: Option<&LicenseRecord>,
) -> AuditEvent {
    AuditEvent {
        id: 0,
        at: ctx.now,
        actor: ACTOR.into(),
        action: action.into(),
        outcome: outcome.into(),
        license_id: license.map(|l| l.license_id.clone()),
        instance_id: license.and_then(|l| l.instance_id.clone()),
        order_id: None,
        business_id: None,
        test: license.is_some_and(|l| l.test),
        detail: None,
    }
}

/// getLicense / newInstance: one license per `orderId`, forever.
pub(crate) fn provision(
    ctx: &Ctx<'_>,
    req: ProvisionRequest,
    activity: &str,
) -> Result<Provisioned, OpError> {
    let idem_key = format!("km/order/{}", req.order_id);
    let _guard = ctx.locks.lock(&idem_key);
    if let Some(id) = ctx.store.idempotency(&idem_key)? {
        let id = String::from_utf8_lossy(&id).into_owned();
        let record = ctx
            .store
            .license(&id)?
            .ok_or_else(|| OpError::Internal(format!("order index names missing license {id}")))?;
        let mut audit = event(ctx, activity, "replayed", Some(&record));
        audit.order_id = Some(req.order_id.clone());
        audit.business_id = Some(req.business_id.clone());
        // The write also syncs: nothing is acknowledged before it is on disk, even if the first
        // call's answer was lost.
        ctx.store.write(WriteBatch {
            audit: vec![audit],
            ..WriteBatch::default()
        })?;
        return Ok(Provisioned {
            instance_id: record.instance_id.clone().unwrap_or_default(),
            license: record.token,
            replayed: true,
        });
    }

    let policy = ctx
        .policies
        .for_product(&req.product_id, req.sku_code.as_deref());
    let identifier = match &req.extend_params {
        Some(raw) => {
            let params = extend::decode_extend_params(raw)
                .map_err(|e| OpError::Invalid(format!("saasExtendParams: {e}")))?;
            extend::identification_code(&params).map(str::to_string)
        }
        None => None,
    };
    if identifier.is_none() && activity == "getLicense" && policy.binding != BindingKind::None {
        return Err(OpError::Invalid(
            "saasExtendParams with identificationCode is required for getLicense".into(),
        ));
    }
    let perpetual = req.charging_mode.as_deref() == Some("3");
    let instance_id = licensing::new_id().to_string();
    let record = licensing::create(
        NewLicense {
            origin: Origin::KoomarketGet,
            instance_id: Some(instance_id.clone()),
            order_id: Some(req.order_id.clone()),
            product_id: req.product_id.clone(),
            sku_code: req.sku_code.clone(),
            customer_id: Some(req.customer_id.clone()),
            customer_name: req.customer_name.clone(),
            trial: req.trial,
            test: req.test,
            charging_mode: req.charging_mode.clone(),
            period_type: req.period_type.clone(),
            period_number: req.period_number.clone(),
            amount: req.amount,
            expires_at: if perpetual { None } else { req.expires_at },
            identifier,
        },
        policy,
        ctx.signer,
        ctx.now,
    )?;
    let mut audit = event(ctx, activity, "issued", Some(&record));
    audit.order_id = Some(req.order_id.clone());
    audit.business_id = Some(req.business_id.clone());
    let answer = Provisioned {
        instance_id,
        license: record.token.clone(),
        replayed: false,
    };
    ctx.store.write(WriteBatch {
        idempotency: vec![(idem_key, record.license_id.clone().into_bytes())],
        licenses: vec![record],
        audit: vec![audit],
        ..WriteBatch::default()
    })?;
    Ok(answer)
}

fn load_instance(ctx: &Ctx<'_>, instance_id: &str) -> Result<LicenseRecord, OpError> {
    ctx.store
        .license_by_instance(instance_id)?
        .ok_or_else(|| OpError::UnknownInstance(instance_id.to_string()))
}

/// The license of an instance that has not been released (a released one is answered as
/// unknown to order-keyed changes).
fn load_live_instance(ctx: &Ctx<'_>, instance_id: &str) -> Result<LicenseRecord, OpError> {
    let record = load_instance(ctx, instance_id)?;
    if record.status == LicenseStatus::Released {
        return Err(OpError::UnknownInstance(format!(
            "{instance_id} (released)"
        )));
    }
    Ok(record)
}

/// Whether the order behind `idem_key` was applied before; if so, records the replay in the
/// audit log (durably, like every acknowledged call) and changes nothing else.
fn already_applied(ctx: &Ctx<'_>, idem_key: &str, mut audit: AuditEvent) -> Result<bool, OpError> {
    if ctx.store.idempotency(idem_key)?.is_none() {
        return Ok(false);
    }
    audit.outcome = "replayed".into();
    ctx.store.write(WriteBatch {
        audit: vec![audit],
        ..WriteBatch::default()
    })?;
    Ok(true)
}

/// refreshLicense / refreshInstance: set the expiry once per renewal order.
pub(crate) fn renew(ctx: &Ctx<'_>, req: RenewRequest, activity: &str) -> Result<(), OpError> {
    let _guard = ctx.locks.lock(&format!("km/instance/{}", req.instance_id));
    let mut record = load_live_instance(ctx, &req.instance_id)?;
    let idem_key = format!("km/renew/{}/{}", req.instance_id, req.order_id);
    let mut audit = event(ctx, activity, "renewed", Some(&record));
    audit.order_id = Some(req.order_id.clone());
    audit.test |= req.test;
    if already_applied(ctx, &idem_key, audit.clone())? {
        return Ok(());
    }
    let before = format!(
        "expires {:?}, product {}, trial {}, status {}",
        record.expires_at,
        record.product_id,
        record.trial,
        record.status.as_str()
    );
    if let Some(product) = req.product_id.filter(|p| *p != record.product_id) {
        let old = std::mem::replace(&mut record.product_id, product);
        record.previous_product_ids.push(old);
    }
    if req.trial_to_formal {
        record.trial = false;
    }
    let policy = ctx
        .policies
        .for_product(&record.product_id, record.sku_code.as_deref());
    record.features = policy.features_for(record.trial);
    record.quantity = policy.quantity(record.amount);
    record.expires_at = Some(req.expires_at);
    if req.period_type.is_some() {
        record.period_type = req.period_type;
    }
    if req.period_number.is_some() {
        record.period_number = req.period_number;
    }
    if record.status == LicenseStatus::Frozen {
        record.status = LicenseStatus::Active;
        record.status_reason = None;
    }
    licensing::resign(&mut record, ctx.signer, ctx.now)?;
    audit.detail = Some(format!(
        "before: {before}; after: expires {:?}, revision {}",
        record.expires_at, record.revision
    ));
    ctx.store.write(WriteBatch {
        idempotency: vec![(idem_key, req.expires_at.to_rfc3339().into_bytes())],
        licenses: vec![record],
        audit: vec![audit],
        ..WriteBatch::default()
    })?;
    Ok(())
}

/// expireLicense / expireInstance / instanceStatus: freeze (`frozen`) or unfreeze.
pub(crate) fn set_frozen(
    ctx: &Ctx<'_>,
    req: InstanceRequest,
    frozen: bool,
    activity: &str,
) -> Result<(), OpError> {
    let _guard = ctx.locks.lock(&format!("km/instance/{}", req.instance_id));
    let mut record = load_instance(ctx, &req.instance_id)?;
    let (from, to) = if frozen {
        (LicenseStatus::Active, LicenseStatus::Frozen)
    } else {
        (LicenseStatus::Frozen, LicenseStatus::Active)
    };
    let changed = record.status == from;
    let mut audit = event(
        ctx,
        activity,
        match (changed, frozen) {
            (true, true) => "frozen",
            (true, false) => "unfrozen",
            (false, _) => "unchanged",
        },
        Some(&record),
    );
    audit.order_id = req.order_id;
    audit.test |= req.test;
    if !changed {
        audit.detail = Some(format!("status stays {}", record.status.as_str()));
    }
    let mut batch = WriteBatch {
        audit: vec![audit],
        ..WriteBatch::default()
    };
    if changed {
        record.status = to;
        record.status_reason = frozen.then(|| "expired at the marketplace".to_string());
        record.updated_at = ctx.now;
        batch.licenses.push(record);
    }
    ctx.store.write(batch)?;
    Ok(())
}

/// releaseLicense / releaseInstance: keep a tombstone; releasing twice succeeds.
pub(crate) fn release(ctx: &Ctx<'_>, req: InstanceRequest, activity: &str) -> Result<(), OpError> {
    let _guard = ctx.locks.lock(&format!("km/instance/{}", req.instance_id));
    let mut record = load_instance(ctx, &req.instance_id)?;
    let changed = record.status != LicenseStatus::Released;
    let mut audit = event(
        ctx,
        activity,
        if changed { "released" } else { "unchanged" },
        Some(&record),
    );
    audit.order_id = req.order_id;
    audit.test |= req.test;
    let mut batch = WriteBatch {
        audit: vec![audit],
        ..WriteBatch::default()
    };
    if changed {
        record.status = LicenseStatus::Released;
        record.status_reason = Some("released at the marketplace".into());
        record.updated_at = ctx.now;
        batch.licenses.push(record);
        batch.revocation_changed = true;
    }
    ctx.store.write(batch)?;
    Ok(())
}

/// upgrade: new sku/product/amount, applied once per upgrade order.
pub(crate) fn upgrade(ctx: &Ctx<'_>, req: UpgradeRequest, activity: &str) -> Result<(), OpError> {
    let _guard = ctx.locks.lock(&format!("km/instance/{}", req.instance_id));
    let mut record = load_live_instance(ctx, &req.instance_id)?;
    let idem_key = format!("km/upgrade/{}/{}", req.instance_id, req.order_id);
    let mut audit = event(ctx, activity, "upgraded", Some(&record));
    audit.order_id = Some(req.order_id.clone());
    audit.test |= req.test;
    if already_applied(ctx, &idem_key, audit.clone())? {
        return Ok(());
    }
    if req.product_id != record.product_id {
        let old = std::mem::replace(&mut record.product_id, req.product_id);
        record.previous_product_ids.push(old);
    }
    record.sku_code = Some(req.sku_code);
    if req.amount.is_some() {
        record.amount = req.amount;
    }
    let policy = ctx
        .policies
        .for_product(&record.product_id, record.sku_code.as_deref());
    record.features = policy.features_for(record.trial);
    record.quantity = policy.quantity(record.amount);
    licensing::resign(&mut record, ctx.signer, ctx.now)?;
    ctx.store.write(WriteBatch {
        idempotency: vec![(idem_key, record.revision.to_be_bytes().to_vec())],
        licenses: vec![record],
        audit: vec![audit],
        ..WriteBatch::default()
    })?;
    Ok(())
}
