//! The licensing core: every rule about licenses — issue, renew, expire/freeze, release,
//! upgrade, online instances, authorization codes, asynchronous delivery, activation, merchant
//! actions, the record of rejected marketplace calls — behind one handle ([`Licensing`]).
//! Adapters (the KooMarket protocol, the merchant API, the CLI, the outbox worker) hand it
//! validated commands ([`commands`]) and get outcomes or a [`LicensingError`] back.
//!
//! Layering: this module uses the store and the signer only. It never imports actix, the
//! marketplace protocol or client, the routes or the application state (`.ci/run` checks).
//!
//! This file holds the license itself: turning a purchase into a signed license, re-signing it
//! when its claims change, and resolving the machine binding from a product policy.

mod activation;
pub(crate) mod admin;
mod calls;
mod codes;
pub(crate) mod commands;
mod delivery;
mod directory;
mod handle;
pub(crate) mod health;
mod jobs;
mod lease_holders;
mod leases;
mod lifecycle;
mod machines;
mod offline;
mod online;
mod order_activation;
pub(crate) mod policy;
mod renewal;
pub(crate) mod revocations;
mod seats;

pub(crate) use self::activation::{Activated, LookupResult, Step};
pub(crate) use self::delivery::Delivery;
pub(crate) use self::directory::{CodeDirectory, CodeInfo, CodeLookupError};
pub(crate) use self::handle::{Licensing, Rules};
pub(crate) use self::jobs::{Attempt, OrderDetails, RetryOutcome};
pub(crate) use self::lease_holders::HeldLease;
pub(crate) use self::leases::LeaseAnswer;
pub(crate) use self::seats::{Deactivated, FreedBy};

use chrono::{DateTime, Utc};
use koolicense_verify::{
    Binding, Claims, Component, EncodeError, HardwareBinding, HardwareId, HardwareIdError,
    LicenseId, UnsignedLicense, SALT_LEN,
};
use rand::RngCore;

use self::policy::{BindingKind, Policy};
use crate::signing::Signer;
use crate::store::records::{LicenseRecord, LicenseStatus, Origin, StoredBinding};
use crate::store::StoreError;

/// Why a licensing command was refused or failed: the one error of the core. Each adapter maps
/// it with one table (`koomarket::answer` to a `resultCode`, `error` to an HTTP status).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LicensingError {
    /// The policy needs a machine identifier and none was given.
    #[error("the product binds licenses to a {0} identifier, but none was given")]
    MissingIdentifier(&'static str),
    /// The hardware identifier is not in the KooMarket format.
    #[error("invalid hardware identifier: {0}")]
    BadHardwareId(#[from] HardwareIdError),
    /// The claims do not fit the license format.
    #[error("cannot encode license: {0}")]
    Encode(#[from] EncodeError),
    /// A stored record is inconsistent.
    #[error("corrupt license record: {0}")]
    Corrupt(String),
    /// The command is malformed or does not apply (000002, HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// No such instance or authorization code at this service (000003).
    #[error("{0}")]
    UnknownInstance(String),
    /// No such license (HTTP 404).
    #[error("license {0} does not exist")]
    NotFound(String),
    /// A merchant action that does not apply in the license's state (HTTP 409).
    #[error("cannot {action} a license that is {status}")]
    Conflict {
        /// The action.
        action: &'static str,
        /// The current status.
        status: &'static str,
    },
    /// Every license of the purchase is in use (000900, HTTP 409).
    #[error("{0}")]
    QuantityExhausted(String),
    /// Outside the order's validity (000901).
    #[error("{0}")]
    OutsideValidity(String),
    /// A periodic purchase needs an expiry (000902).
    #[error("{0}")]
    ExpiryRequired(String),
    /// The product binds to a machine and no fingerprint was sent (000903).
    #[error("{0}")]
    FingerprintRequired(String),
    /// The marketplace does not know the authorization code.
    #[error("{0}")]
    CodeUnknown(String),
    /// The buyer has not claimed (领取) the authorization code yet.
    #[error("{0}")]
    CodeNotClaimed(String),
    /// The authorization code (or the machine's license) is frozen, expired or released.
    #[error("{0}")]
    CodeInactive(String),
    /// The marketplace could not be used.
    #[error("{0}")]
    MarketplaceUnavailable(String),
    /// The caller did not prove it holds the license, lease or seat on this machine (HTTP 403).
    #[error("{0}")]
    ProofRejected(String),
    /// The seat pool was deactivated too often recently (HTTP 429).
    #[error("at most {limit} deactivations per {window_secs} s for this purchase; the next is possible in {retry_after_secs} s")]
    DeactivationLimit {
        /// Deactivations allowed per window.
        limit: u32,
        /// The window.
        window_secs: u64,
        /// Until the oldest counted one leaves the window.
        retry_after_secs: u64,
    },
    /// Storage failed (000005, HTTP 503); details are logged, not answered.
    #[error("storage failure")]
    Storage(#[from] StoreError),
    /// An internal inconsistency (000005, HTTP 500).
    #[error("internal error")]
    Internal(String),
}

/// What a new license is made from.
#[derive(Clone, Debug)]
pub(crate) struct NewLicense {
    /// Where it comes from.
    pub(crate) origin: Origin,
    /// KooMarket instance id (`None` to leave it out).
    pub(crate) instance_id: Option<String>,
    /// Order id.
    pub(crate) order_id: Option<String>,
    /// Product id.
    pub(crate) product_id: String,
    /// Sku code.
    pub(crate) sku_code: Option<String>,
    /// Customer id.
    pub(crate) customer_id: Option<String>,
    /// Customer name.
    pub(crate) customer_name: Option<String>,
    /// Trial.
    pub(crate) trial: bool,
    /// Test traffic.
    pub(crate) test: bool,
    /// chargingMode as sent.
    pub(crate) charging_mode: Option<String>,
    /// periodType as sent.
    pub(crate) period_type: Option<String>,
    /// periodNumber as sent.
    pub(crate) period_number: Option<String>,
    /// amount as sent.
    pub(crate) amount: Option<u32>,
    /// Expiry; `None` = perpetual.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// The identifier given by the buyer (system or hardware).
    pub(crate) identifier: Option<String>,
}

/// Builds the record of a new license under `policy` and signs its first token.
pub(crate) fn create(
    new: NewLicense,
    policy: &Policy,
    signer: &Signer,
    now: DateTime<Utc>,
) -> Result<LicenseRecord, LicensingError> {
    create_as(new_id(), new, policy, signer, now)
}

/// As [`create`], with the license id `id` (a version 7 UUID from [`new_id`]).
pub(crate) fn create_as(
    id: uuid::Uuid,
    new: NewLicense,
    policy: &Policy,
    signer: &Signer,
    now: DateTime<Utc>,
) -> Result<LicenseRecord, LicensingError> {
    let binding = resolve_binding(new.identifier.as_deref(), policy)?;
    let mut expires_at = new.expires_at;
    if new.trial && policy.trial_max_days > 0 {
        let cap = now + chrono::Duration::days(i64::from(policy.trial_max_days));
        expires_at = Some(expires_at.map_or(cap, |e| e.min(cap)));
    }
    // Version 7 ids sort by creation time, so listing by id is listing by age (and inserts
    // land on the newest leaves of the trees).
    let license_id = LicenseId(*id.as_bytes()).to_string();
    let mut record = LicenseRecord {
        license_id,
        revision: 0,
        status: LicenseStatus::Active,
        status_reason: None,
        revoked_below: 0,
        status_signed_at: None,
        origin: new.origin,
        instance_id: new.instance_id,
        order_id: new.order_id,
        product_id: new.product_id,
        previous_product_ids: Vec::new(),
        sku_code: new.sku_code,
        customer_id: new.customer_id,
        customer_name: new.customer_name,
        trial: new.trial,
        test: new.test,
        charging_mode: new.charging_mode,
        period_type: new.period_type,
        period_number: new.period_number,
        amount: new.amount,
        quantity: policy.quantity(new.amount),
        features: policy.features_for(new.trial),
        binding,
        not_before: now,
        expires_at,
        created_at: now,
        updated_at: now,
        issued_at: now,
        kid: String::new(),
        token: String::new(),
    };
    resign(&mut record, signer, now)?;
    Ok(record)
}

/// Signs a new token for the record's current claims: next revision, issued now.
pub(crate) fn resign(
    record: &mut LicenseRecord,
    signer: &Signer,
    now: DateTime<Utc>,
) -> Result<(), LicensingError> {
    let mut next = record.clone();
    next.revision = record.revision.saturating_add(1);
    next.issued_at = now;
    next.updated_at = now;
    let claims = claims(&next)?;
    let unsigned = UnsignedLicense::new(&signer.kid(), &claims)?;
    next.token = signer.sign_license(&unsigned);
    next.kid = signer.kid().to_string();
    *record = next;
    Ok(())
}

/// The claims of a record's current token.
pub(crate) fn claims(record: &LicenseRecord) -> Result<Claims, LicensingError> {
    let license_id = LicenseId::parse(&record.license_id)
        .ok_or_else(|| LicensingError::Corrupt(format!("license id {:?}", record.license_id)))?;
    Ok(Claims {
        license_id,
        revision: record.revision,
        instance_id: record.instance_id.clone(),
        order_id: record.order_id.clone(),
        product_id: record.product_id.clone(),
        sku_code: record.sku_code.clone(),
        customer_id: record.customer_id.clone(),
        trial: record.trial,
        test: record.test,
        issued_at: unix(record.issued_at),
        not_before: unix(record.not_before),
        expires_at: record.expires_at.map(unix),
        quantity: record.quantity,
        features: record.features.clone(),
        binding: binding_claim(&record.binding)?,
    })
}

fn unix(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp()).unwrap_or(0)
}

fn binding_claim(stored: &StoredBinding) -> Result<Binding, LicensingError> {
    Ok(match stored {
        StoredBinding::None => Binding::None,
        StoredBinding::System { identifier } => Binding::System(identifier.clone()),
        StoredBinding::Hardware {
            min_match,
            salt,
            hashes,
            anchor,
        } => {
            let corrupt = |what: &str| LicensingError::Corrupt(format!("hardware binding {what}"));
            let salt: [u8; SALT_LEN] = hex::decode(salt)
                .ok()
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| corrupt("salt"))?;
            let mut out: [Vec<[u8; 8]>; 4] = Default::default();
            for (component, stored) in out.iter_mut().zip(hashes) {
                for h in stored {
                    let h: [u8; 8] = hex::decode(h)
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| corrupt("hash"))?;
                    component.push(h);
                }
            }
            let anchor = match anchor {
                None => None,
                Some(index) => Some(
                    Component::ALL
                        .into_iter()
                        .find(|c| c.index() == usize::from(*index))
                        .ok_or_else(|| corrupt("anchor"))?,
                ),
            };
            Binding::Hardware(HardwareBinding {
                min_match: *min_match,
                salt,
                hashes: out,
                anchor,
            })
        }
    })
}

/// Decides the binding of a new license from the buyer's identifier and the product policy.
pub(crate) fn resolve_binding(
    identifier: Option<&str>,
    policy: &Policy,
) -> Result<StoredBinding, LicensingError> {
    let identifier = identifier.map(str::trim).filter(|i| !i.is_empty());
    let kind = match (policy.binding, identifier) {
        (BindingKind::None, _) | (BindingKind::Auto, None) => return Ok(StoredBinding::None),
        (BindingKind::Auto, Some(id)) if id.contains('|') => BindingKind::Hardware,
        (BindingKind::Auto, Some(_)) => BindingKind::System,
        (kind, _) => kind,
    };
    match kind {
        BindingKind::Hardware => {
            let id = identifier.ok_or(LicensingError::MissingIdentifier("hardware"))?;
            let hwid = HardwareId::parse(id)?;
            let mut salt = [0u8; SALT_LEN];
            rand::rngs::OsRng.fill_bytes(&mut salt);
            let bound = policy.bind_hardware(&hwid, salt)?;
            Ok(StoredBinding::Hardware {
                anchor: bound.anchor.map(|c| c.index() as u8),
                min_match: bound.min_match,
                salt: hex::encode(bound.salt),
                hashes: bound
                    .hashes
                    .map(|component| component.iter().map(hex::encode).collect()),
            })
        }
        _ => {
            let id = identifier.ok_or(LicensingError::MissingIdentifier("system"))?;
            Ok(StoredBinding::System {
                identifier: id.to_string(),
            })
        }
    }
}

/// A new license or instance id: a UUID version 7 (RFC 9562), the creation time in
/// milliseconds followed by 74 random bits.
///
/// Ids key the license, token-history, instance and audit indexes. Random (version 4) ids sent
/// every insert to a random leaf of those trees, so once the database outgrew sled's page cache
/// nearly every write paid for reading a page back, inside the transaction that excludes all other
/// writers. Time-ordered ids keep the writes on the newest leaves. The time they reveal is
/// already in the license (`issued_at`), and 74 random bits keep them unguessable and unique.
pub(crate) fn new_id() -> uuid::Uuid {
    let millis = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests;
