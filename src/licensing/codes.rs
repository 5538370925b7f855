//! License 2.0 authorization-code callbacks (spec §5.2): refreshLicenseCode, updateLicenseCodeStatus,
//! releaseLicenseCode. A code's licenses follow it: a renewal extends them (the one renewal
//! rule), 退续费 sets them (superseding the longer tokens), FREEZE and EXPIRED freeze them,
//! RELEASED releases them.
//!
//! A callback about a code not activated here yet (the code exists at the marketplace; the
//! buyer's software just has not called `/v1/activate`) is answered `000000` and kept as a
//! pending record that the first activation applies.

use chrono::{DateTime, Utc};

use super::commands::{Call, Release, Renew, SetStatus};
use super::handle::{event, MARKETPLACE};
use super::renewal::{self, ExpiryChange, Renewal};
use super::{Licensing, LicensingError};
use crate::store::keys::{IdemKey, LockKey};
use crate::store::market_records::{CodeRecord, CodeStatus, PendingCode};
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus};
use crate::store::WriteBatch;

/// The license status that follows from a code status.
pub(super) fn license_status(status: CodeStatus) -> LicenseStatus {
    match status {
        CodeStatus::Alive => LicenseStatus::Active,
        CodeStatus::Frozen | CodeStatus::Expired => LicenseStatus::Frozen,
        CodeStatus::Released => LicenseStatus::Released,
    }
}

/// An audit event about a code.
pub(super) fn audit(
    now: DateTime<Utc>,
    actor: &str,
    action: &str,
    outcome: &str,
    code: &str,
    test: bool,
) -> AuditEvent {
    AuditEvent {
        instance_id: Some(code.to_string()),
        test,
        ..event(now, actor, action, outcome)
    }
}

/// A code as the callbacks see it.
enum Known {
    Activated(CodeRecord),
    Pending(PendingCode),
}

impl Licensing {
    /// Carries the code's status over to its licenses; returns them and whether the
    /// revocation list changes.
    pub(super) fn follow_code_status(
        &self,
        code: &CodeRecord,
        now: DateTime<Utc>,
    ) -> Result<(Vec<LicenseRecord>, bool), LicensingError> {
        let reason = format!("authorization code {}", code.status.as_str());
        self.set_devices_status(&code.machines, license_status(code.status), &reason, now)
    }

    fn known_code(&self, code: &str, now: DateTime<Utc>) -> Result<Known, LicensingError> {
        if let Some(record) = self.store.license_code(code)? {
            return Ok(Known::Activated(record));
        }
        Ok(Known::Pending(self.store.pending_code(code)?.unwrap_or(
            PendingCode {
                code: code.to_string(),
                expires_at: None,
                shortened: false,
                status: None,
                status_signed_at: None,
                test: false,
                created_at: now,
                updated_at: now,
            },
        )))
    }

    /// refreshLicenseCode: RENEWAL extends the validity, UNSUBSCRIBE_RENEWAL_PERIOD sets it;
    /// once per (scene, orderId, orderLineId).
    pub(crate) fn renew_code(
        &self,
        req: Renew,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.target));
        let key = IdemKey::CodeRefresh {
            code: &req.target,
            scene: req.scene.as_str(),
            order: &req.order_id,
            line: req.order_line_id.as_deref().unwrap_or(""),
        }
        .to_string();
        let mut event = audit(
            now,
            MARKETPLACE,
            &call.activity,
            "renewed",
            &req.target,
            call.test,
        );
        event.order_id = Some(req.order_id.clone());
        if self.store.idempotency(&key)?.is_some() {
            event.outcome = "replayed".into();
            return self.audit_only(event);
        }
        let change = ExpiryChange::of(req.scene.extends(), req.expires_at);
        let mut batch = WriteBatch {
            idempotency: vec![(key, req.expires_at.to_rfc3339().into_bytes())],
            ..WriteBatch::default()
        };
        match self.known_code(&req.target, now)? {
            Known::Pending(mut pending) => {
                pending.expires_at = change.apply_to_order(pending.expires_at);
                pending.shortened = !req.scene.extends();
                pending.test |= call.test;
                pending.updated_at = now;
                event.outcome = "pending activation".into();
                event.detail = Some(format!(
                    "expiry {:?} kept for the first activation",
                    pending.expires_at
                ));
                batch.pending_codes.push(pending);
            }
            Known::Activated(code) if code.status == CodeStatus::Released => {
                return self.test_replay(call, &req.target, "released authorization code", now);
            }
            Known::Activated(mut code) => {
                let before = code.expires_at;
                code.expires_at = change.apply_to_order(code.expires_at);
                if let Some(product) = &req.product_id {
                    code.product_id.clone_from(product);
                }
                // A renewal restores an expired or frozen code, as a GET renewal unfreezes.
                let unfreeze = req.scene.extends();
                if unfreeze {
                    if matches!(code.status, CodeStatus::Expired | CodeStatus::Frozen) {
                        code.status = CodeStatus::Alive;
                    }
                    renewal::renewal_applied(&mut code.status_signed_at, call.signed_at);
                }
                code.test |= call.test;
                code.updated_at = now;
                let expiry = ExpiryChange::for_licenses(req.scene.extends(), code.expires_at);
                let renewal = Renewal {
                    product_id: req.product_id.as_deref(),
                    unfreeze,
                    ..Renewal::expiry(expiry)
                };
                let (licenses, superseded) = self.renew_devices(&code.machines, &renewal, now)?;
                event.detail = Some(format!(
                    "scene {}: expiry {before:?} -> {:?} (requested {}); {} license(s) re-signed",
                    req.scene.as_str(),
                    code.expires_at,
                    req.expires_at,
                    licenses.len()
                ));
                event.order_id = Some(req.order_id);
                batch.licenses = licenses;
                batch.revocation_changed = superseded;
                batch.codes.push(code);
            }
        }
        batch.audit.push(event);
        self.store.write(batch)?;
        Ok(())
    }

    /// updateLicenseCodeStatus FREEZE / UNFREEZE (idempotent; released stays released; one
    /// signed before the last status change applied is stale).
    pub(crate) fn set_code_status(
        &self,
        req: SetStatus,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.target));
        let mut event = audit(
            now,
            MARKETPLACE,
            &call.activity,
            "unchanged",
            &req.target,
            call.test,
        );
        let target = if req.freeze {
            CodeStatus::Frozen
        } else {
            CodeStatus::Alive
        };
        let mut batch = WriteBatch::default();
        match self.known_code(&req.target, now)? {
            Known::Pending(mut pending) => {
                if renewal::status_is_stale(pending.status_signed_at, call.signed_at) {
                    event.outcome = "ignored".into();
                    return self.audit_only(event);
                }
                if pending.status != Some(CodeStatus::Released) {
                    pending.status = Some(target);
                }
                pending.status_signed_at =
                    renewal::latest(pending.status_signed_at, call.signed_at);
                pending.test |= call.test;
                pending.updated_at = now;
                event.outcome = "pending activation".into();
                batch.pending_codes.push(pending);
            }
            Known::Activated(mut code) => {
                if renewal::status_is_stale(code.status_signed_at, call.signed_at) {
                    event.outcome = "ignored".into();
                    event.detail = Some("stale status change: signed before the last one".into());
                    return self.audit_only(event);
                }
                let next = match (req.freeze, code.status) {
                    (true, CodeStatus::Alive | CodeStatus::Expired) => Some(CodeStatus::Frozen),
                    (false, CodeStatus::Frozen) => Some(CodeStatus::Alive),
                    _ => None,
                };
                code.status_signed_at = renewal::latest(code.status_signed_at, call.signed_at);
                if let Some(next) = next {
                    code.status = next;
                    code.updated_at = now;
                    let (licenses, revocation_changed) = self.follow_code_status(&code, now)?;
                    event.outcome = "changed".into();
                    event.detail = Some(format!(
                        "status -> {}; {} license(s)",
                        next.as_str(),
                        licenses.len()
                    ));
                    batch.licenses = licenses;
                    batch.revocation_changed = revocation_changed;
                }
                batch.codes.push(code);
            }
        }
        batch.audit.push(event);
        self.store.write(batch)?;
        Ok(())
    }

    /// releaseLicenseCode: the code and its licenses are released; releasing twice succeeds.
    pub(crate) fn release_code(
        &self,
        req: Release,
        call: &Call,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let _guard = self.lock(LockKey::Instance(&req.target));
        let mut event = audit(
            now,
            MARKETPLACE,
            &call.activity,
            "released",
            &req.target,
            call.test,
        );
        if let Some(order) = &req.order_id {
            event.detail = Some(format!(
                "unsubscription order {order} {:?}",
                req.order_line_id
            ));
        }
        let mut batch = WriteBatch::default();
        match self.known_code(&req.target, now)? {
            Known::Pending(mut pending) => {
                pending.status = Some(CodeStatus::Released);
                pending.test |= call.test;
                pending.updated_at = now;
                event.outcome = "pending activation".into();
                batch.pending_codes.push(pending);
            }
            Known::Activated(code) if code.status == CodeStatus::Released => {
                event.outcome = "unchanged".into();
            }
            Known::Activated(mut code) => {
                code.status = CodeStatus::Released;
                code.updated_at = now;
                let (licenses, revocation_changed) = self.follow_code_status(&code, now)?;
                batch.licenses = licenses;
                batch.revocation_changed = revocation_changed;
                batch.codes.push(code);
            }
        }
        batch.audit.push(event);
        self.store.write(batch)?;
        Ok(())
    }
}
