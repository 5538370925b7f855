//! Known-answer vectors for offline activation (`tests/vectors/activations.json`): a request
//! with a fixed nonce (naming an authorization code, or a license of the purchase), the
//! issuer's signed responses to it, and what reading each response on a given machine gives
//! (the license, its claims and the deactivation proof, or the error). Every language binding
//! runs them. Also the request's two versions: which one is written, and what is refused.
//!
//! Regenerate with
//! `KOOLICENSE_REGENERATE_VECTORS=1 cargo test -p koolicense-verify --test verify -- --ignored regenerate_activation_vectors`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use koolicense_verify::{
    armor_activation_response, machine_digest, ActivationRequest, ActivationResponse,
    ActivationSubject, Error, HardwareId, Host, PublicKey, Verifier,
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

/// A license of the purchase the customer holds (another machine's), named by a request.
fn held_license() -> String {
    issue(&claims())
}

fn license_request(nonce: u8) -> ActivationRequest {
    ActivationRequest::for_license(&held_license(), MACHINE, [nonce; 16]).unwrap()
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
        case(
            "request naming a license: response on the machine that asked",
            &license_request(7),
            &respond(&test_key(), &license_request(7), typical_token()),
            MACHINE,
        ),
        case(
            "request naming a license: response on another machine",
            &license_request(7),
            &respond(&test_key(), &license_request(7), typical_token()),
            OTHER_MACHINE,
        ),
        case(
            "request naming a license: the response to another request",
            &license_request(8),
            &respond(&test_key(), &license_request(7), typical_token()),
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

/// The request's bytes (between the armour lines).
fn request_bytes(request: &ActivationRequest) -> Vec<u8> {
    let body: String = request
        .to_text()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    URL_SAFE_NO_PAD.decode(body).unwrap()
}

/// Re-armours request bytes with a correct checksum.
fn request_text(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut bytes = body.to_vec();
    let sum = Sha256::new()
        .chain_update(b"koolicense/activation-request/v1\0")
        .chain_update(body)
        .finalize();
    bytes.extend_from_slice(&sum[..4]);
    format!("klq1.{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[test]
fn a_code_request_is_written_as_version_1_and_a_license_request_as_version_2() {
    let code = request_bytes(&request(7));
    assert_eq!(&code[..3], &[1, 1, CODE.len() as u8]);
    let license = request_bytes(&license_request(7));
    assert_eq!(&license[..2], &[2, 2]);
    let named = license_request(7);
    assert_eq!(ActivationRequest::parse(&named.to_text()).unwrap(), named);
    assert_eq!(named.license(), Some(held_license().as_str()));
    assert_eq!(named.authorization_code(), None);
    assert_eq!(request(7).authorization_code(), Some(CODE));
    // Either text form of the license names the same license.
    let armoured = koolicense_verify::armor_license(&held_license());
    let from_armour = ActivationRequest::for_license(&armoured, MACHINE, [7; 16]).unwrap();
    assert_eq!(from_armour.to_text(), named.to_text());
}

#[test]
fn a_version_2_request_may_name_a_code_and_reads_as_the_version_1_one() {
    let v1 = request_bytes(&request(7));
    let mut v2 = vec![2, 1, 0, CODE.len() as u8];
    v2.extend_from_slice(&v1[3..v1.len() - 4]);
    let read = ActivationRequest::parse(&request_text(&v2)).unwrap();
    assert_eq!(read, request(7));
}

#[test]
fn what_a_version_1_reader_would_misread_is_refused_with_a_clear_error() {
    // Version 1 never names a license: its one-byte length could not carry one.
    let v2 = request_bytes(&license_request(7));
    let mut as_v1 = v2[..v2.len() - 4].to_vec();
    as_v1[0] = 1;
    assert_eq!(
        ActivationRequest::parse(&request_text(&as_v1)).unwrap_err(),
        Error::Malformed("unknown activation subject")
    );
    let mut unknown_kind = v2[..v2.len() - 4].to_vec();
    unknown_kind[1] = 3;
    assert_eq!(
        ActivationRequest::parse(&request_text(&unknown_kind)).unwrap_err(),
        Error::Malformed("unknown activation subject")
    );
    let mut v3 = v2[..v2.len() - 4].to_vec();
    v3[0] = 3;
    assert_eq!(
        ActivationRequest::parse(&request_text(&v3)).unwrap_err(),
        Error::UnsupportedVersion(3)
    );
}

#[test]
fn a_request_names_only_a_license_and_keeps_its_credentials_out_of_debug() {
    for not_a_license in ["", "kl1.", "PL-CODE-1", "kll1.AAAA", "kl1.!!!!"] {
        assert!(
            ActivationRequest::for_license(not_a_license, MACHINE, [1; 16]).is_err(),
            "{not_a_license:?}"
        );
    }
    // A license subject whose bytes are not a license is refused when read.
    let mut body = vec![2, 2, 0, 4, 1, 2, 3, 4];
    body.extend_from_slice(&(MACHINE.len() as u16).to_be_bytes());
    body.extend_from_slice(MACHINE.as_bytes());
    body.extend_from_slice(&[1; 16]);
    assert_eq!(
        ActivationRequest::parse(&request_text(&body)).unwrap_err(),
        Error::Malformed("license")
    );
    let license = license_request(7);
    let debug = format!("{license:?} {:?}", request(7));
    assert!(!debug.contains(CODE), "{debug}");
    assert!(!debug.contains(&held_license()[4..20]), "{debug}");
    assert!(matches!(license.subject, ActivationSubject::License(_)));
}
