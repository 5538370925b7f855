//! Activation of a License 2.0 authorization code by the delivered software
//! (`POST /v1/activate`): the first time, the code is activated at the marketplace (§5.3.1;
//! "already active" means another attempt got there first, so the code is queried instead);
//! then each machine gets one license bound to its hardware identifier (K-of-N), up to the
//! purchased quantity. Repeating the call from the same machine returns the same license.
//!
//! The code's status is read again from the marketplace (§5.3.2) at most once per
//! `marketplace.code_refresh_interval_secs` (a day: the spec expects a query on the first use of
//! each day), when an activation call comes in; FREEZE/EXPIRED/RELEASED then refuse activation
//! and are carried over to the licenses (frozen, frozen, released), which `/v1/status` and the
//! revocation list report.

use chrono::{DateTime, Utc};
use koolicense_verify::HardwareId;

use super::codes::{self, code_lock};
use super::machines::{self, find_machine, fingerprint_digest, machine_limit, PostError, Renewal};
use crate::licensing::{self, NewLicense};
use crate::marketplace::{ApiCode, CodeInfo, MarketError};
use crate::state::AppState;
use crate::store::market::MarketBatch;
use crate::store::market_records::{CodeRecord, CodeStatus, Device};
use crate::store::records::{AuditEvent, LicenseStatus, Origin};
use crate::store::StoreError;

/// Audit actor of activation calls.
const ACTOR: &str = "activation";
/// After a failed status query, try again after at most this long.
const RETRY_FAILED_REFRESH_SECS: i64 = 3600;

/// Why an activation was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ActivateError {
    /// Malformed input.
    #[error("{0}")]
    Invalid(String),
    /// The marketplace does not know the code.
    #[error("{0}")]
    Unknown(String),
    /// The buyer has not claimed the code yet.
    #[error("{0}")]
    NotClaimed(String),
    /// The code is frozen, expired or released.
    #[error("{0}")]
    Inactive(String),
    /// Every purchased machine slot is taken.
    #[error("{0}")]
    QuantityExhausted(String),
    /// The marketplace could not be reached or failed.
    #[error("{0}")]
    Unavailable(String),
    /// Storage failed.
    #[error("storage failure")]
    Storage(#[from] StoreError),
    /// Internal error.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<PostError> for ActivateError {
    fn from(e: PostError) -> Self {
        match e {
            PostError::Storage(s) => ActivateError::Storage(s),
            PostError::Internal(m) => ActivateError::Internal(m),
            other => ActivateError::Invalid(other.to_string()),
        }
    }
}

/// A license handed to the software.
#[derive(Debug, Clone)]
pub(crate) struct Activated {
    pub(crate) license: String,
    pub(crate) license_id: String,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// The same machine had it already.
    pub(crate) repeated: bool,
}

fn market_error(code: &str, e: MarketError) -> ActivateError {
    match e {
        MarketError::Api {
            code: ApiCode::NotExist,
            ..
        } => ActivateError::Unknown(format!(
            "the marketplace does not know authorization code {code}"
        )),
        MarketError::Api {
            code: ApiCode::NotReceived,
            ..
        } => ActivateError::NotClaimed(
            "the buyer has not claimed (领取) this authorization code yet in the marketplace"
                .into(),
        ),
        e @ MarketError::Api {
            code: ApiCode::InvalidParam | ApiCode::RequestInvalid,
            ..
        } => {
            tracing::warn!(error = %e, "the marketplace refused an authorization code");
            ActivateError::Invalid("the marketplace refused this authorization code".into())
        }
        e => {
            // The caller is anonymous: the upstream detail (URLs, transport errors) is logged only.
            tracing::warn!(error = %e, "marketplace call for an authorization code failed");
            ActivateError::Unavailable(
                "the marketplace cannot be reached right now; try again later".into(),
            )
        }
    }
}

/// Activates the code at the marketplace (or, if it is already active, queries it).
fn first_activation(
    state: &AppState,
    code: &str,
    now: DateTime<Utc>,
) -> Result<CodeRecord, ActivateError> {
    let client = &state.market.client;
    let info = match client.activate_code(code) {
        Ok(Some(info)) if info.product_id.is_some() => info,
        Ok(_)
        | Err(MarketError::Api {
            code: ApiCode::IllegalState,
            ..
        }) => client.query_code(code).map_err(|e| market_error(code, e))?,
        Err(e) => return Err(market_error(code, e)),
    };
    let product_id = info.product_id.clone().ok_or_else(|| {
        ActivateError::Unavailable("the marketplace did not report the code's product_id".into())
    })?;
    Ok(CodeRecord {
        code: code.to_string(),
        status: info.status.unwrap_or(CodeStatus::Alive),
        expires_at: info.expires_at,
        product_id,
        order_id: info.order_id,
        amount: info.amount,
        test: false,
        activated_at: now,
        last_refreshed_at: Some(now),
        refresh_due_at: next_refresh(now, state.market.code_refresh_interval, info.expires_at),
        last_refresh_error: None,
        machines: Vec::new(),
        created_at: now,
        updated_at: now,
    })
}

/// Applies a status query's answer; returns whether the expiry or the status changed.
fn apply_info(code: &mut CodeRecord, info: CodeInfo) -> (bool, bool) {
    let expiry_changed = info.expires_at.is_some() && info.expires_at != code.expires_at;
    if expiry_changed {
        code.expires_at = info.expires_at;
    }
    let status_changed = info.status.is_some_and(|s| s != code.status);
    if let Some(status) = info.status {
        code.status = status;
    }
    if let Some(product) = info.product_id {
        code.product_id = product;
    }
    if info.amount.is_some() {
        code.amount = info.amount;
    }
    (expiry_changed, status_changed)
}

/// When to query a code next: after the interval, or at its known expiry if that comes first
/// (so a renewal made just before the expiry is seen when it matters, not up to a day later).
fn next_refresh(
    now: DateTime<Utc>,
    interval: chrono::Duration,
    expires_at: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let regular = now + interval;
    match expires_at {
        Some(expiry) if expiry > now => regular.min(expiry),
        _ => regular,
    }
}

/// Queries the code if its refresh is due; returns the licenses that changed with it.
fn refresh_if_due(
    state: &AppState,
    code: &mut CodeRecord,
    now: DateTime<Utc>,
    batch: &mut MarketBatch,
) -> Result<(), ActivateError> {
    if now < code.refresh_due_at || code.status == CodeStatus::Released {
        return Ok(());
    }
    match state.market.client.query_code(&code.code) {
        Ok(info) => {
            let before = (code.status, code.expires_at);
            let (expiry_changed, status_changed) = apply_info(code, info);
            code.last_refreshed_at = Some(now);
            code.last_refresh_error = None;
            code.refresh_due_at =
                next_refresh(now, state.market.code_refresh_interval, code.expires_at);
            let mut event = codes::audit(now, ACTOR, "queryLicenseCode", "refreshed", code);
            event.detail = Some(format!(
                "{:?} -> {} {:?}",
                before,
                code.status.as_str(),
                code.expires_at
            ));
            batch.base.audit.push(event);
            let mut changed = Vec::new();
            if expiry_changed {
                let renewal = Renewal {
                    expires_at: code.expires_at,
                    product_id: None,
                    formal: false,
                    unfreeze: false,
                };
                let (licenses, superseded) =
                    machines::renew_licenses(state, &code.machines, &renewal, now)?;
                changed = licenses;
                batch.base.revocation_changed |= superseded;
            }
            if status_changed || expiry_changed {
                // The re-signed records are newer than the stored ones: apply the status to
                // them in memory, and to the others from storage.
                let target = codes::license_status(code.status);
                let reason = format!("authorization code {}", code.status.as_str());
                let mut released = false;
                for record in &mut changed {
                    released |= machines::apply_status(record, target, &reason, now)
                        && target == LicenseStatus::Released;
                }
                let (stored, stored_released) = codes::follow_status(state, code, now)?;
                for record in stored {
                    if !changed.iter().any(|c| c.license_id == record.license_id) {
                        changed.push(record);
                    }
                }
                batch.base.revocation_changed |= released || stored_released;
            }
            batch.base.licenses.extend(changed);
        }
        Err(e) => {
            tracing::warn!(error = %e, "authorization code status query failed; using the last known status");
            code.last_refresh_error = Some(e.to_string());
            let retry = chrono::Duration::seconds(RETRY_FAILED_REFRESH_SECS);
            code.refresh_due_at = now + retry.min(state.market.code_refresh_interval);
        }
    }
    code.updated_at = now;
    Ok(())
}

fn validate(code: &str, hardware_identifier: &str) -> Result<HardwareId, ActivateError> {
    let bad_code = code.is_empty()
        || code.chars().count() > 64
        || code
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/');
    if bad_code {
        return Err(ActivateError::Invalid(
            "authorization_code must be 1 to 64 characters without spaces or '/'".into(),
        ));
    }
    if hardware_identifier.len() > 5 * 1024 {
        return Err(ActivateError::Invalid(
            "hardware_identifier is longer than 5 KiB".into(),
        ));
    }
    HardwareId::parse(hardware_identifier)
        .map_err(|e| ActivateError::Invalid(format!("hardware_identifier: {e}")))
}

/// `POST /v1/activate`.
pub(crate) fn activate(
    state: &AppState,
    code: &str,
    hardware_identifier: &str,
    now: DateTime<Utc>,
) -> Result<Activated, ActivateError> {
    validate(code, hardware_identifier)?;
    let _guard = state.locks.lock(&code_lock(code));
    let mut batch = MarketBatch::default();
    let mut record = match state.store.license_code(code)? {
        Some(mut record) => {
            refresh_if_due(state, &mut record, now, &mut batch)?;
            record
        }
        None => {
            let record = first_activation(state, code, now)?;
            let mut event = codes::audit(now, ACTOR, "activateLicenseCode", "activated", &record);
            event.detail = Some(format!(
                "status {} expires {:?}",
                record.status.as_str(),
                record.expires_at
            ));
            batch.base.audit.push(event);
            record
        }
    };
    let expired = record.expires_at.is_some_and(|e| e <= now);
    let refused = if record.status != CodeStatus::Alive || expired {
        let status = if expired {
            "EXPIRED"
        } else {
            record.status.as_str()
        };
        Some(ActivateError::Inactive(format!(
            "authorization code is {status}; renew it in the marketplace (云商店)"
        )))
    } else {
        None
    };
    let mut answer = None;
    if refused.is_none() {
        answer = Some(issue(
            state,
            &mut record,
            hardware_identifier,
            now,
            &mut batch,
        ));
    }
    batch.codes.push(record);
    state.store.write_market(batch)?;
    match (refused, answer) {
        (Some(e), _) => Err(e),
        (None, Some(answer)) => answer,
        (None, None) => Err(ActivateError::Internal("no answer".into())),
    }
}

/// Finds or issues the machine's license; its records go into `batch`.
fn issue(
    state: &AppState,
    record: &mut CodeRecord,
    hardware_identifier: &str,
    now: DateTime<Utc>,
    batch: &mut MarketBatch,
) -> Result<Activated, ActivateError> {
    let policy = state.policies.for_product(&record.product_id, None);
    if let Some(existing) = find_machine(state, &record.machines, Some(hardware_identifier))? {
        // The batch may hold a newer version (re-signed by the refresh above).
        let current = batch
            .base
            .licenses
            .iter()
            .find(|l| l.license_id == existing.license_id)
            .cloned()
            .unwrap_or(existing);
        if current.status != LicenseStatus::Active {
            return Err(ActivateError::Inactive(format!(
                "this machine's license is {}",
                current.status.as_str()
            )));
        }
        return Ok(Activated {
            license: current.token,
            license_id: current.license_id,
            expires_at: current.expires_at,
            repeated: true,
        });
    }
    if let Some(max) = machine_limit(policy, record.amount) {
        let in_use = machines::machines_in_use(state, &record.machines)?;
        if in_use >= max {
            return Err(ActivateError::QuantityExhausted(format!(
                "all {max} machine(s) of this authorization code hold a license; release one \
                 (merchant API) or buy more"
            )));
        }
    }
    let license = licensing::create(
        NewLicense {
            origin: Origin::AuthorizationCode,
            instance_id: Some(record.code.clone()),
            order_id: record.order_id.clone(),
            product_id: record.product_id.clone(),
            sku_code: None,
            customer_id: None,
            customer_name: None,
            trial: false,
            test: record.test,
            charging_mode: None,
            period_type: None,
            period_number: None,
            amount: record.amount,
            expires_at: record.expires_at,
            identifier: Some(hardware_identifier.to_string()),
        },
        policy,
        &state.signer,
        now,
    )
    .map_err(|e| ActivateError::Invalid(e.to_string()))?;
    record.machines.push(Device {
        license_id: license.license_id.clone(),
        fingerprint_sha256: fingerprint_digest(Some(hardware_identifier)),
    });
    record.updated_at = now;
    let mut event: AuditEvent = codes::audit(now, ACTOR, "activate", "issued", record);
    event.license_id = Some(license.license_id.clone());
    event.detail = Some(format!(
        "machine {} of {:?}",
        record.machines.len(),
        machine_limit(policy, record.amount)
    ));
    batch.base.audit.push(event);
    let answer = Activated {
        license: license.token.clone(),
        license_id: license.license_id.clone(),
        expires_at: license.expires_at,
        repeated: false,
    };
    batch.base.licenses.push(license);
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_query_is_at_the_interval_or_the_known_expiry_whichever_comes_first() {
        let now = Utc::now();
        let day = chrono::Duration::days(1);
        let soon = now + chrono::Duration::hours(2);
        assert_eq!(next_refresh(now, day, None), now + day);
        assert_eq!(next_refresh(now, day, Some(soon)), soon);
        assert_eq!(next_refresh(now, day, Some(now + day * 30)), now + day);
        assert_eq!(
            next_refresh(now, day, Some(now - day)),
            now + day,
            "already expired"
        );
    }

    #[test]
    fn codes_and_identifiers_are_validated() {
        assert!(validate("PL-1", "00:1A:2B:3C:4D:5E|S1|B1|C1").is_ok());
        for code in ["", "a b", "x/y", &"P".repeat(65)] {
            assert!(validate(code, "00:1A:2B:3C:4D:5E").is_err(), "{code:?}");
        }
        assert!(validate("PL-1", "a|b|c|d|e").is_err());
    }
}
