//! Known-answer vectors for offline activation (`tests/vectors/activations.json`): a request
//! with a fixed nonce, the issuer's signed responses to it, and what reading each response on a
//! given machine gives (the license, its claims and the deactivation proof, or the error). Every
//! language binding runs them.
//!
//! Regenerate with
//! `KOOLICENSE_REGENERATE_VECTORS=1 cargo test -p koolicense-verify --test verify -- --ignored regenerate_activation_vectors`.

use ed25519_dalek::{Signer as _, SigningKey};
use koolicense_verify::{
    armor_activation_response, machine_digest, ActivationRequest, ActivationResponse, HardwareId,
    Host, PublicKey, Verifier,
};
use serde_json::{json, Value};

use crate::support::*;

const ACTIVATIONS: &str = include_str!("../vectors/activations.json");
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/");
const CODE: &str = "PL-CODE-0001";
const OTHER_MACHINE: &str = "AA:BB:CC:DD:EE:01|WD-OTHER|BOARD-2|CPU-2";

fn request(nonce: u8) -> ActivationRequest {
    ActivationRequest::new(CODE, MACHINE, [nonce; 16]).unwrap()
}

fn respond(key: &SigningKey, request: &ActivationRequest, license: &str) -> String {
    let response = ActivationResponse {
        nonce: request.nonce,
        machine_digest: machine_digest(&request.machine),
        deactivation_key: [9; 32],
        license: license.into(),
    };
    let unsigned = response.to_unsigned(&kid(key));
    unsigned.finish(&key.sign(&unsigned.message()).to_bytes())
}

fn case(name: &str, request: &ActivationRequest, response: &str, machine: &str) -> Value {
    json!({
        "name": name,
        "request": request.to_text(),
        "response": response,
        "public_key_pem": TEST_PUBLIC_PEM,
        "now": T0 + DAY,
        "hardware_identifier": machine,
    })
}

fn activation_cases() -> Vec<Value> {
    let asked = request(7);
    let response = respond(&test_key(), &asked, typical_token());
    let cases = vec![
        case(
            "response on the machine that asked",
            &asked,
            &response,
            MACHINE,
        ),
        case(
            "armoured response",
            &asked,
            &armor_activation_response(&response),
            MACHINE,
        ),
        case(
            "response to another request",
            &request(8),
            &response,
            MACHINE,
        ),
        case(
            "response on another machine",
            &asked,
            &response,
            OTHER_MACHINE,
        ),
        case(
            "response signed by an unknown key",
            &asked,
            &respond(&other_key(), &asked, typical_token()),
            MACHINE,
        ),
        case(
            "a license offered as a response",
            &asked,
            typical_token(),
            MACHINE,
        ),
    ];
    cases
        .into_iter()
        .map(|mut c| {
            c["expect"] = check(&c);
            c
        })
        .collect()
}

fn error_name(error: &koolicense_verify::Error) -> String {
    format!("{error:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// The verifier's answer to an activation case.
fn check(case: &Value) -> Value {
    let verifier =
        Verifier::new([PublicKey::parse(case["public_key_pem"].as_str().unwrap()).unwrap()]);
    let request = ActivationRequest::parse(case["request"].as_str().unwrap()).unwrap();
    let machine = HardwareId::parse(case["hardware_identifier"].as_str().unwrap()).unwrap();
    let host = Host {
        hardware: Some(&machine),
        system_identifier: None,
    };
    match verifier.read_activation_response(
        case["response"].as_str().unwrap(),
        &request,
        case["now"].as_u64().unwrap(),
        &host,
    ) {
        Ok(a) => json!({"ok": {
            "license": a.license,
            "license_id": a.claims.license_id.to_string(),
            "revision": a.claims.revision,
            "product_id": a.claims.product_id,
            "deactivation_proof": a.deactivation_proof(),
        }}),
        Err(e) => json!({"error": error_name(&e)}),
    }
}

fn render(cases: Vec<Value>) -> String {
    serde_json::to_string_pretty(&Value::Array(cases)).unwrap() + "\n"
}

#[test]
fn activation_vectors_read_as_recorded() {
    let cases: Value = serde_json::from_str(ACTIVATIONS).unwrap();
    let cases = cases.as_array().unwrap();
    assert!(cases.iter().any(|c| c["expect"].get("ok").is_some()));
    for case in cases {
        assert_eq!(check(case), case["expect"], "{}", case["name"]);
    }
}

#[test]
fn regenerating_the_activation_vectors_reproduces_the_file() {
    assert!(
        render(activation_cases()) == ACTIVATIONS,
        "tests/vectors/activations.json differs from the generator; if intended, run \
         KOOLICENSE_REGENERATE_VECTORS=1 cargo test -p koolicense-verify --test verify -- \
         --ignored regenerate_activation_vectors"
    );
}

#[test]
#[ignore = "rewrites tests/vectors/activations.json"]
fn regenerate_activation_vectors() {
    if std::env::var_os("KOOLICENSE_REGENERATE_VECTORS").is_none() {
        eprintln!("set KOOLICENSE_REGENERATE_VECTORS=1 to rewrite the file in {DIR}");
        return;
    }
    std::fs::write(format!("{DIR}activations.json"), render(activation_cases())).unwrap();
}
