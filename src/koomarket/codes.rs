//! License 2.0 authorization-code callbacks (spec §5.2): refreshLicenseCode (RENEWAL,
//! UNSUBSCRIBE_RENEWAL_PERIOD), updateLicenseCodeStatus (FREEZE/UNFREEZE), releaseLicenseCode.
//! A code is known once the service has activated it for a customer (`POST /v1/activate`); a
//! callback about any other code is answered `000003` (授权码ID不存在) and changes nothing.
//!
//! A code's licenses follow it: a renewal re-signs them (superseding the earlier tokens when the
//! expiry moves backwards), FREEZE and EXPIRED freeze them, RELEASED releases them.

use chrono::{DateTime, Utc};

use super::machines::{self, PostError, Renewal};
use super::online::instance_lock;
use super::post_params::{Refresh, Release, StatusChange};
use crate::state::AppState;
use crate::store::market::MarketBatch;
use crate::store::market_records::{CodeRecord, CodeStatus};
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus};
use crate::store::WriteBatch;

/// The lock of a code: the instance lock of its licenses (their instanceId is the code), so
/// merchant actions on them serialise with the callbacks and with activation.
pub(crate) fn code_lock(code: &str) -> String {
    instance_lock(code)
}

/// The license status that follows from a code status.
pub(crate) fn license_status(status: CodeStatus) -> LicenseStatus {
    match status {
        CodeStatus::Alive => LicenseStatus::Active,
        CodeStatus::Frozen | CodeStatus::Expired => LicenseStatus::Frozen,
        CodeStatus::Released => LicenseStatus::Released,
    }
}

/// An audit event about a code (actor `koomarket` for callbacks, `activation` otherwise).
pub(crate) fn audit(
    now: DateTime<Utc>,
    actor: &str,
    action: &str,
    outcome: &str,
    code: &CodeRecord,
) -> AuditEvent {
    AuditEvent {
        id: 0,
        at: now,
        actor: actor.into(),
        action: action.into(),
        outcome: outcome.into(),
        license_id: None,
        instance_id: Some(code.code.clone()),
        order_id: code.order_id.clone(),
        business_id: None,
        test: code.test,
        detail: None,
    }
}

/// Carries a status change of the code over to its licenses; returns them and whether the
/// revocation list changes.
pub(crate) fn follow_status(
    state: &AppState,
    code: &CodeRecord,
    now: DateTime<Utc>,
) -> Result<(Vec<LicenseRecord>, bool), PostError> {
    let reason = format!("authorization code {}", code.status.as_str());
    machines::set_license_status(
        state,
        &code.machines,
        license_status(code.status),
        &reason,
        now,
    )
}

fn load(state: &AppState, code: &str) -> Result<CodeRecord, PostError> {
    state
        .store
        .license_code(code)?
        .ok_or_else(|| PostError::Unknown(format!("authorization code {code} does not exist")))
}

fn write(
    state: &AppState,
    code: CodeRecord,
    licenses: Vec<LicenseRecord>,
    event: AuditEvent,
    idempotency: Vec<(String, Vec<u8>)>,
    revocation_changed: bool,
) -> Result<(), PostError> {
    state.store.write_market(MarketBatch {
        base: WriteBatch {
            licenses,
            idempotency,
            audit: vec![event],
            revocation_changed,
        },
        codes: vec![code],
        ..MarketBatch::default()
    })?;
    Ok(())
}

/// refreshLicenseCode: new expiry (may move backwards), once per (scene, orderId, orderLineId).
pub(crate) fn refresh(state: &AppState, req: Refresh, now: DateTime<Utc>) -> Result<(), PostError> {
    let _guard = state.locks.lock(&code_lock(&req.target));
    let mut code = load(state, &req.target)?;
    if code.status == CodeStatus::Released {
        return Err(PostError::Unknown(format!(
            "authorization code {} is released",
            req.target
        )));
    }
    let key = format!(
        "km2/code-refresh/{}/{}/{}/{}",
        req.target,
        req.scene.as_str(),
        req.order_id,
        req.order_line_id
    );
    let actor = super::lifecycle::ACTOR;
    let mut event = audit(now, actor, "refreshLicenseCode", "renewed", &code);
    event.order_id = Some(req.order_id.clone());
    event.test |= req.test;
    if state.store.idempotency(&key)?.is_some() {
        event.outcome = "replayed".into();
        return write(state, code, Vec::new(), event, Vec::new(), false);
    }
    let before = code.expires_at;
    code.expires_at = Some(req.expires_at);
    if let Some(product) = &req.product_id {
        code.product_id.clone_from(product);
    }
    // A renewal restores an expired or frozen code, as a GET renewal unfreezes a license.
    let renewal = req.scene == super::post_params::Scene::Renewal;
    if renewal && matches!(code.status, CodeStatus::Expired | CodeStatus::Frozen) {
        code.status = CodeStatus::Alive;
    }
    code.test |= req.test;
    code.updated_at = now;
    let (licenses, superseded) = machines::renew_licenses(
        state,
        &code.machines,
        &Renewal {
            expires_at: code.expires_at,
            product_id: req.product_id.as_deref(),
            formal: false,
            unfreeze: renewal,
        },
        now,
    )?;
    event.detail = Some(format!(
        "scene {}: expiry {before:?} -> {:?}; {} license(s) re-signed",
        req.scene.as_str(),
        code.expires_at,
        licenses.len()
    ));
    let idem = vec![(key, req.expires_at.to_rfc3339().into_bytes())];
    write(state, code, licenses, event, idem, superseded)
}

/// updateLicenseCodeStatus FREEZE / UNFREEZE (idempotent; released stays released).
pub(crate) fn set_status(
    state: &AppState,
    req: StatusChange,
    now: DateTime<Utc>,
) -> Result<(), PostError> {
    let _guard = state.locks.lock(&code_lock(&req.target));
    let mut code = load(state, &req.target)?;
    let next = match (req.freeze, code.status) {
        (true, CodeStatus::Alive | CodeStatus::Expired) => Some(CodeStatus::Frozen),
        (false, CodeStatus::Frozen) => Some(CodeStatus::Alive),
        _ => None,
    };
    let actor = super::lifecycle::ACTOR;
    let outcome = if next.is_some() {
        "changed"
    } else {
        "unchanged"
    };
    let mut event = audit(now, actor, "updateLicenseCodeStatus", outcome, &code);
    event.test |= req.test;
    let Some(next) = next else {
        return write(state, code, Vec::new(), event, Vec::new(), false);
    };
    code.status = next;
    code.updated_at = now;
    let (licenses, revocation_changed) = follow_status(state, &code, now)?;
    event.detail = Some(format!(
        "status -> {}; {} license(s)",
        next.as_str(),
        licenses.len()
    ));
    write(state, code, licenses, event, Vec::new(), revocation_changed)
}

/// releaseLicenseCode: the code and its licenses are released; releasing twice succeeds.
pub(crate) fn release(state: &AppState, req: Release, now: DateTime<Utc>) -> Result<(), PostError> {
    let _guard = state.locks.lock(&code_lock(&req.target));
    let mut code = load(state, &req.target)?;
    let changed = code.status != CodeStatus::Released;
    let actor = super::lifecycle::ACTOR;
    let outcome = if changed { "released" } else { "unchanged" };
    let mut event = audit(now, actor, "releaseLicenseCode", outcome, &code);
    event.test |= req.test;
    if let Some(order) = req.order_id {
        event.detail = Some(format!(
            "unsubscription order {order} {:?}",
            req.order_line_id
        ));
    }
    if !changed {
        return write(state, code, Vec::new(), event, Vec::new(), false);
    }
    code.status = CodeStatus::Released;
    code.updated_at = now;
    let (licenses, revocation_changed) = follow_status(state, &code, now)?;
    write(state, code, licenses, event, Vec::new(), revocation_changed)
}
