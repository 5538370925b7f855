//! How licenses and audit events are stored: a compact, versioned binary form (a version byte,
//! then postcard), written on every license change. Databases of schema 1 hold the same records
//! as JSON (they start with `{`); [`decode_license`] and [`decode_audit`] read both, so a record
//! is readable before, during and after the migration (`migrate`).
//!
//! The stored forms are private mirrors of [`LicenseRecord`] and [`AuditEvent`], whose serde
//! shapes stay what the API answers. Times keep full precision (seconds and nanoseconds), and a
//! token in its canonical one-line form (`kl1.` + base64url) is kept as its binary BLOB, which
//! gives back exactly the same text. postcard encodes enums by variant position: variants and
//! fields may only ever be appended in a new version byte, never reordered.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::records::{AuditEvent, LicenseRecord, LicenseStatus, Origin, StoredBinding};
use super::{tree, Result, StoreError};

/// First byte of a record in the binary form of schema 2.
const V2: u8 = 0x02;
/// First byte of a JSON record (schema 1).
const JSON: u8 = b'{';
/// Prefix of the one-line token form.
const TOKEN_PREFIX: &str = "kl1.";

/// A time with full precision.
#[derive(Serialize, Deserialize)]
struct Time(i64, u32);

impl From<DateTime<Utc>> for Time {
    fn from(t: DateTime<Utc>) -> Time {
        Time(t.timestamp(), t.timestamp_subsec_nanos())
    }
}

impl Time {
    fn restore(self, tree: &'static str) -> Result<DateTime<Utc>> {
        DateTime::from_timestamp(self.0, self.1).ok_or_else(|| corrupt(tree, "time out of range"))
    }
}

fn opt_time(t: Option<DateTime<Utc>>) -> Option<Time> {
    t.map(Time::from)
}

fn restore_opt(t: Option<Time>, tree: &'static str) -> Result<Option<DateTime<Utc>>> {
    t.map(|t| t.restore(tree)).transpose()
}

fn corrupt(tree: &'static str, message: &str) -> StoreError {
    StoreError::Corrupt {
        tree,
        message: message.to_owned(),
    }
}

/// Text of a stored form: borrowed from the record when encoding, owned when decoding (the
/// bytes are the same either way).
type Text<'a> = Cow<'a, str>;

fn borrow(text: &str) -> Text<'_> {
    Cow::Borrowed(text)
}

fn borrow_opt(text: &Option<String>) -> Option<Text<'_>> {
    text.as_deref().map(Cow::Borrowed)
}

fn owned(text: Option<Text<'_>>) -> Option<String> {
    text.map(Cow::into_owned)
}

/// A token: its BLOB when the text is the canonical one-line form, else the text.
#[derive(Serialize, Deserialize)]
enum Token<'a> {
    Blob(Vec<u8>),
    Text(Text<'a>),
}

impl<'a> Token<'a> {
    fn new(text: &'a str) -> Token<'a> {
        if let Some(encoded) = text.strip_prefix(TOKEN_PREFIX) {
            if let Ok(blob) = URL_SAFE_NO_PAD.decode(encoded) {
                if URL_SAFE_NO_PAD.encode(&blob) == encoded {
                    return Token::Blob(blob);
                }
            }
        }
        Token::Text(Cow::Borrowed(text))
    }

    fn text(self) -> String {
        match self {
            Token::Blob(blob) => format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(blob)),
            Token::Text(text) => text.into_owned(),
        }
    }
}

/// [`StoredBinding`] with an external tag (postcard cannot read internally tagged enums).
#[derive(Serialize, Deserialize)]
enum Binding<'a> {
    None,
    System(Text<'a>),
    Hardware {
        min_match: u8,
        salt: Text<'a>,
        hashes: Cow<'a, [Vec<String>; 4]>,
        anchor: Option<u8>,
    },
}

#[derive(Serialize, Deserialize)]
struct License<'a> {
    license_id: Text<'a>,
    revision: u32,
    status: LicenseStatus,
    status_reason: Option<Text<'a>>,
    revoked_below: u32,
    status_signed_at: Option<Time>,
    origin: Origin,
    instance_id: Option<Text<'a>>,
    order_id: Option<Text<'a>>,
    product_id: Text<'a>,
    previous_product_ids: Cow<'a, [String]>,
    sku_code: Option<Text<'a>>,
    customer_id: Option<Text<'a>>,
    customer_name: Option<Text<'a>>,
    trial: bool,
    test: bool,
    charging_mode: Option<Text<'a>>,
    period_type: Option<Text<'a>>,
    period_number: Option<Text<'a>>,
    amount: Option<u32>,
    quantity: Option<u32>,
    features: Cow<'a, [String]>,
    binding: Binding<'a>,
    not_before: Time,
    expires_at: Option<Time>,
    created_at: Time,
    updated_at: Time,
    issued_at: Time,
    kid: Text<'a>,
    token: Token<'a>,
}

#[derive(Serialize, Deserialize)]
struct Audit<'a> {
    id: u64,
    at: Time,
    actor: Text<'a>,
    action: Text<'a>,
    outcome: Text<'a>,
    license_id: Option<Text<'a>>,
    instance_id: Option<Text<'a>>,
    order_id: Option<Text<'a>>,
    business_id: Option<Text<'a>>,
    test: bool,
    detail: Option<Text<'a>>,
}

fn binary<T: Serialize>(value: &T) -> Vec<u8> {
    // A getLicense record is about 700 bytes.
    let mut out = Vec::with_capacity(1024);
    out.push(V2);
    // Serialising into a growable vector cannot fail for these plain records.
    postcard::to_extend(value, out).unwrap_or_else(|_| vec![V2])
}

/// Reads a record of either schema.
fn read<V2Form, Record>(
    tree: &'static str,
    bytes: &[u8],
    restore: impl FnOnce(V2Form) -> Result<Record>,
) -> Result<Record>
where
    V2Form: serde::de::DeserializeOwned,
    Record: serde::de::DeserializeOwned,
{
    match bytes.first() {
        Some(&V2) => {
            let form =
                postcard::from_bytes(&bytes[1..]).map_err(|e| corrupt(tree, &e.to_string()))?;
            restore(form)
        }
        Some(&JSON) => super::decode(tree, bytes),
        _ => Err(corrupt(tree, "unknown record version")),
    }
}

/// A license in the stored form.
pub(super) fn encode_license(r: &LicenseRecord) -> Vec<u8> {
    let binding = match &r.binding {
        StoredBinding::None => Binding::None,
        StoredBinding::System { identifier } => Binding::System(borrow(identifier)),
        StoredBinding::Hardware {
            min_match,
            salt,
            hashes,
            anchor,
        } => Binding::Hardware {
            min_match: *min_match,
            salt: borrow(salt),
            hashes: Cow::Borrowed(hashes),
            anchor: *anchor,
        },
    };
    binary(&License {
        license_id: borrow(&r.license_id),
        revision: r.revision,
        status: r.status,
        status_reason: borrow_opt(&r.status_reason),
        revoked_below: r.revoked_below,
        status_signed_at: opt_time(r.status_signed_at),
        origin: r.origin,
        instance_id: borrow_opt(&r.instance_id),
        order_id: borrow_opt(&r.order_id),
        product_id: borrow(&r.product_id),
        previous_product_ids: Cow::Borrowed(&r.previous_product_ids),
        sku_code: borrow_opt(&r.sku_code),
        customer_id: borrow_opt(&r.customer_id),
        customer_name: borrow_opt(&r.customer_name),
        trial: r.trial,
        test: r.test,
        charging_mode: borrow_opt(&r.charging_mode),
        period_type: borrow_opt(&r.period_type),
        period_number: borrow_opt(&r.period_number),
        amount: r.amount,
        quantity: r.quantity,
        features: Cow::Borrowed(&r.features),
        binding,
        not_before: r.not_before.into(),
        expires_at: opt_time(r.expires_at),
        created_at: r.created_at.into(),
        updated_at: r.updated_at.into(),
        issued_at: r.issued_at.into(),
        kid: borrow(&r.kid),
        token: Token::new(&r.token),
    })
}

/// A stored license of either schema.
pub(super) fn decode_license(bytes: &[u8]) -> Result<LicenseRecord> {
    const TREE: &str = tree::LICENSES;
    read(TREE, bytes, |l: License| {
        let binding = match l.binding {
            Binding::None => StoredBinding::None,
            Binding::System(identifier) => StoredBinding::System {
                identifier: identifier.into_owned(),
            },
            Binding::Hardware {
                min_match,
                salt,
                hashes,
                anchor,
            } => StoredBinding::Hardware {
                min_match,
                salt: salt.into_owned(),
                hashes: hashes.into_owned(),
                anchor,
            },
        };
        Ok(LicenseRecord {
            license_id: l.license_id.into_owned(),
            revision: l.revision,
            status: l.status,
            status_reason: owned(l.status_reason),
            revoked_below: l.revoked_below,
            status_signed_at: restore_opt(l.status_signed_at, TREE)?,
            origin: l.origin,
            instance_id: owned(l.instance_id),
            order_id: owned(l.order_id),
            product_id: l.product_id.into_owned(),
            previous_product_ids: l.previous_product_ids.into_owned(),
            sku_code: owned(l.sku_code),
            customer_id: owned(l.customer_id),
            customer_name: owned(l.customer_name),
            trial: l.trial,
            test: l.test,
            charging_mode: owned(l.charging_mode),
            period_type: owned(l.period_type),
            period_number: owned(l.period_number),
            amount: l.amount,
            quantity: l.quantity,
            features: l.features.into_owned(),
            binding,
            not_before: l.not_before.restore(TREE)?,
            expires_at: restore_opt(l.expires_at, TREE)?,
            created_at: l.created_at.restore(TREE)?,
            updated_at: l.updated_at.restore(TREE)?,
            issued_at: l.issued_at.restore(TREE)?,
            kid: l.kid.into_owned(),
            token: l.token.text(),
        })
    })
}

/// An audit event in the stored form.
pub(super) fn encode_audit(e: &AuditEvent) -> Vec<u8> {
    binary(&Audit {
        id: e.id,
        at: e.at.into(),
        actor: borrow(&e.actor),
        action: borrow(&e.action),
        outcome: borrow(&e.outcome),
        license_id: borrow_opt(&e.license_id),
        instance_id: borrow_opt(&e.instance_id),
        order_id: borrow_opt(&e.order_id),
        business_id: borrow_opt(&e.business_id),
        test: e.test,
        detail: borrow_opt(&e.detail),
    })
}

/// A stored audit event of either schema.
pub(super) fn decode_audit(bytes: &[u8]) -> Result<AuditEvent> {
    read(tree::AUDIT, bytes, |a: Audit| {
        Ok(AuditEvent {
            id: a.id,
            at: a.at.restore(tree::AUDIT)?,
            actor: a.actor.into_owned(),
            action: a.action.into_owned(),
            outcome: a.outcome.into_owned(),
            license_id: owned(a.license_id),
            instance_id: owned(a.instance_id),
            order_id: owned(a.order_id),
            business_id: owned(a.business_id),
            test: a.test,
            detail: owned(a.detail),
        })
    })
}

/// Whether `bytes` is a record of schema 1 (JSON).
pub(super) fn is_json(bytes: &[u8]) -> bool {
    bytes.first() == Some(&JSON)
}

#[cfg(test)]
mod tests;
