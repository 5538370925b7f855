//! A throw-away issuer: licenses, revocation lists and status answers signed with a fixed key.

use ed25519_dalek::{Signer as _, SigningKey};
use koolicense_verify::{
    Binding, Claims, EntryStatus, LicenseId, LicenseState, PublicKey, RevocationEntry,
    RevocationList, StatusAnswer, UnsignedLicense,
};

pub(crate) const T0: u64 = 1_767_225_600;
pub(crate) const DAY: u64 = 86_400;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn public() -> PublicKey {
    PublicKey::from_bytes(&key().verifying_key().to_bytes()).expect("valid key")
}

pub(crate) fn public_pem() -> String {
    public().to_pem()
}

pub(crate) fn claims(id: u8, revision: u32, test: bool) -> Claims {
    Claims {
        license_id: LicenseId([id; 16]),
        revision,
        instance_id: None,
        order_id: None,
        product_id: "00301-666666-0--0".into(),
        sku_code: None,
        customer_id: None,
        trial: false,
        test,
        issued_at: T0,
        not_before: T0,
        expires_at: Some(T0 + 365 * DAY),
        quantity: None,
        features: Vec::new(),
        binding: Binding::None,
    }
}

pub(crate) fn license(claims: &Claims) -> String {
    let unsigned = UnsignedLicense::new(&public().kid(), claims).expect("encodable");
    unsigned.finish(&key().sign(&unsigned.message()).to_bytes())
}

pub(crate) fn revocation_list(
    sequence: u64,
    issued_at: u64,
    revoked: &[(u8, EntryStatus)],
) -> String {
    let entries = revoked
        .iter()
        .map(|&(id, status)| RevocationEntry {
            license_id: LicenseId([id; 16]),
            revoked_below: 0,
            status,
        })
        .collect();
    let unsigned = RevocationList::new(sequence, issued_at, entries).to_unsigned(&public().kid());
    unsigned.finish(&key().sign(&unsigned.message()).to_bytes())
}

pub(crate) fn status_answer(
    claims: &Claims,
    revision: u32,
    state: LicenseState,
    nonce: &str,
) -> String {
    let answer = StatusAnswer {
        server_time: T0 + DAY,
        license_id: claims.license_id,
        revision,
        state,
        current_revision: revision,
        revoked_below: 0,
        expires_at: claims.expires_at,
        nonce: nonce.into(),
    };
    let unsigned = answer.to_unsigned(&public().kid()).expect("valid nonce");
    unsigned.finish(&key().sign(&unsigned.message()).to_bytes())
}
