//! Seats that come back, for authorization codes: the software frees its own seat
//! (`POST /v1/deactivate`), the merchant frees any seat, deactivations are limited per purchase,
//! and offline activation turns a carried request into a response for that machine only, a
//! carried deactivation proof freeing the seat again.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use koolicense_verify::{ActivationRequest, Error, HardwareId, Host, PublicKey, Verifier};
use serde_json::{json, Value};

use super::codes::{activate, add_code, CODE_POLICY};
use super::fake_market::FakeCode;
use super::online::{start, Env, MACHINE_A, MACHINE_B};
use super::support::{api, nonce};

pub(crate) fn machine(n: u8) -> String {
    format!("AA:BB:CC:DD:EE:{n:02X}|DISK-{n}|BOARD-{n}|CPU-{n}")
}

fn deactivate(env: &Env, license: &str, machine: &str, code: Option<&str>) -> (u16, Value) {
    let body = json!({"license": license, "machine": machine, "authorization_code": code});
    api(env.app.port, "POST", "/v1/deactivate", None, Some(&body))
}

pub(crate) fn state_of(env: &Env, license_id: &str) -> String {
    let body = json!({"license_id": license_id, "nonce": nonce()});
    let (_, answer) = api(env.app.port, "POST", "/v1/status", None, Some(&body));
    answer["state"].as_str().unwrap_or("").to_string()
}

#[track_caller]
pub(crate) fn assert_refused(reply: &(u16, Value), status: u16, code: &str) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["code"], code, "{}", reply.1);
    assert!(reply.1["message"].is_string(), "{}", reply.1);
}

pub(crate) fn verifier(env: &Env) -> Verifier {
    let (_, keys) = api(env.app.port, "GET", "/v1/keys", None, None);
    Verifier::new(
        keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| PublicKey::parse(k["public_key_pem"].as_str().expect("pem")).expect("key")),
    )
}

pub(crate) fn now() -> u64 {
    koolicense_verify::unix_now()
}

#[test]
fn the_software_gives_its_seat_back_and_another_machine_takes_it() {
    let env = start(CODE_POLICY);
    add_code(&env, "PL-D1", FakeCode::alive("P-CODE", 1));
    let (status, first) = activate(&env, "PL-D1", MACHINE_A);
    assert_eq!(status, 200, "{first}");
    let license = first["license"].as_str().expect("license").to_owned();
    assert_refused(
        &activate(&env, "PL-D1", MACHINE_B),
        409,
        "quantity_exhausted",
    );

    // Without the code, from another machine, with an edited license: refused, seat kept.
    assert_refused(
        &deactivate(&env, &license, MACHINE_A, None),
        403,
        "proof_rejected",
    );
    let wrong_code = deactivate(&env, &license, MACHINE_A, Some("PL-OTHER"));
    assert_refused(&wrong_code, 403, "proof_rejected");
    let elsewhere = deactivate(&env, &license, MACHINE_B, Some("PL-D1"));
    assert_refused(&elsewhere, 403, "proof_rejected");
    let mut edited = license.clone();
    edited.insert(10, 'x');
    assert_refused(
        &deactivate(&env, &edited, MACHINE_A, Some("PL-D1")),
        403,
        "proof_rejected",
    );
    assert_refused(
        &deactivate(&env, &license, "", Some("PL-D1")),
        400,
        "invalid_request",
    );
    assert_refused(
        &activate(&env, "PL-D1", MACHINE_B),
        409,
        "quantity_exhausted",
    );

    let freed = deactivate(&env, &license, MACHINE_A, Some("PL-D1"));
    assert_eq!(freed.0, 200, "{}", freed.1);
    assert_eq!(freed.1["pool"], "PL-D1");
    // A retry answers the same; the license is released and listed as such.
    assert_eq!(deactivate(&env, &license, MACHINE_A, Some("PL-D1")), freed);
    let id = first["license_id"].as_str().expect("id");
    assert_eq!(state_of(&env, id), "released");
    let (_, list) = api(
        env.app.port,
        "GET",
        "/v1/revocations?format=json",
        None,
        None,
    );
    let list = verifier(&env)
        .verify_revocation_list(list["list"].as_str().expect("list"), now(), None)
        .expect("list verifies");
    let claims = verifier(&env).authenticate(&license).expect("claims");
    assert_eq!(list.check(&claims), Err(Error::Revoked));

    let (status, second) = activate(&env, "PL-D1", MACHINE_B);
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["license_id"], first["license_id"]);
    let (_, audit) = api(
        env.app.port,
        "GET",
        &format!("/v1/licenses/{id}"),
        Some(&env.token),
        None,
    );
    assert!(audit.to_string().contains("deactivate"), "{audit}");
}

#[test]
fn one_seat_cannot_be_rotated_among_many_machines_but_the_merchant_frees_any_seat() {
    let env = start(&format!(
        "{CODE_POLICY}[seats]\ndeactivation_limit = 2\ndeactivation_window_secs = 86400\n"
    ));
    add_code(&env, "PL-ROT", FakeCode::alive("P-CODE", 1));
    for n in 1..=2 {
        let (status, issued) = activate(&env, "PL-ROT", &machine(n));
        assert_eq!(status, 200, "{issued}");
        let license = issued["license"].as_str().expect("license");
        let freed = deactivate(&env, license, &machine(n), Some("PL-ROT"));
        assert_eq!(freed.0, 200, "{}", freed.1);
    }
    let (status, third) = activate(&env, "PL-ROT", &machine(3));
    assert_eq!(status, 200, "{third}");
    let license = third["license"].as_str().expect("license");
    let limited = deactivate(&env, license, &machine(3), Some("PL-ROT"));
    assert_refused(&limited, 429, "deactivation_limit");
    assert_eq!(
        state_of(&env, third["license_id"].as_str().expect("id")),
        "valid"
    );

    let path = format!(
        "/v1/licenses/{}/deactivate",
        third["license_id"].as_str().expect("id")
    );
    assert_refused(
        &api(env.app.port, "POST", &path, None, None),
        401,
        "unauthorized",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_koolicense"))
        .args(["deactivate", third["license_id"].as_str().expect("id")])
        .args(["--url", &format!("http://127.0.0.1:{}", env.app.port)])
        .args(["--token", &env.token])
        .output()
        .expect("run koolicense deactivate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let freed: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(freed["pool"], "PL-ROT");
    assert_eq!(
        state_of(&env, third["license_id"].as_str().expect("id")),
        "released"
    );
    assert_eq!(activate(&env, "PL-ROT", &machine(4)).0, 200);
}

pub(crate) fn offline(env: &Env, request: &str) -> (u16, Value) {
    let body = json!({"request": request});
    api(
        env.app.port,
        "POST",
        "/v1/activate/offline",
        None,
        Some(&body),
    )
}

/// `koolicense activate --offline FILE` against the service: the response it prints.
pub(crate) fn offline_by_cli(env: &Env, request: &str) -> String {
    let file = env._dir.path().join("request.txt");
    std::fs::write(&file, request).expect("write request");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_koolicense"))
        .args(["activate", "--offline"])
        .arg(&file)
        .args(["--url", &format!("http://127.0.0.1:{}", env.app.port)])
        .output()
        .expect("run koolicense activate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn proof_back(env: &Env, proof: &str) -> (u16, Value) {
    let body = json!({"proof": proof});
    api(
        env.app.port,
        "POST",
        "/v1/deactivate/offline",
        None,
        Some(&body),
    )
}

#[test]
fn an_offline_request_becomes_a_response_for_that_machine_only_and_its_proof_frees_the_seat() {
    let env = start(CODE_POLICY);
    add_code(&env, "PL-OFF", FakeCode::alive("P-CODE", 1));
    let request = ActivationRequest::new("PL-OFF", MACHINE_A, [1; 16]).expect("request");
    let text = request.to_text();
    let (status, answer) = offline(&env, &text);
    assert_eq!(status, 200, "{answer}");
    // A replayed request gets the same response, byte for byte.
    assert_eq!(offline(&env, &text), (status, answer.clone()));
    let response = answer["response"].as_str().expect("response");
    assert!(response.starts_with("-----BEGIN KOOLICENSE ACTIVATION-----"));
    // The merchant's command line gives the same response.
    assert_eq!(offline_by_cli(&env, &text), response);

    let a = HardwareId::parse(MACHINE_A).expect("hwid");
    let b = HardwareId::parse(MACHINE_B).expect("hwid");
    let on = |id| Host {
        hardware: Some(id),
        system_identifier: None,
    };
    let verifier = verifier(&env);
    let activation = verifier
        .read_activation_response(response, &request, now(), &on(&a))
        .expect("the response verifies on machine A");
    assert!(matches!(
        verifier.read_activation_response(response, &request, now(), &on(&b)),
        Err(Error::HardwareMismatch { .. })
    ));
    let other = ActivationRequest::new("PL-OFF", MACHINE_A, [2; 16]).expect("request");
    assert_eq!(
        verifier
            .read_activation_response(response, &other, now(), &on(&a))
            .expect_err("another request's response"),
        Error::NonceMismatch
    );
    // The same machine with a new nonce: the same license again; machine B: no seat left.
    let (status, again) = offline(&env, &other.to_text());
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["license_id"], answer["license_id"]);
    let for_b = ActivationRequest::new("PL-OFF", MACHINE_B, [3; 16]).expect("request");
    assert_refused(&offline(&env, &for_b.to_text()), 409, "quantity_exhausted");
    // A mistyped request is caught by its checksum.
    let typo = text.replacen("-----\n", "-----\nA", 1);
    assert_refused(&offline(&env, &typo), 400, "invalid_request");

    // A forged proof (tag changed) is refused; the real one frees the seat, once.
    let proof = activation.deactivation_proof();
    let body: String = proof.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut bytes = URL_SAFE_NO_PAD
        .decode(body.trim_start_matches("kld1."))
        .expect("b64");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let forged = format!("kld1.{}", URL_SAFE_NO_PAD.encode(&bytes));
    assert_refused(&proof_back(&env, &forged), 403, "proof_rejected");
    let freed = proof_back(&env, &proof);
    assert_eq!(freed.0, 200, "{}", freed.1);
    assert_eq!(proof_back(&env, &proof), freed);
    assert_eq!(
        state_of(&env, answer["license_id"].as_str().expect("id")),
        "released"
    );
    let (status, taken) = offline(&env, &for_b.to_text());
    assert_eq!(status, 200, "{taken}");
}

#[test]
fn the_public_offline_route_refuses_exactly_what_the_online_route_refuses() {
    let env = start(CODE_POLICY);
    add_code(&env, "PL-SAME", FakeCode::alive("P-CODE", 1));
    let offline_for = |code: &str, machine: &str| {
        let request = ActivationRequest::new(code, machine, [9; 16]).expect("request");
        offline(&env, &request.to_text())
    };
    // An unknown code: the same status and code, no oracle.
    let online = activate(&env, "PL-GUESSED", MACHINE_A);
    let carried = offline_for("PL-GUESSED", MACHINE_A);
    assert_eq!(
        (carried.0, &carried.1["code"]),
        (online.0, &online.1["code"])
    );
    assert!(online.0 >= 400, "{}", online.1);
    // Seats are shared: taken online, refused offline for another machine, and the reverse.
    assert_eq!(activate(&env, "PL-SAME", MACHINE_A).0, 200);
    assert_refused(
        &offline_for("PL-SAME", MACHINE_B),
        409,
        "quantity_exhausted",
    );
    assert_refused(
        &activate(&env, "PL-SAME", MACHINE_B),
        409,
        "quantity_exhausted",
    );
}
