//! Property tests: hostile input never panics, mutated tokens never verify, and every valid set
//! of claims round-trips exactly.

use koolicense_verify::{
    inspect, Binding, Claims, Component, EncodeError, Error, HardwareBinding, HardwareId, Host,
    LicenseId, PublicKey, UnsignedLicense, HASH_LEN, MAX_TOKEN_LEN, SALT_LEN,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::support::*;

/// Runs every entry point on `text`; they may fail but must not panic.
fn exercise(text: &str) {
    let machine = hwid(MACHINE);
    let host = Host {
        hardware: Some(&machine),
        system_identifier: Some("KM-SYS-1"),
    };
    let v = verifier();
    let _ = v.verify(text, T0);
    let _ = v.verify_on(text, T0, &host);
    let _ = v.verify_on(text, T0, &Host::default());
    let _ = inspect(text);
    let _ = PublicKey::parse(text);
    let _ = HardwareId::parse(text);
}

/// Signs a body made of the test key's header and `payload`.
fn signed(payload: &[u8]) -> String {
    let mut body = vec![1u8];
    body.extend_from_slice(&kid(&test_key()).0);
    body.extend_from_slice(payload);
    sign_body(&test_key(), &body)
}

/// A payload made of plausible fields: mostly known tags with random values, in random order.
fn fields() -> impl Strategy<Value = Vec<u8>> {
    let tag = prop_oneof![1u8..=0x0f, 0x10u8..=0x7f, 0x80u8..=0xff];
    vec((tag, vec(any::<u8>(), 0..40)), 0..12).prop_map(|fields| {
        let mut out = Vec::new();
        for (tag, value) in fields {
            out.push(tag);
            out.push(value.len() as u8);
            out.extend(value);
        }
        out
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Truncate(Index),
    Insert(Index, u8),
    Remove(Index),
    Duplicate(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Remove),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match mutation {
        Mutation::Flip(i, mask) => {
            let at = i.index(bytes.len());
            bytes[at] ^= mask;
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len())),
        Mutation::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
        Mutation::Remove(i) => {
            bytes.remove(i.index(bytes.len()));
        }
        Mutation::Duplicate(start, len) => {
            let start = start.index(bytes.len());
            let len = 1 + len.index(bytes.len() - start);
            let copy = bytes[start..start + len].to_vec();
            bytes.splice(start..start, copy);
        }
    }
}

/// The token text as the decoder reads it: whitespace dropped, prefix case folded, standard
/// base64 alphabet mapped to the URL-safe one, padding dropped. Texts that normalise to the same
/// string are the same token.
fn normalised(text: &str) -> String {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let compact = compact.trim_end_matches('=');
    match compact.get(..4) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => format!("{PREFIX}{}", &compact[4..]),
        _ => compact.to_string(),
    }
}

prop_compose! {
    fn hardware_binding()(
        min_match in 1u8..=4,
        salt in any::<[u8; SALT_LEN]>(),
        counts in [0usize..=4, 0usize..=4, 0usize..=4, 0usize..=4],
        pool in vec(any::<[u8; HASH_LEN]>(), 16),
        anchor in proptest::option::of(prop_oneof![Just(Component::Disk), Just(Component::Board)]),
    ) -> HardwareBinding {
        let mut pool = pool.into_iter();
        let hashes: [Vec<[u8; HASH_LEN]>; 4] = counts.map(|n| pool.by_ref().take(n).collect());
        // The encoder accepts an anchor only on a component holding exactly one hash.
        let anchor = anchor.filter(|a| hashes[a.index()].len() == 1);
        HardwareBinding { min_match, salt, hashes, anchor }
    }
}

fn binding() -> impl Strategy<Value = Binding> {
    prop_oneof![
        Just(Binding::None),
        "[A-Za-z0-9-]{1,200}".prop_map(Binding::System),
        any::<[u8; 32]>().prop_map(Binding::SystemDigest),
        hardware_binding().prop_map(Binding::Hardware),
    ]
}

prop_compose! {
    fn valid_claims()(
        id in any::<[u8; 16]>(),
        revision in any::<u32>(),
        ids in [
            proptest::option::of("\\PC{1,24}"),
            proptest::option::of("\\PC{1,24}"),
            proptest::option::of("\\PC{1,24}"),
            proptest::option::of("\\PC{1,24}"),
        ],
        product_id in "\\PC{1,40}",
        (trial, test) in any::<(bool, bool)>(),
        issued_at in any::<u64>(),
        not_before in 0u64..u64::MAX / 2,
        lifetime in proptest::option::of(1u64..u64::MAX / 2),
        quantity in proptest::option::of(any::<u32>()),
        features in vec("\\PC{1,10}", 0..5),
        binding in binding(),
    ) -> Claims {
        let [instance_id, order_id, sku_code, customer_id] = ids;
        Claims {
            license_id: LicenseId(id),
            revision,
            instance_id,
            order_id,
            product_id,
            sku_code,
            customer_id,
            trial,
            test,
            issued_at,
            not_before,
            expires_at: lifetime.map(|l| not_before + l),
            quantity,
            features,
            binding,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..1200)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn arbitrary_armour_and_base64_never_panic(
        body in "[A-Za-z0-9_+/= \n-]{0,300}",
        label in prop_oneof![Just("LICENSE"), Just("STATUS"), Just("REVOCATION LIST"), Just("X")],
        prefix in prop_oneof![Just(""), Just("kl1."), Just("KLS1."), Just("klr1.")],
    ) {
        exercise(&format!("{prefix}{body}"));
        exercise(&format!("-----BEGIN KOOLICENSE {label}-----\n{prefix}{body}\n-----END KOOLICENSE {label}-----\n"));
    }

    #[test]
    fn unsigned_random_payloads_never_panic_inspect(
        payload in fields(),
        kid in any::<[u8; 8]>(),
        signature in any::<[u8; 32]>(),
    ) {
        let mut blob = vec![1u8];
        blob.extend_from_slice(&kid);
        blob.extend(payload);
        blob.extend_from_slice(&signature);
        blob.extend_from_slice(&signature);
        let token = encode_blob(&blob);
        let _ = inspect(&token);
        prop_assert!(verifier().verify(&token, T0).is_err());
    }
}

proptest! {
    // Each case signs a payload, which is slow in debug builds.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn signed_random_payloads_never_panic_after_the_signature_check(payload in fields(), now in any::<u64>()) {
        let token = signed(&payload);
        let machine = hwid(MACHINE);
        let host = Host { hardware: Some(&machine), system_identifier: Some("KM-SYS-1") };
        let verified = verifier().verify_on(&token, now, &host);
        let inspected = inspect(&token);
        // The signature is fine, so the payload decides, and inspect agrees with it.
        prop_assert!(!matches!(verified, Err(Error::BadSignature | Error::UnknownKey(_) | Error::Encoding(_))));
        if let Ok(claims) = &verified {
            prop_assert_eq!(&inspected.map(|u| u.claims), &Ok(claims.clone()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_blobs_never_verify_unless_unchanged(mutations in vec(mutation(), 1..4)) {
        let original = decode_blob(typical_token());
        let mut blob = original.clone();
        for m in &mutations {
            apply(&mut blob, m);
        }
        let mutated = encode_blob(&blob);
        let result = verifier().verify(&mutated, T0);
        let _ = inspect(&mutated);
        if blob == original {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(
                matches!(result, Err(ref e) if is_tamper_rejection(e)),
                "{:?}", result
            );
        }
    }

    #[test]
    fn mutated_texts_never_verify_unless_they_are_the_same_token(
        mutations in vec(mutation(), 1..4),
        armoured in any::<bool>(),
    ) {
        let claims = hardware_claims(2);
        let token = typical_token();
        let text = if armoured { koolicense_verify::armor_license(token) } else { token.to_string() };
        let mut bytes = text.into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let mutated = String::from_utf8_lossy(&bytes);
        let _ = inspect(&mutated);
        match verifier().verify(&mutated, T0) {
            Ok(verified) => {
                prop_assert_eq!(verified, claims);
                if !armoured {
                    prop_assert_eq!(normalised(&mutated), token);
                }
            }
            Err(e) => prop_assert!(
                is_tamper_rejection(&e) || e == Error::WrongObjectKind,
                "{:?}", e
            ),
        }
    }

    #[test]
    fn valid_claims_round_trip_exactly(claims in valid_claims()) {
        let v = verifier().with_leeway(0).allow_test_licenses();
        match UnsignedLicense::new(&kid(&test_key()), &claims) {
            Ok(unsigned) => {
                let signature = ed25519_dalek::Signer::sign(&test_key(), &unsigned.message());
                let token = unsigned.finish(&signature.to_bytes());
                prop_assert!(token.len() <= MAX_TOKEN_LEN);
                prop_assert!(token.is_ascii() && !token.contains(char::is_whitespace));
                let expected = as_verified(&claims);
                prop_assert_eq!(v.verify(&token, claims.not_before), Ok(expected.clone()));
                prop_assert_eq!(inspect(&token).map(|u| u.claims), Ok(expected));
            }
            Err(EncodeError::TooLong(len)) => prop_assert!(len > MAX_TOKEN_LEN),
            Err(e) => prop_assert!(false, "valid claims refused: {:?}", e),
        }
    }
}
