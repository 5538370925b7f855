//! The validity window with clock leeway, and the expected product.

use koolicense_verify::{Claims, Error, DEFAULT_LEEWAY_SECS};

use crate::support::*;

const NOT_BEFORE: u64 = T0 + 10 * DAY;
const EXPIRES_AT: u64 = T0 + 40 * DAY;

/// A license issued at T0 that is valid from `NOT_BEFORE` until `EXPIRES_AT`.
fn windowed() -> (Claims, String) {
    let claims = Claims {
        not_before: NOT_BEFORE,
        expires_at: Some(EXPIRES_AT),
        ..claims()
    };
    let token = issue(&claims);
    (claims, token)
}

#[test]
fn the_default_leeway_is_five_minutes() {
    assert_eq!(DEFAULT_LEEWAY_SECS, 300);
}

#[test]
fn a_license_expires_exactly_at_expiry_plus_leeway() {
    let (claims, token) = windowed();
    for leeway in [0, DEFAULT_LEEWAY_SECS, 3600] {
        let v = verifier().with_leeway(leeway);
        let edge = EXPIRES_AT + leeway;
        assert_eq!(
            v.verify(&token, edge - 1),
            Ok(claims.clone()),
            "leeway {leeway}"
        );
        assert_eq!(
            v.verify(&token, edge),
            Err(Error::Expired {
                expires_at: EXPIRES_AT,
                now: edge
            }),
            "leeway {leeway}"
        );
        assert!(matches!(
            v.verify(&token, u64::MAX),
            Err(Error::Expired { .. })
        ));
    }
}

#[test]
fn the_default_verifier_applies_the_default_leeway_at_expiry() {
    let (claims, token) = windowed();
    let edge = EXPIRES_AT + DEFAULT_LEEWAY_SECS;
    assert_eq!(verifier().verify(&token, edge - 1), Ok(claims));
    assert!(matches!(
        verifier().verify(&token, edge),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn a_license_becomes_valid_at_not_before_minus_leeway() {
    let (claims, token) = windowed();
    for leeway in [0, DEFAULT_LEEWAY_SECS, 3600] {
        let v = verifier().with_leeway(leeway);
        let edge = NOT_BEFORE - leeway;
        assert_eq!(
            v.verify(&token, edge - 1),
            Err(Error::NotYetValid {
                not_before: NOT_BEFORE,
                now: edge - 1
            }),
            "leeway {leeway}"
        );
        assert_eq!(
            v.verify(&token, edge),
            Ok(claims.clone()),
            "leeway {leeway}"
        );
        assert!(matches!(
            v.verify(&token, 0),
            Err(Error::NotYetValid { .. })
        ));
    }
}

#[test]
fn the_default_verifier_applies_the_default_leeway_at_not_before() {
    let (claims, token) = windowed();
    let edge = NOT_BEFORE - DEFAULT_LEEWAY_SECS;
    assert!(matches!(
        verifier().verify(&token, edge - 1),
        Err(Error::NotYetValid { .. })
    ));
    assert_eq!(verifier().verify(&token, edge), Ok(claims));
}

#[test]
fn without_not_before_a_license_is_valid_from_its_issue_time() {
    let claims = claims();
    assert_eq!(claims.not_before, claims.issued_at);
    let token = issue(&claims);
    let v = verifier().with_leeway(0);
    assert!(matches!(
        v.verify(&token, T0 - 1),
        Err(Error::NotYetValid { not_before: T0, .. })
    ));
    assert_eq!(v.verify(&token, T0), Ok(claims));
}

#[test]
fn a_perpetual_license_is_valid_far_in_the_future() {
    let claims = Claims {
        expires_at: None,
        ..claims()
    };
    assert!(claims.is_perpetual());
    let token = issue(&claims);
    for leeway in [0, DEFAULT_LEEWAY_SECS] {
        let v = verifier().with_leeway(leeway);
        assert_eq!(v.verify(&token, T0 + 100 * 365 * DAY), Ok(claims.clone()));
        assert_eq!(v.verify(&token, u64::MAX), Ok(claims.clone()));
    }
}

#[test]
fn a_huge_leeway_does_not_overflow() {
    let (claims, token) = windowed();
    let v = verifier().with_leeway(u64::MAX);
    assert_eq!(v.verify(&token, 0), Ok(claims.clone()));
    assert_eq!(v.verify(&token, u64::MAX - 1), Ok(claims));
}

#[test]
fn a_license_for_another_product_is_refused() {
    let token = issue(&claims());
    let v = verifier().expect_product("00301-999999-0--0");
    assert_eq!(v.verify(&token, T0), Err(Error::WrongProduct));
}

#[test]
fn the_expected_product_may_be_named_by_product_id_or_sku_code() {
    let claims = claims();
    let token = issue(&claims);
    let by_product = verifier().expect_product(&claims.product_id);
    assert_eq!(by_product.verify(&token, T0), Ok(claims.clone()));
    let by_sku = verifier().expect_product(claims.sku_code.as_deref().unwrap());
    assert_eq!(by_sku.verify(&token, T0), Ok(claims.clone()));
    // Several accepted products: any one matching is enough.
    let several = verifier()
        .expect_product("00301-999999-0--0")
        .expect_product(claims.sku_code.as_deref().unwrap());
    assert_eq!(several.verify(&token, T0), Ok(claims));
}

#[test]
fn a_license_without_sku_code_needs_the_product_id() {
    let claims = Claims {
        sku_code: None,
        ..claims()
    };
    let token = issue(&claims);
    let v = verifier().expect_product("d9e7c4b2a1f04e3c8b6a5d4c3b2a1f0e");
    assert_eq!(v.verify(&token, T0), Err(Error::WrongProduct));
    // Product matching is exact: no trimming, no case folding.
    let v = verifier().expect_product("00301-666666-0--0 ");
    assert_eq!(v.verify(&token, T0), Err(Error::WrongProduct));
}

#[test]
fn the_validity_window_is_checked_before_the_product() {
    let (_, token) = windowed();
    let v = verifier().expect_product("another");
    assert!(matches!(
        v.verify(&token, EXPIRES_AT + 300),
        Err(Error::Expired { .. })
    ));
    assert_eq!(v.verify(&token, NOT_BEFORE), Err(Error::WrongProduct));
}
