//! Encoding limits: KooMarket accepts string licenses of at most 1024 characters, and every
//! token must survive being pasted into a single form field.

use koolicense_verify::{
    Binding, Claims, EncodeError, HardwareBinding, UnsignedLicense, MAX_TOKEN_LEN,
};

use crate::support::*;

fn encode(claims: &Claims) -> Result<UnsignedLicense, EncodeError> {
    UnsignedLicense::new(&kid(&test_key()), claims)
}

/// The largest claims the issuer can meet: long ids everywhere, many features, 4×4 hashes.
fn bulky(customer_len: usize) -> Claims {
    let machine = hwid("01:00:00:00:00:01,01:00:00:00:00:02,01:00:00:00:00:03,01:00:00:00:00:04|D1,D2,D3,D4|B1,B2,B3,B4|C1,C2,C3,C4");
    Claims {
        instance_id: Some("i".repeat(64)),
        order_id: Some("o".repeat(64)),
        product_id: "p".repeat(64),
        sku_code: Some("s".repeat(64)),
        customer_id: Some("c".repeat(customer_len)),
        trial: true,
        test: true,
        not_before: T0 + 1,
        quantity: Some(u32::MAX),
        features: (0..12).map(|i| format!("feature-{i:02}")).collect(),
        binding: Binding::Hardware(HardwareBinding::bind(&machine, SALT, 2).unwrap()),
        ..claims()
    }
}

fn assert_pasteable(token: &str) {
    assert!(token.len() <= MAX_TOKEN_LEN, "{} characters", token.len());
    assert!(token.is_ascii());
    assert!(!token.chars().any(char::is_whitespace));
    assert!(token.starts_with(PREFIX));
}

#[test]
fn claims_that_do_not_fit_in_1024_characters_are_refused_with_their_length() {
    let claims = bulky(255);
    match encode(&claims) {
        Err(EncodeError::TooLong(len)) => assert!(len > MAX_TOKEN_LEN, "{len}"),
        other => panic!("expected TooLong, got {other:?}"),
    }
}

#[test]
fn every_token_the_encoder_accepts_fits_in_1024_ascii_characters() {
    let mut longest = 0;
    let mut refused = 0;
    for customer_len in 1..=255 {
        let claims = bulky(customer_len);
        match encode(&claims) {
            Ok(unsigned) => {
                // A signature is always 64 bytes, so a placeholder gives the token's exact shape
                // without the cost of signing 255 times.
                let token = unsigned.finish(&[0x5a; 64]);
                assert_pasteable(&token);
                longest = longest.max(token.len());
            }
            Err(EncodeError::TooLong(len)) => {
                assert!(len > MAX_TOKEN_LEN);
                refused += 1;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(
        refused > 0,
        "the bulky claims should eventually be too long"
    );
    // Base64 grows in steps of 4 characters per 3 bytes, so the longest accepted token is
    // within 3 characters of the limit.
    assert!(
        longest > MAX_TOKEN_LEN - 4,
        "longest accepted token: {longest}"
    );
}

#[test]
fn the_largest_accepted_token_verifies() {
    let fitting = (1..=255)
        .rev()
        .map(bulky)
        .find(|c| encode(c).is_ok())
        .unwrap();
    let token = issue(&fitting);
    assert_eq!(
        verifier().allow_test_licenses().verify(&token, T0 + 1),
        Ok(fitting)
    );
}

#[test]
fn a_typical_hardware_bound_token_is_far_below_the_limit() {
    let token = issue(&hardware_claims(2));
    assert_pasteable(&token);
    assert!(token.len() < 600, "{}", token.len());
    assert_pasteable(&issue(&claims()));
}

#[test]
fn text_fields_must_be_1_to_255_bytes() {
    let empty_product = Claims {
        product_id: String::new(),
        ..claims()
    };
    assert_eq!(
        encode(&empty_product).err(),
        Some(EncodeError::FieldLength("product id"))
    );
    let empty_order = Claims {
        order_id: Some(String::new()),
        ..claims()
    };
    assert_eq!(
        encode(&empty_order).err(),
        Some(EncodeError::FieldLength("order id"))
    );
    let long_customer = Claims {
        customer_id: Some("c".repeat(256)),
        ..claims()
    };
    assert_eq!(
        encode(&long_customer).err(),
        Some(EncodeError::FieldLength("customer id"))
    );
    let blank_system = Claims {
        binding: Binding::System("  \n".into()),
        ..claims()
    };
    assert_eq!(
        encode(&blank_system).err(),
        Some(EncodeError::FieldLength("system identifier"))
    );
}

#[test]
fn features_must_fit_in_one_field() {
    let many = Claims {
        features: (0..30).map(|i| format!("feature-number-{i:02}")).collect(),
        ..claims()
    };
    assert_eq!(encode(&many).err(), Some(EncodeError::TooManyFeatures));
    let empty = Claims {
        features: vec![String::new()],
        ..claims()
    };
    assert_eq!(
        encode(&empty).err(),
        Some(EncodeError::FieldLength("feature"))
    );
}

#[test]
fn features_are_sorted_and_deduplicated_by_the_encoder() {
    let claims = Claims {
        features: vec!["pro".into(), "api".into(), "pro".into(), "export".into()],
        quantity: Some(25),
        ..claims()
    };
    let verified = verifier().verify(&issue(&claims), T0).unwrap();
    assert_eq!(verified.features, ["api", "export", "pro"]);
    assert!(verified.has_feature("export") && !verified.has_feature("admin"));
    assert_eq!(verified.quantity, Some(25));
}

#[test]
fn inconsistent_hardware_bindings_are_refused() {
    let Binding::Hardware(good) = hardware_claims(2).binding else {
        panic!()
    };
    for (min_match, extra) in [(0, 0), (5, 0), (2, 1)] {
        let mut hw = good.clone();
        hw.min_match = min_match;
        for _ in 0..extra {
            hw.hashes[0].extend([[9; 8]; 4]);
        }
        let claims = Claims {
            binding: Binding::Hardware(hw),
            ..claims()
        };
        assert_eq!(encode(&claims).err(), Some(EncodeError::InvalidBinding));
    }
}
