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

/// A token: its BLOB when the text is the canonical one-line form, else the text.
#[derive(Serialize, Deserialize)]
enum Token {
    Blob(Vec<u8>),
    Text(String),
}

impl Token {
    fn new(text: &str) -> Token {
        if let Some(encoded) = text.strip_prefix(TOKEN_PREFIX) {
            if let Ok(blob) = URL_SAFE_NO_PAD.decode(encoded) {
                if URL_SAFE_NO_PAD.encode(&blob) == encoded {
                    return Token::Blob(blob);
                }
            }
        }
        Token::Text(text.to_owned())
    }

    fn text(self) -> String {
        match self {
            Token::Blob(blob) => format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(blob)),
            Token::Text(text) => text,
        }
    }
}

/// [`StoredBinding`] with an external tag (postcard cannot read internally tagged enums).
#[derive(Serialize, Deserialize)]
enum Binding {
    None,
    System(String),
    Hardware {
        min_match: u8,
        salt: String,
        hashes: [Vec<String>; 4],
        anchor: Option<u8>,
    },
}

#[derive(Serialize, Deserialize)]
struct License {
    license_id: String,
    revision: u32,
    status: LicenseStatus,
    status_reason: Option<String>,
    revoked_below: u32,
    status_signed_at: Option<Time>,
    origin: Origin,
    instance_id: Option<String>,
    order_id: Option<String>,
    product_id: String,
    previous_product_ids: Vec<String>,
    sku_code: Option<String>,
    customer_id: Option<String>,
    customer_name: Option<String>,
    trial: bool,
    test: bool,
    charging_mode: Option<String>,
    period_type: Option<String>,
    period_number: Option<String>,
    amount: Option<u32>,
    quantity: Option<u32>,
    features: Vec<String>,
    binding: Binding,
    not_before: Time,
    expires_at: Option<Time>,
    created_at: Time,
    updated_at: Time,
    issued_at: Time,
    kid: String,
    token: Token,
}

#[derive(Serialize, Deserialize)]
struct Audit {
    id: u64,
    at: Time,
    actor: String,
    action: String,
    outcome: String,
    license_id: Option<String>,
    instance_id: Option<String>,
    order_id: Option<String>,
    business_id: Option<String>,
    test: bool,
    detail: Option<String>,
}

fn binary<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
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
        StoredBinding::System { identifier } => Binding::System(identifier.clone()),
        StoredBinding::Hardware {
            min_match,
            salt,
            hashes,
            anchor,
        } => Binding::Hardware {
            min_match: *min_match,
            salt: salt.clone(),
            hashes: hashes.clone(),
            anchor: *anchor,
        },
    };
    binary(&License {
        license_id: r.license_id.clone(),
        revision: r.revision,
        status: r.status,
        status_reason: r.status_reason.clone(),
        revoked_below: r.revoked_below,
        status_signed_at: opt_time(r.status_signed_at),
        origin: r.origin,
        instance_id: r.instance_id.clone(),
        order_id: r.order_id.clone(),
        product_id: r.product_id.clone(),
        previous_product_ids: r.previous_product_ids.clone(),
        sku_code: r.sku_code.clone(),
        customer_id: r.customer_id.clone(),
        customer_name: r.customer_name.clone(),
        trial: r.trial,
        test: r.test,
        charging_mode: r.charging_mode.clone(),
        period_type: r.period_type.clone(),
        period_number: r.period_number.clone(),
        amount: r.amount,
        quantity: r.quantity,
        features: r.features.clone(),
        binding,
        not_before: r.not_before.into(),
        expires_at: opt_time(r.expires_at),
        created_at: r.created_at.into(),
        updated_at: r.updated_at.into(),
        issued_at: r.issued_at.into(),
        kid: r.kid.clone(),
        token: Token::new(&r.token),
    })
}

/// A stored license of either schema.
pub(super) fn decode_license(bytes: &[u8]) -> Result<LicenseRecord> {
    const TREE: &str = tree::LICENSES;
    read(TREE, bytes, |l: License| {
        let binding = match l.binding {
            Binding::None => StoredBinding::None,
            Binding::System(identifier) => StoredBinding::System { identifier },
            Binding::Hardware {
                min_match,
                salt,
                hashes,
                anchor,
            } => StoredBinding::Hardware {
                min_match,
                salt,
                hashes,
                anchor,
            },
        };
        Ok(LicenseRecord {
            license_id: l.license_id,
            revision: l.revision,
            status: l.status,
            status_reason: l.status_reason,
            revoked_below: l.revoked_below,
            status_signed_at: restore_opt(l.status_signed_at, TREE)?,
            origin: l.origin,
            instance_id: l.instance_id,
            order_id: l.order_id,
            product_id: l.product_id,
            previous_product_ids: l.previous_product_ids,
            sku_code: l.sku_code,
            customer_id: l.customer_id,
            customer_name: l.customer_name,
            trial: l.trial,
            test: l.test,
            charging_mode: l.charging_mode,
            period_type: l.period_type,
            period_number: l.period_number,
            amount: l.amount,
            quantity: l.quantity,
            features: l.features,
            binding,
            not_before: l.not_before.restore(TREE)?,
            expires_at: restore_opt(l.expires_at, TREE)?,
            created_at: l.created_at.restore(TREE)?,
            updated_at: l.updated_at.restore(TREE)?,
            issued_at: l.issued_at.restore(TREE)?,
            kid: l.kid,
            token: l.token.text(),
        })
    })
}

/// An audit event in the stored form.
pub(super) fn encode_audit(e: &AuditEvent) -> Vec<u8> {
    binary(&Audit {
        id: e.id,
        at: e.at.into(),
        actor: e.actor.clone(),
        action: e.action.clone(),
        outcome: e.outcome.clone(),
        license_id: e.license_id.clone(),
        instance_id: e.instance_id.clone(),
        order_id: e.order_id.clone(),
        business_id: e.business_id.clone(),
        test: e.test,
        detail: e.detail.clone(),
    })
}

/// A stored audit event of either schema.
pub(super) fn decode_audit(bytes: &[u8]) -> Result<AuditEvent> {
    read(tree::AUDIT, bytes, |a: Audit| {
        Ok(AuditEvent {
            id: a.id,
            at: a.at.restore(tree::AUDIT)?,
            actor: a.actor,
            action: a.action,
            outcome: a.outcome,
            license_id: a.license_id,
            instance_id: a.instance_id,
            order_id: a.order_id,
            business_id: a.business_id,
            test: a.test,
            detail: a.detail,
        })
    })
}

/// Whether `bytes` is a record of schema 1 (JSON).
pub(super) fn is_json(bytes: &[u8]) -> bool {
    bytes.first() == Some(&JSON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canonical_token_is_kept_as_its_blob_and_comes_back_as_the_same_text() {
        let text = "kl1.AS_aYgQ3xEMPARCrOCyL-cREG6lWkr86aaP0AgQAAAABAyQwMTNiNmY5Mi0xZjllLTRl";
        assert!(matches!(Token::new(text), Token::Blob(_)));
        assert_eq!(Token::new(text).text(), text);
        for odd in ["kl1.not base64!", "kl1.AB=", "no-prefix", "kl1.AR"] {
            assert_eq!(Token::new(odd).text(), odd, "{odd}");
        }
    }

    #[test]
    fn times_keep_every_nanosecond() {
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("time");
        assert_eq!(Time::from(t).restore("t").expect("restore"), t);
    }
}
