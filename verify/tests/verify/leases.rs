//! Leases of floating licenses and offline activation: the known-answer vectors for leases
//! (`tests/vectors/leases.json`: generator, check, reproduction), a lease is never a license
//! nor a license a lease, and the offline request → response → deactivation proof round trip.
//!
//! Regenerate with
//! `KOOLICENSE_REGENERATE_VECTORS=1 cargo test -p koolicense-verify --test verify -- --ignored regenerate_lease_vectors`.

use ed25519_dalek::{Signer as _, SigningKey};
use koolicense_verify::{
    armor_lease, deactivation_tag, machine_digest, ActivationRequest, ActivationResponse, Binding,
    DeactivationProof, Error, HardwareId, Host, Lease, LicenseId, PublicKey, UnsignedLease,
    Verifier,
};
use serde_json::{json, Value};

use crate::support::*;

const LEASES: &str = include_str!("../vectors/leases.json");
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/");
const SYSTEM_ID: &str = "SYSCODE-FLOAT-0001";
const LEASE_START: u64 = T0 + 10 * DAY;
const TTL: u64 = 900;

fn lease(borrowed: bool, binding: Binding, ends: u64) -> Lease {
    let mut claims = claims();
    claims.revision = 3;
    claims.quantity = Some(5);
    claims.issued_at = LEASE_START;
    claims.not_before = LEASE_START;
    claims.expires_at = Some(ends);
    claims.binding = binding;
    Lease {
        lease_id: LicenseId(*b"\x01\x9b\x00\x00\x00\x00\x70\x00\x80\x00\x1e\xa5\xe0\x00\x00\x01"),
        borrowed,
        claims,
    }
}

fn system_lease() -> Lease {
    lease(false, Binding::System(SYSTEM_ID.into()), LEASE_START + TTL)
}

fn sign_lease(key: &SigningKey, lease: &Lease) -> String {
    let unsigned = UnsignedLease::new(&kid(key), lease).unwrap();
    unsigned.finish(&key.sign(&unsigned.message()).to_bytes())
}

fn case(name: &str, outcome: &str, text: &str, now: u64, machine: (&str, &str)) -> Value {
    json!({
        "name": name,
        "outcome": outcome,
        "lease": text,
        "public_key_pem": TEST_PUBLIC_PEM,
        "now": now,
        machine.0: machine.1,
    })
}

fn lease_cases() -> Vec<Value> {
    let key = test_key();
    let system = sign_lease(&key, &system_lease());
    let hardware = sign_lease(
        &key,
        &lease(false, hardware_claims(2).binding, LEASE_START + TTL),
    );
    let borrowed = sign_lease(
        &key,
        &lease(
            true,
            Binding::System(SYSTEM_ID.into()),
            LEASE_START + 7 * DAY,
        ),
    );
    let during = LEASE_START + 60;
    let sys = ("system_identifier", SYSTEM_ID);
    let hw = ("hardware_identifier", MACHINE);
    let cases = vec![
        case(
            "lease on the machine that holds it",
            "ok",
            &system,
            during,
            sys,
        ),
        case("armoured lease", "ok", &armor_lease(&system), during, sys),
        case(
            "hardware-bound lease on its machine",
            "ok",
            &hardware,
            during,
            hw,
        ),
        case(
            "borrowed lease a day later, offline",
            "ok",
            &borrowed,
            LEASE_START + DAY,
            sys,
        ),
        case(
            "lease within the leeway after its end",
            "ok",
            &system,
            LEASE_START + TTL + 299,
            sys,
        ),
        case(
            "lapsed lease (no heartbeat)",
            "Expired",
            &system,
            LEASE_START + TTL + 300,
            sys,
        ),
        case(
            "lease on another machine",
            "SystemIdentifierMismatch",
            &system,
            during,
            ("system_identifier", "SYSCODE-FLOAT-0002"),
        ),
        case(
            "hardware-bound lease on another machine",
            "HardwareMismatch",
            &hardware,
            during,
            (
                "hardware_identifier",
                "AA:BB:CC:DD:EE:01|WD-OTHER|BOARD-2|CPU-2",
            ),
        ),
        case(
            "a license offered as a lease",
            "WrongObjectKind",
            typical_token(),
            during,
            hw,
        ),
        case(
            "lease signed by an unknown key",
            "UnknownKey",
            &sign_lease(&other_key(), &system_lease()),
            during,
            sys,
        ),
    ];
    for c in &cases {
        let got = check(c);
        let want = c["outcome"].as_str().unwrap();
        let got_name = got
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or(if got.get("ok").is_some() { "ok" } else { "?" });
        assert_eq!(got_name, want, "{}", c["name"]);
    }
    cases
        .into_iter()
        .map(|mut c| {
            c["expect"] = check(&c);
            c.as_object_mut().unwrap().remove("outcome");
            c
        })
        .collect()
}

fn error_name(error: &Error) -> String {
    format!("{error:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// The verifier's answer to a lease case.
fn check(case: &Value) -> Value {
    let verifier =
        Verifier::new([PublicKey::parse(case["public_key_pem"].as_str().unwrap()).unwrap()]);
    let hardware = case
        .get("hardware_identifier")
        .map(|h| HardwareId::parse(h.as_str().unwrap()).unwrap());
    let host = Host {
        hardware: hardware.as_ref(),
        system_identifier: case.get("system_identifier").and_then(Value::as_str),
    };
    match verifier.verify_lease(
        case["lease"].as_str().unwrap(),
        case["now"].as_u64().unwrap(),
        &host,
    ) {
        Ok(l) => json!({"ok": {
            "lease_id": l.lease_id.to_string(),
            "license_id": l.claims.license_id.to_string(),
            "revision": l.claims.revision,
            "borrowed": l.borrowed,
            "product_id": l.claims.product_id,
            "quantity": l.claims.quantity,
            "expires_at": l.expires_at(),
        }}),
        Err(e) => json!({"error": error_name(&e)}),
    }
}

fn render(cases: Vec<Value>) -> String {
    serde_json::to_string_pretty(&Value::Array(cases)).unwrap() + "\n"
}

#[test]
fn lease_vectors_verify_as_recorded() {
    let cases: Value = serde_json::from_str(LEASES).unwrap();
    for case in cases.as_array().unwrap() {
        assert_eq!(check(case), case["expect"], "{}", case["name"]);
    }
}

#[test]
fn regenerating_the_lease_vectors_reproduces_the_file() {
    assert!(
        render(lease_cases()) == LEASES,
        "tests/vectors/leases.json differs from the generator; if intended, run \
         KOOLICENSE_REGENERATE_VECTORS=1 cargo test -p koolicense-verify --test verify -- \
         --ignored regenerate_lease_vectors"
    );
}

#[test]
#[ignore = "rewrites tests/vectors/leases.json"]
fn regenerate_lease_vectors() {
    if std::env::var_os("KOOLICENSE_REGENERATE_VECTORS").is_none() {
        eprintln!("set KOOLICENSE_REGENERATE_VECTORS=1 to rewrite the file in {DIR}");
        return;
    }
    std::fs::write(format!("{DIR}leases.json"), render(lease_cases())).unwrap();
}

#[test]
fn a_lease_is_not_a_license_and_a_license_is_not_a_lease() {
    let lease = sign_lease(&test_key(), &system_lease());
    let now = LEASE_START + 60;
    assert_eq!(
        verifier().verify(&lease, now).unwrap_err(),
        Error::WrongObjectKind
    );
    // The lease's bytes under the license prefix: the signature domain differs.
    let relabelled = lease.replacen("kll1.", PREFIX, 1);
    assert!(verifier().verify(&relabelled, now).is_err());
    let license = typical_token().replacen(PREFIX, "kll1.", 1);
    assert!(matches!(
        verifier().authenticate_lease(&license),
        Err(Error::BadSignature | Error::Malformed(_))
    ));
}

#[test]
fn a_lease_needs_an_end() {
    let mut open_ended = system_lease();
    open_ended.claims.expires_at = None;
    assert!(UnsignedLease::new(&kid(&test_key()), &open_ended).is_err());
}

fn response_for(request: &ActivationRequest, license: &str, key: [u8; 32]) -> String {
    let response = ActivationResponse {
        nonce: request.nonce,
        machine_digest: machine_digest(&request.machine),
        deactivation_key: key,
        license: license.into(),
    };
    let unsigned = response.to_unsigned(&kid(&test_key()));
    unsigned.finish(&test_key().sign(&unsigned.message()).to_bytes())
}

#[test]
fn an_offline_request_survives_the_trip_and_a_typo_is_caught() {
    let request = ActivationRequest::new("PL-CODE-1", MACHINE, [7; 16]).unwrap();
    let text = request.to_text();
    assert!(text.starts_with("-----BEGIN KOOLICENSE ACTIVATION REQUEST-----\n"));
    assert!(text
        .lines()
        .all(|l| l.len() <= 64 || l.starts_with("-----")));
    assert_eq!(ActivationRequest::parse(&text).unwrap(), request);
    // Re-typed by a person: other line breaks and spaces are fine, one wrong character is not.
    let retyped = text.replace('\n', "\r\n  ");
    assert_eq!(ActivationRequest::parse(&retyped).unwrap(), request);
    let body_line = text.lines().nth(1).unwrap();
    let mut typo = body_line.as_bytes().to_vec();
    typo[10] = if typo[10] == b'A' { b'B' } else { b'A' };
    let typo = text.replacen(body_line, std::str::from_utf8(&typo).unwrap(), 1);
    assert!(ActivationRequest::parse(&typo).is_err());
    let fresh = ActivationRequest::with_fresh_nonce("PL-CODE-1", MACHINE).unwrap();
    assert_ne!(fresh.nonce, request.nonce);
}

#[test]
fn an_offline_response_verifies_only_for_its_request_and_machine() {
    let request = ActivationRequest::new("PL-CODE-1", MACHINE, [7; 16]).unwrap();
    let response = response_for(&request, typical_token(), [9; 32]);
    let machine = hwid(MACHINE);
    let host = Host {
        hardware: Some(&machine),
        system_identifier: None,
    };
    let now = T0 + DAY;
    let activation = verifier()
        .read_activation_response(&response, &request, now, &host)
        .unwrap();
    assert_eq!(activation.license, typical_token());
    assert!(!format!("{activation:?}").contains("0909"));
    let other_request = ActivationRequest::new("PL-CODE-1", MACHINE, [8; 16]).unwrap();
    assert_eq!(
        verifier()
            .read_activation_response(&response, &other_request, now, &host)
            .unwrap_err(),
        Error::NonceMismatch
    );
    let elsewhere = hwid("AA:BB:CC:DD:EE:01|WD-OTHER|BOARD-2|CPU-2");
    let other_host = Host {
        hardware: Some(&elsewhere),
        system_identifier: None,
    };
    assert!(matches!(
        verifier().read_activation_response(&response, &request, now, &other_host),
        Err(Error::HardwareMismatch { .. })
    ));
    let proof = DeactivationProof::parse(&activation.deactivation_proof()).unwrap();
    assert_eq!(proof.license_id, activation.claims.license_id);
    assert_eq!(
        proof.tag,
        deactivation_tag(&[9; 32], &proof.license_id, proof.revision)
    );
    assert_ne!(
        proof.tag,
        deactivation_tag(&[8; 32], &proof.license_id, proof.revision)
    );
}
