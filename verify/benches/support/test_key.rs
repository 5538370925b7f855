//! The committed TEST-ONLY signing key, for the benchmark and the fuzzer.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;

const TEST_PRIVATE_PEM: &str = include_str!("../../../keys/test/test-signing.key.pem");

/// The key (PKCS#8 v1: the seed is the last 32 DER bytes).
pub(crate) fn test_key() -> SigningKey {
    let body: String = TEST_PRIVATE_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(body).unwrap();
    SigningKey::from_bytes(&der[16..48].try_into().unwrap())
}
