//! What a known-answer case is, and the pieces the cases are built from: fixed claims, salts,
//! machines and times, signed with the TEST key.

use ed25519_dalek::SigningKey;
use koolicense_verify::{Binding, Claims, HardwareBinding, LicenseId, SALT_LEN};

use crate::support::*;

/// The text under test.
pub(crate) enum Text {
    Token(String),
    Armored(String),
}

/// What the program knows about its machine; `None` fields are unknown.
pub(crate) struct HostSpec {
    pub(crate) hardware: Option<&'static str>,
    pub(crate) system: Option<String>,
}

pub(crate) enum Expect {
    /// Verification succeeds with these claims (as issued; the encoder's normalisation applies).
    Ok(Box<Claims>),
    /// Verification fails with this error variant.
    Error(&'static str),
}

pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) text: Text,
    pub(crate) public_key_pem: String,
    pub(crate) now: u64,
    pub(crate) leeway: Option<u64>,
    pub(crate) product: Option<&'static str>,
    pub(crate) host: Option<HostSpec>,
    /// Accept test licenses (`testFlag=1`).
    pub(crate) allow_test: bool,
    /// The clock's high-water mark, checked before the license.
    pub(crate) mark: Option<u64>,
    pub(crate) expect: Expect,
}

pub(crate) const PRODUCT: &str = "00301-666666-0--0";
pub(crate) const SKU: &str = "d9e7c4b2a1f04e3c8b6a5d4c3b2a1f0e";
pub(crate) const YEAR: u64 = 365 * DAY;
pub(crate) const VECTOR_SALT: [u8; SALT_LEN] = *b"kl-vector-salt-1";
pub(crate) const SYSTEM_ID: &str = "KM-SYS-7F3A9C21";
pub(crate) const VECTOR_MACHINE: &str =
    "00:1A:2B:3C:4D:5E,00:1A:2B:3C:4D:5F|S3Z9NB0K123456|BSN-ABC-123|BFEBFBFF000906EA";

pub(crate) fn license_id(n: u8) -> LicenseId {
    let mut id = *b"\x5a\x11\x0c\x3e\x9b\x27\x4f\x61\x80\x42\x13\x77\x2d\xc4\x00\x00";
    id[15] = n;
    LicenseId(id)
}

/// A license with the fields KooMarket always sends, perpetual and floating.
pub(crate) fn base(n: u8) -> Claims {
    Claims {
        license_id: license_id(n),
        revision: 1,
        instance_id: Some(format!("9a7c1e2b-5f04-4d3b-8e6a-1c2d3e4f5a{n:02x}")),
        order_id: Some(format!("CS26010112000{n:04}")),
        product_id: PRODUCT.into(),
        sku_code: Some(SKU.into()),
        customer_id: Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9".into()),
        trial: false,
        test: false,
        issued_at: T0,
        not_before: T0,
        expires_at: None,
        quantity: None,
        features: Vec::new(),
        binding: Binding::None,
    }
}

pub(crate) fn periodic(n: u8) -> Claims {
    Claims {
        expires_at: Some(T0 + YEAR),
        ..base(n)
    }
}

pub(crate) fn hardware(n: u8, min_match: u8) -> Claims {
    let id = hwid(VECTOR_MACHINE);
    Claims {
        binding: Binding::Hardware(HardwareBinding::bind(&id, VECTOR_SALT, min_match).unwrap()),
        ..periodic(n)
    }
}

/// Bound to [`VECTOR_MACHINE`] under the anchored rule (anchor: the board).
pub(crate) fn anchored(n: u8) -> Claims {
    let id = hwid(VECTOR_MACHINE);
    Claims {
        binding: Binding::Hardware(HardwareBinding::bind_strict(&id, VECTOR_SALT, 2).unwrap()),
        ..periodic(n)
    }
}

pub(crate) fn sign(key: &SigningKey, body: &[u8]) -> String {
    sign_body(key, body)
}

/// A valid case at `now` verified without a host.
pub(crate) fn ok(name: &'static str, claims: Claims, now: u64) -> Case {
    Case {
        name,
        text: Text::Token(issue(&claims)),
        public_key_pem: TEST_PUBLIC_PEM.into(),
        now,
        leeway: None,
        product: None,
        host: None,
        allow_test: false,
        mark: None,
        expect: Expect::Ok(Box::new(claims)),
    }
}

pub(crate) fn fails(name: &'static str, claims: &Claims, now: u64, error: &'static str) -> Case {
    Case {
        expect: Expect::Error(error),
        ..ok(name, claims.clone(), now)
    }
}

pub(crate) fn on(mut case: Case, hardware: Option<&'static str>, system: Option<&str>) -> Case {
    case.host = Some(HostSpec {
        hardware,
        system: system.map(String::from),
    });
    case
}

pub(crate) fn with_text(mut case: Case, text: Text) -> Case {
    case.text = text;
    case
}

/// One `tag || len || value` field.
pub(crate) fn field(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, u8::try_from(value.len()).unwrap()];
    out.extend_from_slice(value);
    out
}
