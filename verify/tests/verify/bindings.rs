//! Issue → verify round trips for every kind of binding, with and without a matching host.

use koolicense_verify::{system_identifier_digest, Binding, Error, HardwareBinding, Host};

use crate::support::*;

const SYSTEM_ID: &str = "KM-SYS-7F3A9C21";

#[test]
fn a_floating_license_verifies_with_and_without_a_host() {
    let claims = claims();
    let token = issue(&claims);
    let now = T0 + DAY;
    assert_eq!(verifier().verify(&token, now), Ok(claims.clone()));
    assert_eq!(
        verifier().verify_on(&token, now, &Host::default()),
        Ok(claims.clone())
    );
    let machine = hwid(MACHINE);
    let host = Host {
        hardware: Some(&machine),
        system_identifier: Some(SYSTEM_ID),
    };
    assert_eq!(verifier().verify_on(&token, now, &host), Ok(claims));
}

#[test]
fn a_system_bound_license_verifies_only_with_its_system_identifier() {
    let claims = koolicense_verify::Claims {
        binding: Binding::System(SYSTEM_ID.into()),
        ..claims()
    };
    let token = issue(&claims);
    let now = T0 + DAY;
    let with = |id: Option<&'static str>| Host {
        hardware: None,
        system_identifier: id,
    };
    let v = verifier();
    assert_eq!(
        v.verify_on(&token, now, &with(Some(SYSTEM_ID))),
        Ok(claims.clone())
    );
    // Surrounding whitespace, as pasted by a customer, is ignored.
    let padded = format!("  {SYSTEM_ID}\r\n");
    let host = Host {
        hardware: None,
        system_identifier: Some(&padded),
    };
    assert_eq!(v.verify_on(&token, now, &host), Ok(claims.clone()));
    assert_eq!(
        v.verify_on(&token, now, &with(Some("KM-SYS-7F3A9C22"))),
        Err(Error::SystemIdentifierMismatch)
    );
    assert_eq!(
        v.verify_on(&token, now, &with(None)),
        Err(Error::MissingSystemIdentifier)
    );
    // `verify` alone does not look at the binding.
    assert_eq!(v.verify(&token, now), Ok(claims));
}

#[test]
fn a_system_identifier_longer_than_128_bytes_is_bound_by_digest() {
    let long: String = (0..200)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    let claims = koolicense_verify::Claims {
        binding: Binding::System(long.clone()),
        ..claims()
    };
    let token = issue(&claims);
    let now = T0 + DAY;
    let v = verifier();
    let verified = v.verify(&token, now).unwrap();
    assert_eq!(
        verified.binding,
        Binding::SystemDigest(system_identifier_digest(&long))
    );
    let expected = koolicense_verify::Claims {
        binding: verified.binding.clone(),
        ..claims
    };
    assert_eq!(verified, expected);

    let host = |id: &str| {
        let on = Host {
            hardware: None,
            system_identifier: Some(id),
        };
        v.verify_on(&token, now, &on)
    };
    assert_eq!(host(&long), Ok(expected.clone()));
    assert_eq!(host(&format!(" {long}\n")), Ok(expected));
    assert_eq!(host(&long[..199]), Err(Error::SystemIdentifierMismatch));
    assert_eq!(
        v.verify_on(&token, now, &Host::default()),
        Err(Error::MissingSystemIdentifier)
    );
}

#[test]
fn a_system_identifier_of_exactly_128_bytes_is_carried_inline() {
    let edge = "S".repeat(128);
    let claims = koolicense_verify::Claims {
        binding: Binding::System(edge),
        ..claims()
    };
    let verified = verifier().verify(&issue(&claims), T0).unwrap();
    assert_eq!(verified, claims);
}

#[test]
fn a_digest_binding_given_by_the_issuer_round_trips() {
    let digest = system_identifier_digest(SYSTEM_ID);
    let claims = koolicense_verify::Claims {
        binding: Binding::SystemDigest(digest),
        ..claims()
    };
    let token = issue(&claims);
    let host = Host {
        hardware: None,
        system_identifier: Some(SYSTEM_ID),
    };
    assert_eq!(verifier().verify_on(&token, T0, &host), Ok(claims));
}

#[test]
fn a_hardware_bound_license_verifies_only_on_its_machine() {
    let claims = hardware_claims(HardwareBinding::DEFAULT_MIN_MATCH);
    let token = issue(&claims);
    let now = T0 + DAY;
    let v = verifier();
    let machine = hwid(MACHINE);
    let on = |id: &koolicense_verify::HardwareId| {
        let host = Host {
            hardware: Some(id),
            system_identifier: Some(SYSTEM_ID),
        };
        v.verify_on(&token, now, &host)
    };
    assert_eq!(on(&machine), Ok(claims.clone()));
    // The same machine written differently (case, MAC separators, order, spaces).
    let respelled =
        hwid(" 001a2b3c4d5f, 00-1a-2b-3c-4d-5e | s3z9nb0k123456 | bsn-abc-123 | bfebfbff000906ea ");
    assert_eq!(on(&respelled), Ok(claims.clone()));
    let elsewhere = hwid("AA:BB:CC:DD:EE:01|WD-OTHER|BOARD-2|CPU-2");
    assert_eq!(
        on(&elsewhere),
        Err(Error::HardwareMismatch {
            matched: 0,
            required: 2
        })
    );
    let host = Host {
        hardware: None,
        system_identifier: Some(SYSTEM_ID),
    };
    assert_eq!(
        v.verify_on(&token, now, &host),
        Err(Error::MissingHardwareIdentifier)
    );
    assert_eq!(v.verify(&token, now), Ok(claims));
}

#[test]
fn binding_checks_come_after_the_validity_window() {
    let claims = hardware_claims(2);
    let token = issue(&claims);
    let expired_at = claims.expires_at.unwrap() + 300;
    assert!(matches!(
        verifier().verify_on(&token, expired_at, &Host::default()),
        Err(Error::Expired { .. })
    ));
}
