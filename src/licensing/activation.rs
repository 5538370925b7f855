//! Activation of a License 2.0 authorization code by the delivered software: the first time,
//! the code is activated at the marketplace (§5.3.1; "already active" means another attempt got
//! there first, so the code is queried instead) and what callbacks said about it meanwhile (the
//! pending record) is applied; then each machine gets one license bound to its hardware
//! identifier (K-of-N), up to the purchased quantity. Repeating the call from the same machine
//! returns the same license.
//!
//! The code's status is read again from the marketplace (§5.3.2) at most once per
//! `Rules::code_refresh_interval` (or at its known expiry), when an activation call comes in;
//! FREEZE/EXPIRED/RELEASED then refuse activation and are carried over to the licenses.
//!
//! The marketplace is reached through the `CodeDirectory` port, so this core never depends on
//! the HTTP client.

use chrono::{DateTime, Utc};
use koolicense_verify::HardwareId;

use super::codes::{self, license_status};
use super::directory::{lookup_error, CodeInfo, CodeLookupError};
use super::machines::{apply_status, fingerprint_digest, machine_limit};
use super::renewal::{ExpiryChange, Renewal};
use super::{create, Licensing, LicensingError, NewLicense};
use crate::store::keys::LockKey;
use crate::store::market_records::{CodeRecord, CodeStatus, Device};
use crate::store::records::{LicenseRecord, LicenseStatus, Origin};
use crate::store::WriteBatch;

/// Audit actor of activation calls.
const ACTOR: &str = "activation";
/// After a failed status query, try again after at most this long.
const RETRY_FAILED_REFRESH_SECS: i64 = 3600;

/// What activation asks the marketplace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Lookup {
    /// The code is not known here: activate it (or query it if it is already active).
    First,
    /// Its status query is due.
    Refresh,
}

/// The marketplace's answer about a code.
pub(crate) type LookupResult = Result<CodeInfo, CodeLookupError>;

/// How far activation got without the marketplace.
#[derive(Debug)]
pub(crate) enum Step {
    /// Activated (or refused) from what is stored here.
    Done(Activated),
    /// The marketplace must be asked first.
    Needs(Lookup),
}

/// Whether a code's status query is due.
fn refresh_due(record: &CodeRecord, now: DateTime<Utc>) -> bool {
    now >= record.refresh_due_at && record.status != CodeStatus::Released
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

impl Activated {
    /// The license the machine holds already, handed out again while it is active.
    pub(crate) fn held(record: LicenseRecord) -> Result<Activated, LicensingError> {
        if record.status != LicenseStatus::Active {
            return Err(LicensingError::CodeInactive(format!(
                "this machine's license is {}",
                record.status.as_str()
            )));
        }
        Ok(Activated {
            license: record.token,
            license_id: record.license_id,
            expires_at: record.expires_at,
            repeated: true,
        })
    }

    /// A license just issued to the machine.
    pub(crate) fn issued(record: &LicenseRecord) -> Activated {
        Activated {
            license: record.token.clone(),
            license_id: record.license_id.clone(),
            expires_at: record.expires_at,
            repeated: false,
        }
    }
}

/// When to query a code next: after the interval, or at its known expiry if that comes first.
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

fn validate(code: &str, hardware_identifier: &str) -> Result<HardwareId, LicensingError> {
    let bad_code = code.is_empty()
        || code.chars().count() > 64
        || code
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/');
    if bad_code {
        return Err(LicensingError::Invalid(
            "authorization_code must be 1 to 64 characters without spaces or '/'".into(),
        ));
    }
    if hardware_identifier.len() > 5 * 1024 {
        return Err(LicensingError::Invalid(
            "hardware_identifier is longer than 5 KiB".into(),
        ));
    }
    HardwareId::parse(hardware_identifier)
        .map_err(|e| LicensingError::Invalid(format!("hardware_identifier: {e}")))
}

impl Licensing {
    /// The first activation's record from the marketplace's answer, with what the callbacks
    /// said meanwhile applied.
    fn first_activation(
        &self,
        code: &str,
        found: LookupResult,
        now: DateTime<Utc>,
        batch: &mut WriteBatch,
    ) -> Result<CodeRecord, LicensingError> {
        let info = found.map_err(|e| lookup_error(code, e))?;
        let product_id = info.product_id.clone().ok_or_else(|| {
            LicensingError::MarketplaceUnavailable(
                "the marketplace did not report the code's product_id".into(),
            )
        })?;
        let interval = self.rules.code_refresh_interval;
        let mut record = CodeRecord {
            code: code.to_string(),
            status: info.status.unwrap_or(CodeStatus::Alive),
            expires_at: info.expires_at,
            product_id,
            order_id: info.order_id,
            amount: info.amount,
            test: false,
            activated_at: now,
            last_refreshed_at: Some(now),
            refresh_due_at: next_refresh(now, interval, info.expires_at),
            last_refresh_error: None,
            machines: Vec::new(),
            status_signed_at: None,
            created_at: now,
            updated_at: now,
        };
        if let Some(pending) = self.store.pending_code(code)? {
            if let Some(expiry) = pending.expires_at {
                let change = ExpiryChange::of(!pending.shortened, expiry);
                record.expires_at = change.apply_to_order(record.expires_at);
            }
            match (pending.status, record.status) {
                (Some(CodeStatus::Released), _) => record.status = CodeStatus::Released,
                (Some(status), CodeStatus::Alive | CodeStatus::Frozen) => record.status = status,
                _ => {}
            }
            record.status_signed_at = pending.status_signed_at;
            record.test = pending.test;
            batch.pending_codes_done.push(code.to_string());
        }
        let mut event = codes::audit(
            now,
            ACTOR,
            "activateLicenseCode",
            "activated",
            code,
            record.test,
        );
        event.order_id = record.order_id.clone();
        event.detail = Some(format!(
            "status {} expires {:?}",
            record.status.as_str(),
            record.expires_at
        ));
        batch.audit.push(event);
        Ok(record)
    }

    /// Applies a status query's answer; the licenses that change with it go in `batch`.
    fn refresh(
        &self,
        code: &mut CodeRecord,
        found: LookupResult,
        now: DateTime<Utc>,
        batch: &mut WriteBatch,
    ) -> Result<(), LicensingError> {
        let interval = self.rules.code_refresh_interval;
        match found {
            Ok(info) => {
                let before = (code.status, code.expires_at);
                // The answer may be older than a renewal callback that arrived meanwhile: like a
                // renewal, it never moves the expiry back (rule 1 of `renewal`).
                let known = code.expires_at.is_some();
                if let Some(queried) = info.expires_at {
                    code.expires_at = ExpiryChange::Extend(queried).apply_to_order(code.expires_at);
                }
                let expiry_changed = code.expires_at != before.1;
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
                code.last_refreshed_at = Some(now);
                code.last_refresh_error = None;
                code.refresh_due_at = next_refresh(now, interval, code.expires_at);
                let mut event = codes::audit(
                    now,
                    ACTOR,
                    "queryLicenseCode",
                    "refreshed",
                    &code.code,
                    code.test,
                );
                event.detail = Some(format!(
                    "{before:?} -> {} {:?}",
                    code.status.as_str(),
                    code.expires_at
                ));
                batch.audit.push(event);
                let mut changed = Vec::new();
                if expiry_changed {
                    // Later than before: the licenses are extended to it (an expiry learned for
                    // the first time is taken as it is).
                    let expiry = ExpiryChange::for_licenses(known, code.expires_at);
                    let renewal = Renewal::expiry(expiry);
                    let (licenses, superseded) =
                        self.renew_devices(&code.machines, &renewal, now)?;
                    changed = licenses;
                    batch.revocation_changed |= superseded;
                }
                if status_changed || expiry_changed {
                    // The re-signed records are newer than the stored ones: apply the status to
                    // them in memory, and to the others from storage.
                    let target = license_status(code.status);
                    let reason = format!("authorization code {}", code.status.as_str());
                    let mut released = false;
                    for record in &mut changed {
                        released |= apply_status(record, target, &reason, now)
                            && target == LicenseStatus::Released;
                    }
                    let (stored, stored_released) = self.follow_code_status(code, now)?;
                    for record in stored {
                        if !changed.iter().any(|c| c.license_id == record.license_id) {
                            changed.push(record);
                        }
                    }
                    batch.revocation_changed |= released || stored_released;
                }
                batch.licenses.extend(changed);
            }
            Err(e) => {
                let message = match e {
                    CodeLookupError::Unavailable(m) | CodeLookupError::Refused(m) => m,
                    other => format!("{other:?}"),
                };
                tracing::warn!(error = %message, "authorization code status query failed; using the last known status");
                code.last_refresh_error = Some(message);
                let retry = chrono::Duration::seconds(RETRY_FAILED_REFRESH_SECS);
                code.refresh_due_at = now + retry.min(interval);
            }
        }
        code.updated_at = now;
        Ok(())
    }

    /// Activation as far as it goes without the marketplace: done when the code is known here
    /// and no status query is due, else what to ask the marketplace. Holds the code's lock only
    /// for local reads and the write.
    pub(crate) fn activate_local(
        &self,
        code: &str,
        hardware_identifier: &str,
        now: DateTime<Utc>,
    ) -> Result<Step, LicensingError> {
        validate(code, hardware_identifier)?;
        let _guard = self.lock(LockKey::Instance(code));
        let record = match self.store.license_code(code)? {
            None => return Ok(Step::Needs(Lookup::First)),
            Some(record) if refresh_due(&record, now) => return Ok(Step::Needs(Lookup::Refresh)),
            Some(record) => record,
        };
        self.finish(record, hardware_identifier, now, WriteBatch::default())
            .map(Step::Done)
    }

    /// Completes an activation with the marketplace's answer `found` to `lookup`. The record is
    /// read again under the lock: another activation may have completed meanwhile, in which case
    /// its record stands and `found` only refreshes it if a refresh is still due.
    pub(crate) fn activate_with(
        &self,
        code: &str,
        hardware_identifier: &str,
        now: DateTime<Utc>,
        lookup: Lookup,
        found: LookupResult,
    ) -> Result<Activated, LicensingError> {
        validate(code, hardware_identifier)?;
        let _guard = self.lock(LockKey::Instance(code));
        let mut batch = WriteBatch::default();
        let record = match self.store.license_code(code)? {
            None if lookup == Lookup::First => {
                self.first_activation(code, found, now, &mut batch)?
            }
            // The record was gone or appeared meanwhile: ask again next time.
            None => return Err(lookup_error(code, CodeLookupError::Unknown)),
            Some(mut record) => {
                if refresh_due(&record, now) {
                    self.refresh(&mut record, found, now, &mut batch)?;
                }
                record
            }
        };
        self.finish(record, hardware_identifier, now, batch)
    }

    /// Refuses an inactive code or issues (finds) the machine's license, and writes.
    fn finish(
        &self,
        mut record: CodeRecord,
        hardware_identifier: &str,
        now: DateTime<Utc>,
        mut batch: WriteBatch,
    ) -> Result<Activated, LicensingError> {
        let expired = record.expires_at.is_some_and(|e| e <= now);
        let refused = if record.status != CodeStatus::Alive || expired {
            let status = if expired {
                "EXPIRED"
            } else {
                record.status.as_str()
            };
            Some(LicensingError::CodeInactive(format!(
                "authorization code is {status}; renew it in the marketplace (云商店)"
            )))
        } else {
            None
        };
        let answer = match refused {
            Some(e) => Err(e),
            None => self.issue_for_code(&mut record, hardware_identifier, now, &mut batch),
        };
        batch.codes.push(record);
        self.store.write(batch)?;
        answer
    }

    /// Finds or issues the machine's license; its records go into `batch`.
    fn issue_for_code(
        &self,
        record: &mut CodeRecord,
        hardware_identifier: &str,
        now: DateTime<Utc>,
        batch: &mut WriteBatch,
    ) -> Result<Activated, LicensingError> {
        let policy = self.policy(&record.product_id, None);
        let found =
            self.find_machine(&record.machines, Some(hardware_identifier), &batch.licenses)?;
        if let Some(current) = found {
            return Activated::held(current);
        }
        if let Some(max) = machine_limit(policy, record.amount) {
            if self.machines_in_use(&record.machines, &batch.licenses)? >= max {
                return Err(LicensingError::QuantityExhausted(format!(
                    "all {max} machine(s) of this authorization code hold a license; release one \
                     (merchant API) or buy more"
                )));
            }
        }
        let license = create(
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
            &self.signer,
            now,
        )
        .map_err(|e| LicensingError::Invalid(e.to_string()))?;
        record.machines.push(Device {
            license_id: license.license_id.clone(),
            fingerprint_sha256: fingerprint_digest(Some(hardware_identifier)),
        });
        record.updated_at = now;
        let mut event = codes::audit(now, ACTOR, "activate", "issued", &record.code, record.test);
        event.order_id = record.order_id.clone();
        event.license_id = Some(license.license_id.clone());
        event.detail = Some(format!(
            "machine {} of {:?}",
            record.machines.len(),
            machine_limit(policy, record.amount)
        ));
        batch.audit.push(event);
        let answer = Activated::issued(&license);
        batch.licenses.push(license);
        Ok(answer)
    }
}

mod lookup;
#[cfg(test)]
mod tests;
