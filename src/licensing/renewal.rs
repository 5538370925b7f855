//! The one copy of the rules about validity and status under the marketplace's replays and
//! retries, used by the GET licenses, the online instances, the authorization codes, activation
//! and the merchant actions alike:
//!
//! 1. A renewal never moves an expiry back: expiry = max(current, requested), and so does the
//!    periodic status query of a code (its answer may be older than a renewal callback). Only
//!    `UNSUBSCRIBE_RENEWAL_PERIOD` and a merchant's explicit change set it exactly.
//! 2. Every shortening (perpetual → dated included) supersedes the earlier, longer tokens: they
//!    are revoked below the new revision and the revocation list gets a new sequence.
//! 3. An expire that arrives while a renewal has put the expiry more than a tolerance in the
//!    future is stale, and a status change signed earlier than the last one applied is stale;
//!    an applied renewal counts as a status change (see [`renewal_applied`]).

use chrono::{DateTime, Utc};

use super::policy::Policies;
use super::{resign, LicensingError};
use crate::signing::Signer;
use crate::store::records::{LicenseRecord, LicenseStatus};

/// How a change moves an expiry (`None` = perpetual for a license, unknown for an order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExpiryChange {
    /// A renewal: the later of the current and the requested expiry.
    Extend(DateTime<Utc>),
    /// Exactly this expiry (退续费, a merchant's change).
    Set(Option<DateTime<Utc>>),
}

impl ExpiryChange {
    /// The change of a renewal-like call: `extends` (every scene but 退续费) or not.
    pub(crate) fn of(extends: bool, expires_at: DateTime<Utc>) -> ExpiryChange {
        if extends {
            ExpiryChange::Extend(expires_at)
        } else {
            ExpiryChange::Set(Some(expires_at))
        }
    }

    /// How the licenses of an order (an online instance, a code) follow its new expiry `end`:
    /// a renewal extends them to it, anything else sets them to it.
    pub(crate) fn for_licenses(extends: bool, end: Option<DateTime<Utc>>) -> ExpiryChange {
        match (extends, end) {
            (true, Some(end)) => ExpiryChange::Extend(end),
            (_, end) => ExpiryChange::Set(end),
        }
    }

    /// The expiry of an ORDER after the change (an unknown expiry takes the requested one).
    pub(crate) fn apply_to_order(self, current: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        match self {
            ExpiryChange::Extend(t) => Some(current.map_or(t, |c| c.max(t))),
            ExpiryChange::Set(t) => t,
        }
    }

    /// The expiry of a LICENSE after the change (a perpetual license stays perpetual).
    pub(crate) fn apply_to_license(self, current: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        match self {
            ExpiryChange::Extend(t) => current.map(|c| c.max(t)),
            ExpiryChange::Set(t) => t,
        }
    }
}

/// Whether `after` ends validity earlier than `before` (perpetual → dated included).
pub(crate) fn shortens(before: Option<DateTime<Utc>>, after: Option<DateTime<Utc>>) -> bool {
    match (before, after) {
        (None, Some(_)) => true,
        (Some(old), Some(new)) => new < old,
        _ => false,
    }
}

/// Whether an expire is stale: the expiry is further than `tolerance` in the future.
pub(crate) fn expire_is_stale(
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    tolerance: chrono::Duration,
) -> bool {
    expires_at.is_some_and(|e| e > now + tolerance)
}

/// Whether a status change signed at `signed_at` is older than the last one applied.
pub(crate) fn status_is_stale(
    last_applied: Option<DateTime<Utc>>,
    signed_at: Option<DateTime<Utc>>,
) -> bool {
    matches!((last_applied, signed_at), (Some(last), Some(at)) if at < last)
}

/// The later of two signing times (the one to remember).
pub(crate) fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.max(b)
}

/// Records an applied renewal signed at `signed_at` as the last status change, whether or not
/// it unfroze anything: a FREEZE (or any status change) signed before a renewal that was paid
/// for is stale, so late and out-of-order calls never hurt a paying customer.
pub(crate) fn renewal_applied(
    last_status_change: &mut Option<DateTime<Utc>>,
    signed_at: Option<DateTime<Utc>>,
) {
    *last_status_change = latest(*last_status_change, signed_at);
}

/// A renewal (or trial conversion, product change, expiry change) of one license.
#[derive(Clone, Debug)]
pub(crate) struct Renewal<'a> {
    /// How the expiry moves.
    pub(crate) expiry: ExpiryChange,
    /// A new productId.
    pub(crate) product_id: Option<&'a str>,
    /// A new skuCode.
    pub(crate) sku_code: Option<&'a str>,
    /// A new amount.
    pub(crate) amount: Option<u32>,
    /// Clear the trial flag.
    pub(crate) formal: bool,
    /// A frozen license becomes active.
    pub(crate) unfreeze: bool,
    /// periodType / periodNumber as sent.
    pub(crate) period: (Option<&'a str>, Option<&'a str>),
}

impl Renewal<'_> {
    /// Only an expiry change.
    pub(crate) fn expiry(expiry: ExpiryChange) -> Renewal<'static> {
        Renewal {
            expiry,
            product_id: None,
            sku_code: None,
            amount: None,
            formal: false,
            unfreeze: false,
            period: (None, None),
        }
    }
}

/// What [`renew`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Renewed {
    /// A new token was signed.
    pub(crate) changed: bool,
    /// The earlier tokens are superseded (the revocation list changes).
    pub(crate) superseded: bool,
}

/// Applies `renewal` to a license: new claims are re-signed only when they differ; a shorter
/// validity supersedes the earlier tokens.
pub(crate) fn renew(
    record: &mut LicenseRecord,
    renewal: &Renewal<'_>,
    policies: &Policies,
    signer: &Signer,
    now: DateTime<Utc>,
) -> Result<Renewed, LicensingError> {
    let before = record.clone();
    if let Some(product) = renewal.product_id.filter(|p| *p != record.product_id) {
        let old = std::mem::replace(&mut record.product_id, product.to_string());
        record.previous_product_ids.push(old);
    }
    if let Some(sku) = renewal.sku_code {
        record.sku_code = Some(sku.to_string());
    }
    if renewal.amount.is_some() {
        record.amount = renewal.amount;
    }
    if renewal.formal {
        record.trial = false;
    }
    let policy = policies.for_product(&record.product_id, record.sku_code.as_deref());
    record.features = policy.features_for(record.trial);
    record.quantity = policy.quantity(record.amount);
    record.expires_at = renewal.expiry.apply_to_license(record.expires_at);
    if let Some(period_type) = renewal.period.0 {
        record.period_type = Some(period_type.to_string());
    }
    if let Some(period_number) = renewal.period.1 {
        record.period_number = Some(period_number.to_string());
    }
    let claims_changed = record.product_id != before.product_id
        || record.sku_code != before.sku_code
        || record.trial != before.trial
        || record.features != before.features
        || record.quantity != before.quantity
        || record.expires_at != before.expires_at;
    if renewal.unfreeze && record.status == LicenseStatus::Frozen {
        record.status = LicenseStatus::Active;
        record.status_reason = None;
        record.updated_at = now;
    }
    let mut outcome = Renewed::default();
    if claims_changed {
        resign(record, signer, now)?;
        outcome.changed = true;
        if shortens(before.expires_at, record.expires_at) {
            record.revoked_below = record.revision;
            outcome.superseded = true;
        }
    }
    outcome.changed |= *record != before;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2030, 1, day, 0, 0, 0)
            .single()
            .expect("time")
    }

    #[test]
    fn renewals_never_move_an_expiry_back_and_only_set_may_shorten() {
        let extend = ExpiryChange::Extend(at(5));
        assert_eq!(extend.apply_to_order(Some(at(9))), Some(at(9)));
        assert_eq!(extend.apply_to_order(Some(at(1))), Some(at(5)));
        assert_eq!(extend.apply_to_order(None), Some(at(5)));
        assert_eq!(extend.apply_to_license(None), None, "perpetual stays");
        let set = ExpiryChange::Set(Some(at(5)));
        assert_eq!(set.apply_to_license(Some(at(9))), Some(at(5)));
        assert!(shortens(None, Some(at(5))));
        assert!(shortens(Some(at(9)), Some(at(5))));
        assert!(!shortens(Some(at(5)), Some(at(9))));
        assert!(!shortens(Some(at(5)), None));
    }

    #[test]
    fn stale_expires_and_status_changes_are_recognised() {
        let day = chrono::Duration::days(1);
        assert!(expire_is_stale(Some(at(9)), at(1), day));
        assert!(!expire_is_stale(Some(at(2)), at(1), day));
        assert!(!expire_is_stale(None, at(1), day));
        assert!(status_is_stale(Some(at(5)), Some(at(4))));
        assert!(!status_is_stale(Some(at(5)), Some(at(5))));
        assert!(!status_is_stale(None, Some(at(4))));
        assert!(!status_is_stale(Some(at(5)), None));
    }
}
