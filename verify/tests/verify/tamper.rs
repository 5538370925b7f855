//! Tampered tokens, key pinning and rotation, unverified inspection and objects of another kind.

use koolicense_verify::{inspect, Error, Kid, PublicKey, Verifier};

use crate::support::*;

#[test]
fn changing_any_single_byte_of_the_decoded_token_never_verifies() {
    let token = typical_token();
    let blob = decode_blob(token);
    let v = verifier();
    assert!(v.verify(token, T0).is_ok());
    // One flip per position (each costs a signature check, which is slow in debug builds); the
    // property tests flip random bits.
    let masks = [0x01u8, 0x80, 0xff, 0x10];
    for position in 0..blob.len() {
        let mask = masks[position % masks.len()];
        let mut tampered = blob.clone();
        tampered[position] ^= mask;
        let result = v.verify(&encode_blob(&tampered), T0);
        match result {
            Err(ref e) if is_tamper_rejection(e) => {}
            other => panic!("byte {position} ^ {mask:#04x}: {other:?}"),
        }
    }
}

#[test]
fn a_tampered_header_fails_before_the_signature_check() {
    let token = issue(&claims());
    let mut blob = decode_blob(&token);
    blob[0] = 2;
    assert_eq!(
        verifier().verify(&encode_blob(&blob), T0),
        Err(Error::UnsupportedVersion(2))
    );
    let mut blob = decode_blob(&token);
    blob[1] ^= 1;
    let mut forged = kid(&test_key()).0;
    forged[0] ^= 1;
    assert_eq!(
        verifier().verify(&encode_blob(&blob), T0),
        Err(Error::UnknownKey(Kid(forged)))
    );
}

#[test]
fn truncated_or_extended_tokens_never_verify() {
    let token = issue(&claims());
    let blob = decode_blob(&token);
    let v = verifier();
    for len in 0..blob.len() {
        let result = v.verify(&encode_blob(&blob[..len]), T0);
        assert!(
            matches!(result, Err(ref e) if is_tamper_rejection(e)),
            "{len}: {result:?}"
        );
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(
        v.verify(&encode_blob(&longer), T0),
        Err(Error::BadSignature)
    );
    assert_eq!(v.verify("kl1.", T0), Err(Error::Encoding("too short")));
}

#[test]
fn a_token_signed_by_an_unpinned_key_is_an_unknown_key() {
    let intruder = other_key();
    let token = issue_with(&intruder, &claims());
    assert_eq!(
        verifier().verify(&token, T0),
        Err(Error::UnknownKey(kid(&intruder)))
    );
}

#[test]
fn a_token_signed_by_another_key_under_the_pinned_kid_has_a_bad_signature() {
    // The body names the test key, but the signature is made with another key.
    let body = body_of(&test_key(), &claims());
    let forged = sign_body(&other_key(), &body);
    assert_eq!(verifier().verify(&forged, T0), Err(Error::BadSignature));
}

#[test]
fn a_verifier_pinning_the_old_and_the_new_key_accepts_tokens_of_both() {
    let old = test_key();
    let new = other_key();
    let claims = claims();
    let old_token = issue_with(&old, &claims);
    let new_token = issue_with(&new, &claims);
    assert_ne!(old_token, new_token);

    let both = Verifier::new([public(&old), public(&new)]);
    assert_eq!(both.verify(&old_token, T0), Ok(claims.clone()));
    assert_eq!(both.verify(&new_token, T0), Ok(claims.clone()));
    let reversed = Verifier::new([public(&new), public(&old)]);
    assert_eq!(reversed.verify(&old_token, T0), Ok(claims.clone()));

    let only_new = Verifier::new([public(&new)]);
    assert_eq!(
        only_new.verify(&old_token, T0),
        Err(Error::UnknownKey(kid(&old)))
    );
    assert_eq!(only_new.verify(&new_token, T0), Ok(claims));
    assert_eq!(both.key(&kid(&new)).map(PublicKey::kid), Some(kid(&new)));
}

#[test]
fn a_verifier_without_keys_accepts_nothing() {
    let v = Verifier::new([]);
    assert_eq!(
        v.verify(&issue(&claims()), T0),
        Err(Error::UnknownKey(kid(&test_key())))
    );
}

#[test]
fn the_test_key_files_form_a_pair() {
    let pinned = PublicKey::parse(TEST_PUBLIC_PEM).unwrap();
    assert_eq!(pinned, public(&test_key()));
    assert_eq!(PublicKey::parse(&pinned.to_pem()), Ok(pinned.clone()));
    // The private key is not a public key.
    assert_eq!(
        PublicKey::parse(TEST_PRIVATE_PEM),
        Err(Error::InvalidPublicKey)
    );
}

#[test]
fn inspect_decodes_a_token_with_a_bad_signature_that_verify_rejects() {
    let claims = hardware_claims(2);
    let mut blob = decode_blob(&issue(&claims));
    let last = blob.len() - 1;
    blob[last - 40] ^= 0x10; // inside the signature
    let tampered = encode_blob(&blob);
    let unverified = inspect(&tampered).unwrap();
    assert_eq!(unverified.claims, claims);
    assert_eq!(unverified.kid, kid(&test_key()));
    assert_eq!(unverified.version, 1);
    assert_eq!(verifier().verify(&tampered, T0), Err(Error::BadSignature));
}

#[test]
fn inspect_reads_tokens_of_unknown_keys_and_armoured_tokens() {
    let claims = claims();
    let token = issue_with(&other_key(), &claims);
    let unverified = inspect(&koolicense_verify::armor_license(&token)).unwrap();
    assert_eq!(unverified.claims, claims);
    assert_eq!(unverified.kid, kid(&other_key()));
}

#[test]
fn revocation_lists_and_status_answers_are_not_licenses() {
    let token = issue(&claims());
    let body = token.strip_prefix(PREFIX).unwrap();
    let v = verifier();
    for prefix in ["klr1.", "kls1.", "KLR1.", "KLS1."] {
        let other = format!("{prefix}{body}");
        assert_eq!(
            v.verify(&other, T0),
            Err(Error::WrongObjectKind),
            "{prefix}"
        );
        assert!(matches!(inspect(&other), Err(Error::WrongObjectKind)));
    }
    for label in ["REVOCATION LIST", "STATUS"] {
        let armoured = koolicense_verify::armor_license(&token)
            .replace("KOOLICENSE LICENSE", &format!("KOOLICENSE {label}"));
        assert_eq!(
            v.verify(&armoured, T0),
            Err(Error::WrongObjectKind),
            "{label}"
        );
    }
}

#[test]
fn a_public_key_or_a_damaged_begin_line_is_not_mistaken_for_another_koolicense_object() {
    let unknown = Err(Error::Encoding("armour of an unknown kind"));
    assert_eq!(verifier().verify(TEST_PUBLIC_PEM, T0), unknown);
    let armoured = koolicense_verify::armor_license(typical_token());
    let damaged = armoured.replacen("LICENSE-----", "LICENSE----", 1);
    assert_eq!(verifier().verify(&damaged, T0), unknown);
    let future = armoured.replace("KOOLICENSE LICENSE", "KOOLICENSE SOMETHING NEW");
    assert_eq!(verifier().verify(&future, T0), unknown);
}

#[test]
fn a_prefix_is_matched_case_insensitively() {
    let claims = claims();
    let token = issue(&claims);
    let upper = format!("KL1.{}", token.strip_prefix(PREFIX).unwrap());
    assert_eq!(verifier().verify(&upper, T0), Ok(claims));
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let huge = format!("kl1.{}", "A".repeat(koolicense_verify::MAX_INPUT_LEN));
    assert_eq!(verifier().verify(&huge, T0), Err(Error::TooLarge));
    assert!(matches!(inspect(&huge), Err(Error::TooLarge)));
}
