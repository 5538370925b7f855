//! Merchant actions on a license: suspend, reinstate, revoke, change the expiry, reissue with a
//! new binding. Each takes the same per-instance lock as the marketplace callbacks, so a merchant
//! action racing a KooMarket renewal serialises cleanly; each appends an audit event with the
//! acting token and is durable before it returns. A shorter expiry supersedes the earlier
//! tokens (the one renewal rule), so they stop verifying offline with the next revocation list.

use chrono::{DateTime, Utc};

use super::policy::{BindingKind, Policy};
use super::renewal::{self, ExpiryChange, Renewal};
use super::{resign, resolve_binding, Licensing, LicensingError};
use crate::store::keys::LockKey;
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus, StoredBinding};
use crate::store::WriteBatch;

/// A merchant action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Reversible stop.
    Suspend,
    /// Undo a suspension.
    Reinstate,
    /// Permanent stop.
    Revoke,
    /// New expiry (`None` = perpetual); signs a new token.
    SetExpiry(Option<DateTime<Utc>>),
    /// New binding; signs a new token and revokes the earlier ones.
    Reissue(NewBinding),
}

/// The binding a reissued license gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NewBinding {
    /// A hardware identifier (K from the product policy).
    Hardware(String),
    /// A system identifier.
    System(String),
    /// Floating.
    None,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Suspend => "suspend",
            Action::Reinstate => "reinstate",
            Action::Revoke => "revoke",
            Action::SetExpiry(_) => "set_expiry",
            Action::Reissue(_) => "reissue",
        }
    }
}

/// The lock shared with the marketplace callbacks for this license.
fn lock_key(record: &LicenseRecord) -> LockKey<'_> {
    match &record.instance_id {
        Some(instance) => LockKey::Instance(instance),
        None => LockKey::License(&record.license_id),
    }
}

impl Licensing {
    /// Applies `action` to a license on behalf of `actor`; returns the record after the change.
    pub(crate) fn merchant_action(
        &self,
        license_id: &str,
        action: Action,
        reason: Option<String>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<LicenseRecord, LicensingError> {
        let not_found = || LicensingError::NotFound(license_id.to_string());
        let first = self.store.license(license_id)?.ok_or_else(not_found)?;
        let _guard = self.lock(lock_key(&first));
        let mut record = self.store.license(license_id)?.ok_or_else(not_found)?;
        let before = record.status;
        let conflict = |record: &LicenseRecord| LicensingError::Conflict {
            action: action.name(),
            status: record.status.as_str(),
        };
        use LicenseStatus::*;
        let (changed, revocation_changed) = match &action {
            Action::Suspend => match record.status {
                Active | Frozen => (set_status(&mut record, Suspended, &reason), true),
                Suspended => (false, false),
                Revoked | Released => return Err(conflict(&record)),
            },
            Action::Reinstate => match record.status {
                Suspended => (set_status(&mut record, Active, &reason), true),
                Active => (false, false),
                Frozen | Revoked | Released => return Err(conflict(&record)),
            },
            Action::Revoke => match record.status {
                Revoked => (false, false),
                _ => (set_status(&mut record, Revoked, &reason), true),
            },
            Action::SetExpiry(expires_at) => match record.status {
                Revoked | Released => return Err(conflict(&record)),
                _ => {
                    let change = Renewal::expiry(ExpiryChange::Set(*expires_at));
                    let renewed =
                        renewal::renew(&mut record, &change, &self.policies, &self.signer, now)?;
                    (renewed.changed, renewed.superseded)
                }
            },
            Action::Reissue(binding) => match record.status {
                Revoked | Released => return Err(conflict(&record)),
                _ => {
                    record.binding = rebind(
                        binding,
                        self.policy(&record.product_id, record.sku_code.as_deref()),
                    )?;
                    resign(&mut record, &self.signer, now)?;
                    record.revoked_below = record.revision;
                    (true, true)
                }
            },
        };
        record.updated_at = now;
        let event = AuditEvent {
            id: 0,
            at: now,
            actor: actor.to_string(),
            action: action.name().to_string(),
            outcome: if changed { "changed" } else { "unchanged" }.to_string(),
            license_id: Some(record.license_id.clone()),
            instance_id: record.instance_id.clone(),
            order_id: record.order_id.clone(),
            business_id: None,
            test: record.test,
            detail: Some(match &reason {
                Some(reason) => format!(
                    "status {} -> {}, revision {}; reason: {reason}",
                    before.as_str(),
                    record.status.as_str(),
                    record.revision
                ),
                None => format!(
                    "status {} -> {}, revision {}",
                    before.as_str(),
                    record.status.as_str(),
                    record.revision
                ),
            }),
        };
        let mut batch = WriteBatch {
            audit: vec![event],
            revocation_changed: changed && revocation_changed,
            ..WriteBatch::default()
        };
        if changed {
            batch.licenses.push(record.clone());
        }
        self.store.write(batch)?;
        Ok(record)
    }
}

fn set_status(record: &mut LicenseRecord, status: LicenseStatus, reason: &Option<String>) -> bool {
    record.status = status;
    record.status_reason = reason.clone();
    true
}

fn rebind(binding: &NewBinding, policy: &Policy) -> Result<StoredBinding, LicensingError> {
    let (kind, identifier) = match binding {
        NewBinding::Hardware(id) => (BindingKind::Hardware, Some(id.as_str())),
        NewBinding::System(id) => (BindingKind::System, Some(id.as_str())),
        NewBinding::None => (BindingKind::None, None),
    };
    let policy = Policy {
        binding: kind,
        ..policy.clone()
    };
    resolve_binding(identifier, &policy).map_err(|e| LicensingError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests;
