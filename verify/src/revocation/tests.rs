//! Unit tests of the revocation list: layout, lookup, freshness and limits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloc::vec;

use ed25519_dalek::{Signer as _, SigningKey};

use super::*;
use crate::keys::PublicKey;

fn key() -> (SigningKey, Verifier, Kid) {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public = PublicKey::from_bytes(&key.verifying_key().to_bytes()).unwrap();
    let kid = public.kid();
    (key, Verifier::new([public]), kid)
}

fn sign(key: &SigningKey, kid: &Kid, list: &RevocationList) -> String {
    let unsigned = list.to_unsigned(kid);
    unsigned.finish(&key.sign(&unsigned.message()).to_bytes())
}

fn claims(id: u8, revision: u32) -> Claims {
    Claims::minimal(id, revision)
}

fn list(sequence: u64) -> RevocationList {
    let entry = |id: u8, revoked_below, status| RevocationEntry {
        license_id: LicenseId([id; 16]),
        revoked_below,
        status,
    };
    RevocationList::new(
        sequence,
        1_700_000_000,
        vec![
            entry(3, u32::MAX, EntryStatus::Revoked),
            entry(1, u32::MAX, EntryStatus::Suspended),
            entry(2, 3, EntryStatus::Superseded),
        ],
    )
}

const NOW: u64 = 1_700_000_100;

fn stamp(sequence: u64, issued_at: u64) -> Option<ListStamp> {
    Some(ListStamp {
        sequence,
        issued_at,
    })
}

#[test]
fn a_signed_list_is_accepted_and_revokes_what_it_lists() {
    let (key, verifier, kid) = key();
    let text = sign(&key, &kid, &list(5));
    let accepted = verifier
        .verify_revocation_list(&text, NOW, stamp(4, 1_600_000_000))
        .unwrap();
    assert_eq!(accepted, list(5));
    assert_eq!(accepted.len(), 3);
    assert_eq!(accepted.check(&claims(1, 1)), Err(Error::Revoked));
    assert_eq!(accepted.check(&claims(3, 9)), Err(Error::Revoked));
    assert_eq!(
        accepted.check(&claims(2, 2)),
        Err(Error::Revoked),
        "superseded token"
    );
    assert_eq!(accepted.check(&claims(2, 3)), Ok(()), "the reissued token");
    assert_eq!(accepted.check(&claims(4, 1)), Ok(()), "not listed");
    assert_eq!(accepted.check(&claims(0, 1)), Ok(()), "below every entry");
    assert_eq!(
        verifier.check_revocation(&text, NOW, None, &claims(4, 1)),
        Ok(list(5).stamp())
    );
    let armored = armor_revocation_list(&text);
    assert!(verifier.verify_revocation_list(&armored, NOW, None).is_ok());
}

#[test]
fn a_list_not_newer_than_the_last_accepted_is_stale() {
    let (key, verifier, kid) = key();
    let text = sign(&key, &kid, &list(5));
    let issued = list(5).issued_at;
    for last in [stamp(5, issued), stamp(9, issued - 1), stamp(4, issued + 1)] {
        assert_eq!(
            verifier.verify_revocation_list(&text, NOW, last),
            Err(Error::Stale),
            "{last:?}"
        );
    }
    assert_eq!(
        verifier.check_revocation(&text, NOW, stamp(5, issued), &claims(4, 1)),
        Err(Error::Stale)
    );
    // The same content re-signed later is news: it proves nothing was withheld.
    assert!(verifier
        .verify_revocation_list(&text, NOW, stamp(5, issued - 1))
        .is_ok());
    // A change signed within the same second as the last list is news too.
    assert!(verifier
        .verify_revocation_list(&text, NOW, stamp(4, issued))
        .is_ok());
}

#[test]
fn a_list_older_than_the_maximum_age_plus_leeway_is_too_old() {
    let (key, verifier, kid) = key();
    let text = sign(&key, &kid, &list(5));
    let issued = list(5).issued_at;
    let verifier = verifier.with_max_list_age(3600).with_leeway(300);
    assert!(verifier
        .verify_revocation_list(&text, issued + 3899, None)
        .is_ok());
    assert_eq!(
        verifier.verify_revocation_list(&text, issued + 3900, None),
        Err(Error::ListTooOld {
            issued_at: issued,
            now: issued + 3900
        })
    );
}

#[test]
fn lookups_find_every_entry_of_a_large_list_and_nothing_else() {
    let (key, verifier, kid) = key();
    let id = |n: u32| {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&(n * 2 + 1).to_be_bytes());
        LicenseId(bytes)
    };
    let entries = (0..5000)
        .map(|n| RevocationEntry {
            license_id: id(n),
            revoked_below: u32::MAX,
            status: EntryStatus::Revoked,
        })
        .collect();
    let list = RevocationList::new(1, 1_700_000_000, entries);
    let text = sign(&key, &kid, &list);
    assert!(
        text.len() > crate::MAX_INPUT_LEN,
        "over the version 1 limit"
    );
    let verified = verifier.verify_revocation_list(&text, NOW, None).unwrap();
    for n in 0..5000 {
        assert!(verified.entry(&id(n)).is_some());
        let mut gap = id(n);
        gap.0[3] = gap.0[3].wrapping_sub(1);
        assert!(verified.entry(&gap).is_none());
    }
}

#[test]
fn a_tampered_list_is_rejected() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let (key, verifier, kid) = key();
    let text = sign(&key, &kid, &list(5));
    let raw = URL_SAFE_NO_PAD
        .decode(text.strip_prefix("klr1.").unwrap())
        .unwrap();
    for i in 0..raw.len() {
        let mut bad = raw.clone();
        bad[i] ^= 0x01;
        let bad = alloc::format!("klr1.{}", URL_SAFE_NO_PAD.encode(&bad));
        assert!(
            verifier.verify_revocation_list(&bad, NOW, None).is_err(),
            "byte {i}"
        );
    }
}

#[test]
fn a_list_is_not_a_license_and_a_license_is_not_a_list() {
    let (key, verifier, kid) = key();
    let text = sign(&key, &kid, &list(5));
    assert_eq!(verifier.verify(&text, 0), Err(Error::WrongObjectKind));
    let unsigned = crate::UnsignedLicense::new(&kid, &claims(1, 1)).unwrap();
    let license = unsigned.finish(&key.sign(&unsigned.message()).to_bytes());
    assert_eq!(
        verifier.verify_revocation_list(&license, NOW, None),
        Err(Error::WrongObjectKind)
    );
}
