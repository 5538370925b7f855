//! Secondary indexes: one tree (`index`) of postings, each key `KIND VALUE ID` with an empty
//! value, written in the same transaction as the record it points to (`batch`).
//!
//! * licenses by customer, order, product, sku and status, and the licenses the revocation list
//!   may carry: `ID` is the license id ([`compact_id`]), so a posting list is in creation order
//!   (license ids are time-ordered) and a listing's cursor, the last license id returned, seeks
//!   into it. A released license keeps its customer, order, status and revocable postings and
//!   drops those by product and sku (see [`license_postings`]);
//! * audit events by license and by actor: `ID` is the event id (8 bytes, big-endian).
//!
//! The dominant values ([`UNINDEXED_STATUS`], [`UNINDEXED_ACTOR`]) have no postings: their
//! lists would be about as long as the trees themselves, and each posting is one more key, and
//! one more share of a node split, in every getLicense (measured: about 6 % of its rate per key).
//!
//! `VALUE` is length-prefixed (u16, big-endian), so one value's postings are never a prefix of
//! another's. A value longer than 65,535 bytes is cut; the caller re-checks every record it
//! reads, so a cut value can only cost a look, never a wrong answer.

use serde::{Deserialize, Serialize};

use super::records::{AuditEvent, LicenseRecord, LicenseStatus};

/// The status of most licenses: no postings. Its posting list would be nearly the whole
/// licenses tree, so a listing by it reads the records in order instead (most of them match),
/// and every getLicense is spared a key.
pub(super) const UNINDEXED_STATUS: LicenseStatus = LicenseStatus::Active;
/// The actor of most audit events (every marketplace call): no postings, for the same reason.
pub(super) const UNINDEXED_ACTOR: &str = "koomarket";

/// What a posting indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Customer,
    Order,
    Product,
    Sku,
    Status,
    /// Licenses the revocation list may carry (see [`may_be_listed`]).
    Revocable,
    AuditByLicense,
    AuditByActor,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Customer => b'c',
            Kind::Order => b'o',
            Kind::Product => b'p',
            Kind::Sku => b's',
            Kind::Status => b't',
            Kind::Revocable => b'r',
            Kind::AuditByLicense => b'L',
            Kind::AuditByActor => b'A',
        }
    }
}

/// The prefix of every posting of `kind` with `value`.
pub(super) fn prefix(kind: Kind, value: &[u8]) -> Vec<u8> {
    let len = value.len().min(usize::from(u16::MAX));
    let mut key = Vec::with_capacity(3 + len + 36);
    key.push(kind.byte());
    // `len` fits: it was clamped to u16::MAX above.
    key.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    key.extend_from_slice(&value[..len]);
    key
}

fn posting(kind: Kind, value: &[u8], id: &[u8]) -> Vec<u8> {
    let mut key = prefix(kind, value);
    key.extend_from_slice(id);
    key
}

/// The stable byte of a status in the status postings.
pub(super) fn status_byte(status: LicenseStatus) -> u8 {
    match status {
        LicenseStatus::Active => 0,
        LicenseStatus::Frozen => 1,
        LicenseStatus::Suspended => 2,
        LicenseStatus::Revoked => 3,
        LicenseStatus::Released => 4,
    }
}

/// Whether the revocation list may carry the license: it is suspended, revoked or released, or
/// some of its tokens were superseded. (Whether the list still needs it, given expiry, is the
/// list builder's question.)
pub(crate) fn may_be_listed(r: &LicenseRecord) -> bool {
    r.revoked_below > 0
        || matches!(
            r.status,
            LicenseStatus::Suspended | LicenseStatus::Revoked | LicenseStatus::Released
        )
}

/// A license id as postings hold it: `0x01` and the 16 bytes of a UUID in its canonical text
/// form (lowercase, hyphenated, so the bytes sort as the text does), else `0x00` and the text.
pub(super) fn compact_id(id: &str) -> Vec<u8> {
    match uuid::Uuid::parse_str(id) {
        Ok(uuid) if uuid.hyphenated().to_string() == id => {
            let mut out = Vec::with_capacity(17);
            out.push(1);
            out.extend_from_slice(uuid.as_bytes());
            out
        }
        _ => [&[0u8][..], id.as_bytes()].concat(),
    }
}

/// The license id of a [`compact_id`].
pub(super) fn expand_id(bytes: &[u8]) -> String {
    match bytes.split_first() {
        Some((1, uuid)) => uuid::Uuid::from_slice(uuid)
            .map(|u| u.hyphenated().to_string())
            .unwrap_or_default(),
        Some((_, text)) => String::from_utf8_lossy(text).into_owned(),
        None => String::new(),
    }
}

/// What the revocation list builder needs of a license, kept in its revocable posting so a
/// build reads no license record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Revocable {
    /// The license id (from the posting's key; not stored in its value).
    #[serde(skip)]
    pub(crate) license_id: String,
    pub(crate) status: LicenseStatus,
    pub(crate) revoked_below: u32,
    /// End of validity of the current token (Unix seconds); none = perpetual.
    pub(crate) expires_at: Option<i64>,
}

impl Revocable {
    fn of(r: &LicenseRecord) -> Revocable {
        Revocable {
            license_id: r.license_id.clone(),
            status: r.status,
            revoked_below: r.revoked_below,
            expires_at: r.expires_at.map(|t| t.timestamp()),
        }
    }

    /// Reads a revocable posting.
    pub(super) fn read(key_id: &[u8], value: &[u8]) -> Option<Revocable> {
        let mut entry: Revocable = postcard::from_bytes(value).ok()?;
        entry.license_id = expand_id(key_id);
        Some(entry)
    }
}

/// The postings a license keeps by value: the merchant's lookups by customer and order find
/// released licenses too; product and sku lists drop them (a listing by product or sku reads
/// the released ones from the status postings instead; see `merchant`), so those lists stay
/// about the licenses in force.
fn value_postings(r: &LicenseRecord) -> [(Kind, Option<&String>); 4] {
    let released = r.status == LicenseStatus::Released;
    [
        (Kind::Customer, r.customer_id.as_ref()),
        (Kind::Order, r.order_id.as_ref()),
        (Kind::Product, (!released).then_some(&r.product_id)),
        (Kind::Sku, r.sku_code.as_ref().filter(|_| !released)),
    ]
}

/// The keys of the postings a released license no longer keeps (none for another status).
pub(super) fn pruned_postings(r: &LicenseRecord) -> Vec<Vec<u8>> {
    if r.status != LicenseStatus::Released {
        return Vec::new();
    }
    let id = &compact_id(&r.license_id)[..];
    let mut keys = vec![posting(Kind::Product, r.product_id.as_bytes(), id)];
    if let Some(sku) = &r.sku_code {
        keys.push(posting(Kind::Sku, sku.as_bytes(), id));
    }
    keys
}

/// Every posting of a license, as (key, value).
pub(super) fn license_postings(r: &LicenseRecord) -> Vec<(Vec<u8>, Vec<u8>)> {
    let id = &compact_id(&r.license_id)[..];
    let mut keys = Vec::with_capacity(6);
    for (kind, value) in value_postings(r) {
        if let Some(value) = value {
            keys.push((posting(kind, value.as_bytes(), id), Vec::new()));
        }
    }
    if r.status != UNINDEXED_STATUS {
        keys.push((
            posting(Kind::Status, &[status_byte(r.status)], id),
            Vec::new(),
        ));
    }
    if may_be_listed(r) {
        // Serialising this plain struct into a vector cannot fail.
        let value = postcard::to_stdvec(&Revocable::of(r)).unwrap_or_default();
        keys.push((posting(Kind::Revocable, &[], id), value));
    }
    keys
}

/// Every posting of an audit event (its id assigned).
pub(super) fn audit_postings(e: &AuditEvent) -> Vec<Vec<u8>> {
    let id = e.id.to_be_bytes();
    let mut keys = Vec::with_capacity(2);
    if e.actor != UNINDEXED_ACTOR {
        keys.push(posting(Kind::AuditByActor, e.actor.as_bytes(), &id));
    }
    if let Some(license) = &e.license_id {
        keys.push(posting(Kind::AuditByLicense, &compact_id(license), &id));
    }
    keys
}

/// The key right after every key starting with `prefix` (for an exclusive range end); `None`
/// when no such key exists.
pub(super) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
pub(super) mod tests;
