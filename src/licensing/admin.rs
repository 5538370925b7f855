//! Merchant actions on a license: suspend, reinstate, revoke, change the expiry, reissue with a
//! new binding. Each takes the same per-instance lock as the marketplace callbacks, so a merchant
//! action racing a KooMarket renewal serialises cleanly; each appends an audit event with the
//! acting token and is durable before it returns.

use chrono::{DateTime, Utc};

use super::policy::{BindingKind, Policies, Policy};
use super::{resign, resolve_binding, KeyLocks, LicensingError};
use crate::signing::Signer;
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus, StoredBinding};
use crate::store::{Store, StoreError, WriteBatch};

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

/// Why an action failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    /// No such license.
    #[error("license {0} does not exist")]
    NotFound(String),
    /// The action does not apply in the license's state.
    #[error("cannot {action} a license that is {status}")]
    Conflict {
        /// The action.
        action: &'static str,
        /// The current status.
        status: &'static str,
    },
    /// Invalid input (e.g. a bad hardware identifier).
    #[error("{0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl From<LicensingError> for AdminError {
    fn from(e: LicensingError) -> Self {
        AdminError::Invalid(e.to_string())
    }
}

/// What an action needs.
pub(crate) struct AdminCtx<'a> {
    pub(crate) store: &'a Store,
    pub(crate) signer: &'a Signer,
    pub(crate) policies: &'a Policies,
    pub(crate) locks: &'a KeyLocks,
    pub(crate) now: DateTime<Utc>,
}

/// The lock key shared with the marketplace callbacks for this license.
pub(crate) fn lock_key(record: &LicenseRecord) -> String {
    match &record.instance_id {
        Some(instance) => format!("km/instance/{instance}"),
        None => format!("license/{}", record.license_id),
    }
}

/// Applies `action` to a license on behalf of `actor`; returns the record after the change.
pub(crate) fn apply(
    ctx: &AdminCtx<'_>,
    license_id: &str,
    action: Action,
    reason: Option<String>,
    actor: &str,
) -> Result<LicenseRecord, AdminError> {
    let not_found = || AdminError::NotFound(license_id.to_string());
    let first = ctx.store.license(license_id)?.ok_or_else(not_found)?;
    let _guard = ctx.locks.lock(&lock_key(&first));
    let mut record = ctx.store.license(license_id)?.ok_or_else(not_found)?;
    let before = record.status;
    let conflict = |record: &LicenseRecord| AdminError::Conflict {
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
                record.expires_at = *expires_at;
                resign(&mut record, ctx.signer, ctx.now)?;
                (true, false)
            }
        },
        Action::Reissue(binding) => match record.status {
            Revoked | Released => return Err(conflict(&record)),
            _ => {
                record.binding = rebind(
                    binding,
                    ctx.policies
                        .for_product(&record.product_id, record.sku_code.as_deref()),
                )?;
                resign(&mut record, ctx.signer, ctx.now)?;
                record.revoked_below = record.revision;
                (true, true)
            }
        },
    };
    record.updated_at = ctx.now;
    let event = AuditEvent {
        id: 0,
        at: ctx.now,
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
    ctx.store.write(batch)?;
    Ok(record)
}

fn set_status(record: &mut LicenseRecord, status: LicenseStatus, reason: &Option<String>) -> bool {
    record.status = status;
    record.status_reason = reason.clone();
    true
}

fn rebind(binding: &NewBinding, policy: &Policy) -> Result<StoredBinding, AdminError> {
    let (kind, identifier) = match binding {
        NewBinding::Hardware(id) => (BindingKind::Hardware, Some(id.as_str())),
        NewBinding::System(id) => (BindingKind::System, Some(id.as_str())),
        NewBinding::None => (BindingKind::None, None),
    };
    let policy = Policy {
        binding: kind,
        ..policy.clone()
    };
    Ok(resolve_binding(identifier, &policy)?)
}

#[cfg(test)]
mod tests;
