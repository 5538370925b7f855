//! Shared helpers: the test keys, a typical set of claims, issuing tokens and working on the
//! decoded blob of a token.

use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use koolicense_verify::{
    Binding, Claims, Error, HardwareBinding, HardwareId, Kid, LicenseId, PublicKey,
    UnsignedLicense, Verifier, SALT_LEN,
};

/// The committed TEST-ONLY key pair.
pub(crate) const TEST_PRIVATE_PEM: &str = include_str!("../../../keys/test/test-signing.key.pem");
pub(crate) const TEST_PUBLIC_PEM: &str = include_str!("../../../keys/test/test-signing.pub.pem");

/// Domain separation prefix of the license signature.
pub(crate) const DOMAIN: &[u8] = b"koolicense/license/v1\0";
/// One-line prefix of a license.
pub(crate) const PREFIX: &str = "kl1.";

/// 2026-01-01T00:00:00Z: issue time of the typical license.
pub(crate) const T0: u64 = 1_767_225_600;
pub(crate) const DAY: u64 = 86_400;

/// DER prefix of a PKCS#8 v1 Ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The test signing key, parsed from its PKCS#8 PEM.
///
/// Keys and verifiers are built once and cloned: deriving a public key or decompressing one
/// costs milliseconds in debug builds.
pub(crate) fn test_key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let body: String = TEST_PRIVATE_PEM
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(body.trim()).unwrap();
        assert_eq!(der.len(), 48, "PKCS#8 Ed25519 key is 48 bytes of DER");
        assert_eq!(der[..16], PKCS8_ED25519_PREFIX);
        let seed: [u8; 32] = der[16..].try_into().unwrap();
        SigningKey::from_bytes(&seed)
    })
    .clone()
}

/// A deterministic second key (e.g. the key a rotation introduces, or an attacker's key).
pub(crate) fn other_key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_bytes(&[0x42; 32]))
        .clone()
}

pub(crate) fn public(key: &SigningKey) -> PublicKey {
    PublicKey::from_bytes(&key.verifying_key().to_bytes()).unwrap()
}

pub(crate) fn kid(key: &SigningKey) -> Kid {
    Kid::of(&key.verifying_key().to_bytes())
}

/// A verifier pinning only the test key.
pub(crate) fn verifier() -> Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER
        .get_or_init(|| Verifier::new([PublicKey::parse(TEST_PUBLIC_PEM).unwrap()]))
        .clone()
}

/// A typical one-year subscription license, floating.
pub(crate) fn claims() -> Claims {
    Claims {
        license_id: LicenseId(*b"\x6f\x1c\x2a\x90\x44\x5b\x4e\x1d\x9c\x3e\x7a\x10\x00\xab\xcd\xef"),
        revision: 1,
        instance_id: Some("9a7c1e2b-5f04-4d3b-8e6a-1c2d3e4f5a6b".into()),
        order_id: Some("CS2601011200ABCDE".into()),
        product_id: "00301-666666-0--0".into(),
        sku_code: Some("d9e7c4b2a1f04e3c8b6a5d4c3b2a1f0e".into()),
        customer_id: Some("0a1b2c3d4e5f".into()),
        trial: false,
        test: false,
        issued_at: T0,
        not_before: T0,
        expires_at: Some(T0 + 365 * DAY),
        quantity: None,
        features: Vec::new(),
        binding: Binding::None,
    }
}

/// The hardware identifier of the machine the typical license is bound to.
pub(crate) const MACHINE: &str =
    "00:1A:2B:3C:4D:5E,00:1A:2B:3C:4D:5F|S3Z9NB0K123456|BSN-ABC-123|BFEBFBFF000906EA";

pub(crate) fn hwid(text: &str) -> HardwareId {
    HardwareId::parse(text).unwrap()
}

pub(crate) const SALT: [u8; SALT_LEN] = *b"0123456789abcdef";

/// The typical license bound to [`MACHINE`] with K of 4 components.
pub(crate) fn hardware_claims(min_match: u8) -> Claims {
    let binding = HardwareBinding::bind(&hwid(MACHINE), SALT, min_match).unwrap();
    Claims {
        binding: Binding::Hardware(binding),
        ..claims()
    }
}

/// Encodes and signs `claims` with `key`.
pub(crate) fn issue_with(key: &SigningKey, claims: &Claims) -> String {
    let unsigned = UnsignedLicense::new(&kid(key), claims).unwrap();
    let signature = key.sign(&unsigned.message());
    unsigned.finish(&signature.to_bytes())
}

/// Encodes and signs `claims` with the test key.
pub(crate) fn issue(claims: &Claims) -> String {
    issue_with(&test_key(), claims)
}

/// The token of [`hardware_claims`] with K = 2, signed once per test run (signing is slow in
/// debug builds).
pub(crate) fn typical_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TOKEN.get_or_init(|| issue(&hardware_claims(2)))
}

/// `version || kid || payload` of the claims, as the issuer would sign them.
pub(crate) fn body_of(key: &SigningKey, claims: &Claims) -> Vec<u8> {
    let unsigned = UnsignedLicense::new(&kid(key), claims).unwrap();
    let message = unsigned.message();
    assert!(message.starts_with(DOMAIN));
    message[DOMAIN.len()..].to_vec()
}

/// Signs an arbitrary body (`version || kid || payload`) and returns the one-line token.
pub(crate) fn sign_body(key: &SigningKey, body: &[u8]) -> String {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(body);
    let mut blob = body.to_vec();
    blob.extend_from_slice(&key.sign(&message).to_bytes());
    encode_blob(&blob)
}

/// The bytes a one-line token carries: `version || kid || payload || signature`.
pub(crate) fn decode_blob(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(token.strip_prefix(PREFIX).unwrap())
        .unwrap()
}

pub(crate) fn encode_blob(blob: &[u8]) -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(blob))
}

/// Rewraps the base64 body of a one-line token into armour lines of `width` characters,
/// joined by `newline`.
pub(crate) fn armour_wrapped(token: &str, width: usize, newline: &str) -> String {
    let body = token.strip_prefix(PREFIX).unwrap();
    let mut out = format!("-----BEGIN KOOLICENSE LICENSE-----{newline}");
    for chunk in body.as_bytes().chunks(width) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push_str(newline);
    }
    out.push_str("-----END KOOLICENSE LICENSE-----");
    out.push_str(newline);
    out
}

/// Whether a rejection is one of the outcomes a tampered token may legitimately produce.
pub(crate) fn is_tamper_rejection(error: &Error) -> bool {
    matches!(
        error,
        Error::BadSignature
            | Error::UnsupportedVersion(_)
            | Error::UnknownKey(_)
            | Error::Encoding(_)
            | Error::TooLarge
    )
}

/// What verification returns for claims the encoder accepted: features sorted and
/// deduplicated, a system identifier trimmed, and carried as a digest when over 128 bytes.
pub(crate) fn as_verified(claims: &Claims) -> Claims {
    let mut expected = claims.clone();
    expected.features.sort();
    expected.features.dedup();
    if let Binding::System(code) = &claims.binding {
        let code = code.trim();
        expected.binding = if code.len() > koolicense_verify::MAX_INLINE_SYSTEM_ID {
            Binding::SystemDigest(koolicense_verify::system_identifier_digest(code))
        } else {
            Binding::System(code.into())
        };
    }
    expected
}
