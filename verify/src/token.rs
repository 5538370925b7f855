//! The license payload: claims encoded as ordered tag-length-value fields, and the issuer-side
//! encoding that produces the exact bytes to sign.
//!
//! Each field is `tag (1 byte) || length (1 byte) || value`. Tags appear in strictly increasing
//! order, each at most once, so one set of claims has exactly one encoding; Ed25519 signatures are
//! deterministic, so one set of claims signed by one key always yields the same token. Unknown tags
//! below 0x80 are skipped (room for optional additions); unknown tags from 0x80 up are critical and
//! make the token unacceptable to a verifier that does not know them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use crate::binding::{Binding, HardwareBinding, HASH_LEN, MAX_VALUES_PER_COMPONENT, SALT_LEN};
use crate::claims::{Claims, LicenseId};
use crate::envelope::{self, Kind, LICENSE, SIGNATURE_LEN};
use crate::error::Error;
use crate::hwid::Component;
use crate::keys::Kid;

/// Longest one-line license the issuer will produce (KooMarket's string-license upload limit).
pub const MAX_TOKEN_LEN: usize = 1024;

pub(crate) mod tag {
    pub(crate) const LICENSE_ID: u8 = 0x01;
    pub(crate) const REVISION: u8 = 0x02;
    pub(crate) const INSTANCE_ID: u8 = 0x03;
    pub(crate) const ORDER_ID: u8 = 0x04;
    pub(crate) const PRODUCT_ID: u8 = 0x05;
    pub(crate) const SKU_CODE: u8 = 0x06;
    pub(crate) const CUSTOMER_ID: u8 = 0x07;
    pub(crate) const FLAGS: u8 = 0x08;
    pub(crate) const ISSUED_AT: u8 = 0x09;
    pub(crate) const NOT_BEFORE: u8 = 0x0a;
    pub(crate) const EXPIRES_AT: u8 = 0x0b;
    pub(crate) const QUANTITY: u8 = 0x0c;
    pub(crate) const FEATURES: u8 = 0x0d;
    pub(crate) const BINDING: u8 = 0x0e;
    /// The anchor component of a hardware binding (optional: verifiers that do not know it
    /// apply the version 1 rule).
    pub(crate) const ANCHOR: u8 = 0x0f;
    pub(crate) const FIRST_CRITICAL: u8 = 0x80;
}

const FLAG_TRIAL: u8 = 0x01;
const FLAG_TEST: u8 = 0x02;
const BINDING_SYSTEM: u8 = 1;
const BINDING_HARDWARE: u8 = 2;
const BINDING_SYSTEM_DIGEST: u8 = 3;
/// System identifiers longer than this are stored as a SHA-256 digest.
pub const MAX_INLINE_SYSTEM_ID: usize = 128;
const SYSTEM_DIGEST_DOMAIN: &[u8] = b"koolicense/sysid/v1\0";

/// Why claims could not be encoded into a license.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A text field is empty or longer than 255 bytes.
    FieldLength(&'static str),
    /// The feature list does not fit in one field (255 bytes).
    TooManyFeatures,
    /// The hardware binding is inconsistent (K of 0, or too many values in a component).
    InvalidBinding,
    /// The one-line token would be longer than [`MAX_TOKEN_LEN`].
    TooLong(usize),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::FieldLength(field) => write!(f, "{field} must be 1 to 255 bytes"),
            EncodeError::TooManyFeatures => f.write_str("feature list exceeds 255 bytes"),
            EncodeError::InvalidBinding => f.write_str("invalid hardware binding"),
            EncodeError::TooLong(len) => {
                write!(f, "license would be {len} characters, over {MAX_TOKEN_LEN}")
            }
        }
    }
}

impl core::error::Error for EncodeError {}

/// Claims encoded and ready to be signed by the issuer.
///
/// The signing key never enters this crate: the issuer signs [`UnsignedLicense::message`] with its
/// Ed25519 key and hands the signature to [`UnsignedLicense::finish`].
#[derive(Clone, Debug)]
pub struct UnsignedLicense {
    body: Vec<u8>,
}

impl UnsignedLicense {
    /// Encodes `claims` for the key `kid`. Fails when a field is out of range or the one-line
    /// token would exceed [`MAX_TOKEN_LEN`] characters.
    pub fn new(kid: &Kid, claims: &Claims) -> Result<UnsignedLicense, EncodeError> {
        let mut body = envelope::body_header(kid, envelope::FORMAT_VERSION);
        encode_payload(claims, &mut body)?;
        let len = envelope::one_line_len(&LICENSE, body.len());
        if len > MAX_TOKEN_LEN {
            return Err(EncodeError::TooLong(len));
        }
        Ok(UnsignedLicense { body })
    }

    /// The exact bytes the Ed25519 signature must cover:
    /// `"koolicense/license/v1\0" || version || kid || payload`.
    pub fn message(&self) -> Vec<u8> {
        envelope::signing_message(&LICENSE, &self.body)
    }

    /// The one-line token carrying `signature`.
    pub fn finish(&self, signature: &[u8; SIGNATURE_LEN]) -> String {
        envelope::to_one_line(&LICENSE, &self.body, signature)
    }
}

/// The armoured (file) form of a one-line license.
pub fn armor_license(one_line: &str) -> String {
    envelope::armor(&LICENSE, one_line)
}

/// A license decoded WITHOUT checking its signature, for inspection only.
#[derive(Clone, Debug)]
pub struct Unverified {
    /// Key id named by the token.
    pub kid: Kid,
    /// Format version.
    pub version: u8,
    /// The claims as written. Nothing here has been authenticated.
    pub claims: Claims,
}

/// Decodes a license in either text form without verifying it. Never use the result to grant
/// anything: use [`crate::Verifier::verify`].
pub fn inspect(text: &str) -> Result<Unverified, Error> {
    let envelope = envelope::decode(&LICENSE, text)?;
    let claims = decode_payload(envelope.payload())?;
    Ok(Unverified {
        kid: envelope.kid,
        version: envelope.version,
        claims,
    })
}

pub(crate) fn license_kind() -> &'static Kind {
    &LICENSE
}

/// The digest under which a long system identifier is stored.
pub fn system_identifier_digest(code: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(SYSTEM_DIGEST_DOMAIN);
    hasher.update(code.trim().as_bytes());
    hasher.finalize().into()
}

fn put(out: &mut Vec<u8>, tag: u8, value: &[u8], field: &'static str) -> Result<(), EncodeError> {
    let len = u8::try_from(value.len()).map_err(|_| EncodeError::FieldLength(field))?;
    out.push(tag);
    out.push(len);
    out.extend_from_slice(value);
    Ok(())
}

fn put_text(
    out: &mut Vec<u8>,
    tag: u8,
    value: &str,
    field: &'static str,
) -> Result<(), EncodeError> {
    if value.is_empty() {
        return Err(EncodeError::FieldLength(field));
    }
    put(out, tag, value.as_bytes(), field)
}

fn put_opt_text(
    out: &mut Vec<u8>,
    tag: u8,
    value: &Option<String>,
    field: &'static str,
) -> Result<(), EncodeError> {
    match value {
        Some(v) => put_text(out, tag, v, field),
        None => Ok(()),
    }
}

pub(crate) fn encode_payload(c: &Claims, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    put(out, tag::LICENSE_ID, &c.license_id.0, "license id")?;
    put(out, tag::REVISION, &c.revision.to_be_bytes(), "revision")?;
    put_opt_text(out, tag::INSTANCE_ID, &c.instance_id, "instance id")?;
    put_opt_text(out, tag::ORDER_ID, &c.order_id, "order id")?;
    put_text(out, tag::PRODUCT_ID, &c.product_id, "product id")?;
    put_opt_text(out, tag::SKU_CODE, &c.sku_code, "sku code")?;
    put_opt_text(out, tag::CUSTOMER_ID, &c.customer_id, "customer id")?;
    let flags = if c.trial { FLAG_TRIAL } else { 0 } | if c.test { FLAG_TEST } else { 0 };
    if flags != 0 {
        put(out, tag::FLAGS, &[flags], "flags")?;
    }
    put(out, tag::ISSUED_AT, &c.issued_at.to_be_bytes(), "issued at")?;
    if c.not_before != c.issued_at {
        put(
            out,
            tag::NOT_BEFORE,
            &c.not_before.to_be_bytes(),
            "not before",
        )?;
    }
    if let Some(exp) = c.expires_at {
        put(out, tag::EXPIRES_AT, &exp.to_be_bytes(), "expires at")?;
    }
    if let Some(q) = c.quantity {
        put(out, tag::QUANTITY, &q.to_be_bytes(), "quantity")?;
    }
    if !c.features.is_empty() {
        let mut features: Vec<&String> = c.features.iter().collect();
        features.sort();
        features.dedup();
        let mut value = Vec::new();
        for f in features {
            let len = u8::try_from(f.len()).map_err(|_| EncodeError::TooManyFeatures)?;
            if len == 0 {
                return Err(EncodeError::FieldLength("feature"));
            }
            value.push(len);
            value.extend_from_slice(f.as_bytes());
        }
        if value.len() > 255 {
            return Err(EncodeError::TooManyFeatures);
        }
        put(out, tag::FEATURES, &value, "features")?;
    }
    match &c.binding {
        Binding::None => {}
        Binding::System(code) => {
            let code = code.trim();
            let mut value = Vec::new();
            if code.is_empty() {
                return Err(EncodeError::FieldLength("system identifier"));
            } else if code.len() <= MAX_INLINE_SYSTEM_ID {
                value.push(BINDING_SYSTEM);
                value.extend_from_slice(code.as_bytes());
            } else {
                value.push(BINDING_SYSTEM_DIGEST);
                value.extend_from_slice(&system_identifier_digest(code));
            }
            put(out, tag::BINDING, &value, "binding")?;
        }
        Binding::SystemDigest(digest) => {
            let mut value = Vec::with_capacity(33);
            value.push(BINDING_SYSTEM_DIGEST);
            value.extend_from_slice(digest);
            put(out, tag::BINDING, &value, "binding")?;
        }
        Binding::Hardware(hw) => {
            if hw.min_match == 0 || hw.min_match > 4 {
                return Err(EncodeError::InvalidBinding);
            }
            if let Some(anchor) = hw.anchor {
                let single = hw.hashes.get(anchor.index()).map(Vec::len) == Some(1);
                if !matches!(anchor, Component::Disk | Component::Board) || !single {
                    return Err(EncodeError::InvalidBinding);
                }
            }
            let mut value = Vec::with_capacity(3 + SALT_LEN + 4 * 4 * HASH_LEN);
            value.push(BINDING_HARDWARE);
            value.push(hw.min_match);
            value.extend_from_slice(&hw.salt);
            for hashes in &hw.hashes {
                if hashes.len() > MAX_VALUES_PER_COMPONENT {
                    return Err(EncodeError::InvalidBinding);
                }
                value.push(hashes.len() as u8);
                for h in hashes {
                    value.extend_from_slice(h);
                }
            }
            put(out, tag::BINDING, &value, "binding")?;
            if let Some(anchor) = hw.anchor {
                put(out, tag::ANCHOR, &[anchor as u8], "anchor")?;
            }
        }
    }
    Ok(())
}

/// A reader over a byte slice that never panics.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.bytes.len() {
            return Err(Error::Malformed("field runs past the end"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        Ok(*self.take(1)?.first().ok_or(Error::Malformed("truncated"))?)
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

fn text(value: &[u8], what: &'static str) -> Result<String, Error> {
    if value.is_empty() {
        return Err(Error::Malformed(what));
    }
    core::str::from_utf8(value)
        .map(String::from)
        .map_err(|_| Error::Malformed(what))
}

fn fixed<const N: usize>(value: &[u8], what: &'static str) -> Result<[u8; N], Error> {
    value.try_into().map_err(|_| Error::Malformed(what))
}

pub(crate) fn decode_payload(payload: &[u8]) -> Result<Claims, Error> {
    let mut r = Reader { bytes: payload };
    let mut last_tag = 0u8;
    let mut license_id = None;
    let mut revision = None;
    let mut product_id = None;
    let mut issued_at = None;
    let mut claims = Claims::blank();
    let mut not_before = None;
    while !r.is_empty() {
        let t = r.byte()?;
        if t <= last_tag {
            return Err(Error::Malformed("fields out of order or repeated"));
        }
        last_tag = t;
        let len = usize::from(r.byte()?);
        let value = r.take(len)?;
        match t {
            tag::LICENSE_ID => license_id = Some(LicenseId(fixed(value, "license id")?)),
            tag::REVISION => revision = Some(u32::from_be_bytes(fixed(value, "revision")?)),
            tag::INSTANCE_ID => claims.instance_id = Some(text(value, "instance id")?),
            tag::ORDER_ID => claims.order_id = Some(text(value, "order id")?),
            tag::PRODUCT_ID => product_id = Some(text(value, "product id")?),
            tag::SKU_CODE => claims.sku_code = Some(text(value, "sku code")?),
            tag::CUSTOMER_ID => claims.customer_id = Some(text(value, "customer id")?),
            tag::FLAGS => {
                let [flags] = fixed::<1>(value, "flags")?;
                if flags & !(FLAG_TRIAL | FLAG_TEST) != 0 {
                    return Err(Error::Malformed("unknown flag bits"));
                }
                claims.trial = flags & FLAG_TRIAL != 0;
                claims.test = flags & FLAG_TEST != 0;
            }
            tag::ISSUED_AT => issued_at = Some(u64::from_be_bytes(fixed(value, "issued at")?)),
            tag::NOT_BEFORE => {
                not_before = Some(u64::from_be_bytes(fixed(value, "not before")?));
            }
            tag::EXPIRES_AT => {
                claims.expires_at = Some(u64::from_be_bytes(fixed(value, "expires at")?));
            }
            tag::QUANTITY => claims.quantity = Some(u32::from_be_bytes(fixed(value, "quantity")?)),
            tag::FEATURES => claims.features = decode_features(value)?,
            tag::BINDING => claims.binding = decode_binding(value)?,
            tag::ANCHOR => decode_anchor(value, &mut claims.binding)?,
            t if t >= tag::FIRST_CRITICAL => return Err(Error::UnsupportedCriticalField(t)),
            _ => {} // an optional field added by a later version
        }
    }
    claims.license_id = license_id.ok_or(Error::Malformed("license id missing"))?;
    claims.revision = revision.ok_or(Error::Malformed("revision missing"))?;
    claims.product_id = product_id.ok_or(Error::Malformed("product id missing"))?;
    claims.issued_at = issued_at.ok_or(Error::Malformed("issued at missing"))?;
    claims.not_before = not_before.unwrap_or(claims.issued_at);
    Ok(claims)
}

fn decode_features(value: &[u8]) -> Result<Vec<String>, Error> {
    let mut r = Reader { bytes: value };
    let mut features = Vec::new();
    while !r.is_empty() {
        let len = usize::from(r.byte()?);
        features.push(text(r.take(len)?, "feature")?);
    }
    Ok(features)
}

/// Sets the anchor of the hardware binding decoded just before: disk or board, holding exactly
/// one hash.
fn decode_anchor(value: &[u8], binding: &mut Binding) -> Result<(), Error> {
    let bad = Error::Malformed("anchor");
    let Binding::Hardware(hw) = binding else {
        return Err(bad);
    };
    let anchor = match fixed::<1>(value, "anchor")? {
        [1] => Component::Disk,
        [2] => Component::Board,
        _ => return Err(bad),
    };
    if hw.hashes.get(anchor.index()).map(Vec::len) != Some(1) {
        return Err(bad);
    }
    hw.anchor = Some(anchor);
    Ok(())
}

fn decode_binding(value: &[u8]) -> Result<Binding, Error> {
    let mut r = Reader { bytes: value };
    match r.byte()? {
        BINDING_SYSTEM => Ok(Binding::System(text(r.bytes, "system identifier")?)),
        BINDING_SYSTEM_DIGEST => Ok(Binding::SystemDigest(fixed(r.bytes, "system digest")?)),
        BINDING_HARDWARE => {
            let min_match = r.byte()?;
            if min_match == 0 || min_match > 4 {
                return Err(Error::Malformed("hardware binding K out of range"));
            }
            let salt = fixed(r.take(SALT_LEN)?, "salt")?;
            let mut hashes: [Vec<[u8; HASH_LEN]>; 4] = Default::default();
            for component in hashes.iter_mut() {
                let count = usize::from(r.byte()?);
                if count > MAX_VALUES_PER_COMPONENT {
                    return Err(Error::Malformed("too many component values"));
                }
                for _ in 0..count {
                    component.push(fixed(r.take(HASH_LEN)?, "component hash")?);
                }
            }
            if !r.is_empty() {
                return Err(Error::Malformed("trailing bytes in binding"));
            }
            Ok(Binding::Hardware(HardwareBinding {
                min_match,
                salt,
                hashes,
                anchor: None,
            }))
        }
        _ => Err(Error::Malformed("unknown binding kind")),
    }
}
