//! What the boundary does with arguments a C caller gets wrong.

use std::ptr;

use koolicense_verify_ffi::call::{koolicense_error_free, koolicense_error_kind};
use koolicense_verify_ffi::claims::{koolicense_claims_product_id, koolicense_claims_revision};
use koolicense_verify_ffi::verifier::{koolicense_verifier_new, koolicense_verify, KOOLICENSE_NOW};
use koolicense_verify_ffi::KoolicenseStatus;
use serde_json::Value;

use crate::support::{borrowed, Host, Verifier};
use crate::vectors::VECTORS;

fn first_good_case() -> Value {
    let cases: Vec<Value> = serde_json::from_str(VECTORS).expect("vectors parse");
    cases
        .into_iter()
        .find(|c| {
            c["expect"].get("ok").is_some() && c.get("host").is_none() && c.get("token").is_some()
        })
        .expect("a good case")
}

const TEST_KEY: &str = include_str!("../../../keys/test/test-signing.pub.pem");

#[test]
fn a_null_verifier_is_an_invalid_argument_not_a_crash() {
    let mut error = ptr::null_mut();
    let token = "kl1.AAAA";
    // SAFETY: a NULL verifier is what is being tested; the rest is valid.
    let status = unsafe {
        koolicense_verify(
            ptr::null(),
            token.as_ptr(),
            token.len(),
            0,
            ptr::null(),
            0,
            ptr::null_mut(),
            &mut error,
        )
    };
    assert_eq!(status, KoolicenseStatus::InvalidArgument);
    let mut len = 0;
    // SAFETY: the error handle of this call, freed once.
    unsafe {
        assert_eq!(
            borrowed(koolicense_error_kind(error, &mut len), len).as_deref(),
            Some("InvalidArgument")
        );
        koolicense_error_free(error);
    }
}

#[test]
fn a_null_token_with_a_length_is_refused() {
    let verifier = Verifier::new(TEST_KEY, 300).expect("test key");
    // SAFETY: NULL text with a non-zero length is what is being tested; NULL outputs are allowed.
    let status = unsafe {
        koolicense_verify(
            verifier.0,
            ptr::null(),
            5,
            0,
            ptr::null(),
            0,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(status, KoolicenseStatus::InvalidArgument);
}

#[test]
fn text_that_is_not_utf8_is_an_invalid_argument() {
    let verifier = Verifier::new(TEST_KEY, 300).expect("test key");
    let bytes = [0x6b, 0x6c, 0x31, 0x2e, 0xff, 0xfe];
    let failed = match verifier.verify(bytes, 0, None, None) {
        Err(failed) => failed,
        Ok(_) => panic!("non-UTF-8 accepted"),
    };
    assert_eq!(failed.status, KoolicenseStatus::InvalidArgument);
    assert!(failed.message.contains("UTF-8"), "{}", failed.message);
}

#[test]
fn a_verifier_without_a_usable_key_says_so() {
    for pem in [
        "",
        "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\n",
    ] {
        let failed = Verifier::new(pem, 300).expect_err("refused");
        assert_eq!(failed.status, KoolicenseStatus::InvalidPublicKey, "{pem:?}");
        assert_eq!(failed.kind, "InvalidPublicKey");
    }
}

#[test]
fn several_pinned_keys_in_one_text_all_count() {
    let case = first_good_case();
    let other = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    let both = format!("{other}{}", case["public_key_pem"].as_str().expect("pem"));
    let verifier = Verifier::new(&both, 300).expect("two keys");
    let token = case["token"].as_str().expect("token");
    let claims = verifier
        .verify(token, case["now"].as_u64().expect("now"), None, None)
        .expect("verifies with the second key");
    assert_eq!(claims.json(), case["expect"]["ok"]);
    let only_other = Verifier::new(other, 300).expect("one key");
    let failed = only_other
        .verify(token, case["now"].as_u64().expect("now"), None, None)
        .expect_err("refused");
    assert_eq!(failed.kind, "UnknownKey");
}

#[test]
fn verifying_without_outputs_still_reports_the_status() {
    let case = first_good_case();
    let pem = case["public_key_pem"].as_str().expect("pem");
    let token = case["token"].as_str().expect("token");
    let mut verifier = ptr::null_mut();
    // SAFETY: valid pointers and lengths; NULL claims and error outputs are allowed.
    unsafe {
        assert_eq!(
            koolicense_verifier_new(pem.as_ptr(), pem.len(), 300, &mut verifier, ptr::null_mut()),
            KoolicenseStatus::Ok
        );
        let status = koolicense_verify(
            verifier,
            token.as_ptr(),
            token.len(),
            case["now"].as_u64().expect("now"),
            ptr::null(),
            0,
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(status, KoolicenseStatus::Ok);
        let expired = koolicense_verify(
            verifier,
            token.as_ptr(),
            token.len(),
            KOOLICENSE_NOW,
            b"other".as_ptr(),
            5,
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(expired, KoolicenseStatus::WrongProduct);
        koolicense_verify_ffi::verifier::koolicense_verifier_free(verifier);
    }
}

#[test]
fn accessors_on_a_null_claims_handle_return_nothing() {
    let mut len = 7;
    // SAFETY: NULL handles are what is being tested.
    unsafe {
        assert!(koolicense_claims_product_id(ptr::null(), &mut len).is_null());
        assert_eq!(len, 0);
        assert_eq!(koolicense_claims_revision(ptr::null()), 0);
    }
}

#[test]
fn a_malformed_hardware_identifier_is_refused_with_its_reason() {
    let failed = Host::new(Some("A|B|C|D|E"), None).expect_err("five fields refused");
    assert_eq!(failed.status, KoolicenseStatus::InvalidHardwareIdentifier);
    assert!(failed.message.contains("fields"), "{}", failed.message);
    assert!(Host::new(None, Some("KM-SYS-1")).is_ok());
}
