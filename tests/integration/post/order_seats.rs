//! Offline activation on an online-license order: the request names a license the marketplace
//! delivered for the order (what the customer holds; there is no authorization code), and the
//! response gives the machine in the request a seat of the same order, under the same rules as
//! the code path: one license per machine, byte-identical replays, the order's quantity under
//! racing requests, the deactivation proof freeing the seat, and every forged, foreign or
//! revoked license refused.

use std::time::Duration;

use koolicense_verify::{ActivationRequest, Error, HardwareId, Host};
use serde_json::{json, Value};

use super::codes::{activate, add_code, CODE_POLICY};
use super::fake_market::{FakeCode, FakeOrder};
use super::online::{
    get_license, new_instance, start, wait_order_details, Env, MACHINE_A, MACHINE_B,
};
use super::seats::{
    assert_refused, machine, now, offline, offline_by_cli, proof_back, state_of, verifier,
};
use super::support::{api, code_of, wait_until};

/// An order of `seats` machines for P-HW (hardware binding) whose first license the marketplace
/// delivered to [`MACHINE_A`]: the instance and the license as uploaded.
pub(crate) fn order_with_license(env: &Env, order: &str, seats: u32) -> (String, String) {
    let expiry = (chrono::Utc::now() + chrono::Duration::days(365))
        .format("%Y%m%d%H%M%S")
        .to_string();
    env.market.state.lock().orders.insert(
        order.to_string(),
        FakeOrder {
            product_id: "P-HW".into(),
            linear_value: seats,
            expire_time: Some(expiry),
        },
    );
    let instance = new_instance(env.app.port, order);
    wait_order_details(env, &instance);
    let event = format!("EV-{order}");
    assert_eq!(
        get_license(env.app.port, &instance, &event, Some(MACHINE_A)),
        "000000"
    );
    let mut uploaded = Vec::new();
    let done = wait_until(Duration::from_secs(10), || {
        uploaded = env.market.state.lock().uploads_for(&event);
        !uploaded.is_empty()
    });
    assert!(done, "the license of {order} was not uploaded");
    (instance, uploaded.remove(0))
}

fn request_for(license: &str, machine: &str, nonce: u8) -> String {
    ActivationRequest::for_license(license, machine, [nonce; 16])
        .expect("request")
        .to_text()
}

fn on(id: &HardwareId) -> Host<'_> {
    Host {
        hardware: Some(id),
        system_identifier: None,
    }
}

#[test]
fn a_license_of_the_order_activates_another_machine_offline_and_its_proof_frees_the_seat() {
    let env = start("");
    let (instance, held) = order_with_license(&env, "CS-OFF-ORDER-1", 2);
    let request = ActivationRequest::for_license(&held, MACHINE_B, [4; 16]).expect("request");
    let text = request.to_text();
    let (status, answer) = offline(&env, &text);
    assert_eq!(status, 200, "{answer}");
    // A replayed request gets the same response, byte for byte, and so does the command line.
    assert_eq!(offline(&env, &text), (status, answer.clone()));
    let response = answer["response"].as_str().expect("response");
    assert_eq!(offline_by_cli(&env, &text), response);

    // The response verifies on machine B only, with a license of the same order.
    let verifier = verifier(&env).allow_test_licenses();
    let b = HardwareId::parse(MACHINE_B).expect("hwid");
    let a = HardwareId::parse(MACHINE_A).expect("hwid");
    let activation = verifier
        .read_activation_response(response, &request, now(), &on(&b))
        .expect("the response verifies on machine B");
    assert_eq!(activation.claims.instance_id.as_deref(), Some(&*instance));
    assert!(matches!(
        verifier.read_activation_response(response, &request, now(), &on(&a)),
        Err(Error::HardwareMismatch { .. })
    ));
    // Machine A asks with its own license: the license it holds, not a new seat.
    let (status, own) = offline(&env, &request_for(&held, MACHINE_A, 5));
    assert_eq!(status, 200, "{own}");
    let held_id = verifier.authenticate(&held).expect("claims").license_id;
    assert_eq!(own["license_id"], json!(held_id.to_string()));

    // Both seats are taken; B's proof frees one, once, and a third machine takes it.
    let third = request_for(&held, &machine(3), 6);
    assert_refused(&offline(&env, &third), 409, "quantity_exhausted");
    let freed = proof_back(&env, &activation.deactivation_proof());
    assert_eq!(freed.0, 200, "{}", freed.1);
    assert_eq!(freed.1["pool"], json!(instance));
    assert_eq!(proof_back(&env, &activation.deactivation_proof()), freed);
    let b_id = answer["license_id"].as_str().expect("id");
    assert_eq!(state_of(&env, b_id), "released");
    let (status, taken) = offline(&env, &third);
    assert_eq!(status, 200, "{taken}");
    // A license whose seat was given back still names the order it was bought with.
    let again = offline(&env, &request_for(&activation.license, MACHINE_B, 7));
    assert_refused(&again, 409, "quantity_exhausted");
    let (_, audit) = api(
        env.app.port,
        "GET",
        &format!("/v1/licenses/{b_id}"),
        Some(&env.token),
        None,
    );
    assert!(audit.to_string().contains("deactivate"), "{audit}");
}

#[test]
fn n_plus_one_machines_racing_offline_for_n_seats_of_an_order_get_n_licenses() {
    let env = start("");
    // Four seats, one held by machine A: three left for four racing machines.
    let (_, held) = order_with_license(&env, "CS-OFF-RACE-1", 4);
    let port = env.app.port;
    let racers: Vec<_> = (10..14)
        .map(|n| {
            let body = json!({"request": request_for(&held, &machine(n), n)});
            std::thread::spawn(move || api(port, "POST", "/v1/activate/offline", None, Some(&body)))
        })
        .collect();
    let answers: Vec<(u16, Value)> = racers
        .into_iter()
        .map(|t| t.join().expect("racer"))
        .collect();
    let granted = answers.iter().filter(|(s, _)| *s == 200).count();
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
    assert_eq!(granted, 3, "{answers:?}");
    assert_eq!(refused.len(), 1, "{answers:?}");
    assert_refused(refused[0], 409, "quantity_exhausted");
}

#[test]
fn a_renewed_order_answers_an_old_copy_with_the_machines_current_license() {
    let env = start("");
    let (instance, held) = order_with_license(&env, "CS-OFF-REN-1", 1);
    let renewal = json!({"activity": "refreshInstance", "scene": "RENEWAL",
        "orderId": "CS-OFF-REN-2", "orderLineId": "CS-OFF-REN-2-000001",
        "instanceId": instance, "expireTime": "20400101000000", "testFlag": "1"});
    assert_eq!(code_of(env.app.port, &renewal), "000000");
    // The air-gapped machine still holds the first revision; it gets the renewed one.
    let (status, answer) = offline(&env, &request_for(&held, MACHINE_A, 1));
    assert_eq!(status, 200, "{answer}");
    let verifier = verifier(&env).allow_test_licenses();
    let request = ActivationRequest::parse(&request_for(&held, MACHINE_A, 1)).expect("request");
    let a = HardwareId::parse(MACHINE_A).expect("hwid");
    let activation = verifier
        .read_activation_response(
            answer["response"].as_str().expect("response"),
            &request,
            now(),
            &on(&a),
        )
        .expect("verifies on A");
    assert_eq!(activation.claims.revision, 2);
    assert!(activation.claims.expires_at > verifier.authenticate(&held).expect("c").expires_at);
}

#[test]
fn forged_foreign_revoked_and_code_licenses_name_no_order() {
    let env = start(CODE_POLICY);
    let (instance, held) = order_with_license(&env, "CS-OFF-BAD-1", 3);
    // An edited license (its signature no longer matches).
    let mut edited = held.clone();
    let at = edited.len() - 10;
    let flipped = if &edited[at..=at] == "A" { "B" } else { "A" };
    edited.replace_range(at..=at, flipped);
    let forged = offline(&env, &request_for(&edited, MACHINE_B, 1));
    assert_refused(&forged, 403, "proof_rejected");
    // A license this service never issued (a known-answer vector).
    let foreign = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/verify/tests/vectors/licenses.json"
    ))
    .expect("vectors");
    let foreign: Value = serde_json::from_str(&foreign).expect("json");
    let foreign = foreign[0]["token"].as_str().expect("token");
    assert_refused(
        &offline(&env, &request_for(foreign, MACHINE_B, 2)),
        403,
        "proof_rejected",
    );
    // A license of an authorization code: the request must name the code.
    add_code(&env, "PL-OFF-BAD", FakeCode::alive("P-CODE", 2));
    let (status, coded) = activate(&env, "PL-OFF-BAD", MACHINE_A);
    assert_eq!(status, 200, "{coded}");
    let coded = coded["license"].as_str().expect("license");
    assert_refused(
        &offline(&env, &request_for(coded, MACHINE_B, 3)),
        400,
        "invalid_request",
    );
    // A license the merchant revoked names no order any more.
    let held_id = verifier(&env)
        .authenticate(&held)
        .expect("claims")
        .license_id
        .to_string();
    let (status, revoked) = api(
        env.app.port,
        "POST",
        &format!("/v1/licenses/{held_id}/revoke"),
        Some(&env.token),
        Some(&json!({"reason": "chargeback"})),
    );
    assert_eq!(status, 200, "{revoked}");
    assert_refused(
        &offline(&env, &request_for(&held, MACHINE_B, 4)),
        403,
        "proof_rejected",
    );
    // Nothing was activated on the order by any of them.
    let path = format!("/v1/licenses?instance_id={instance}&include_test=true");
    let (_, page) = api(env.app.port, "GET", &path, Some(&env.token), None);
    assert_eq!(page["licenses"].as_array().map(Vec::len), Some(1), "{page}");
}

#[test]
fn a_frozen_order_activates_no_machine_until_it_is_unfrozen() {
    let env = start("");
    let (instance, held) = order_with_license(&env, "CS-OFF-FRZ-1", 2);
    let status = |s: &str| {
        code_of(
            env.app.port,
            &json!({"activity": "updateInstanceStatus", "instanceId": instance,
                    "status": s, "testFlag": "1"}),
        )
    };
    assert_eq!(status("FREEZE"), "000000");
    let request = request_for(&held, MACHINE_B, 1);
    assert_refused(&offline(&env, &request), 403, "license_code_inactive");
    assert_eq!(status("UNFREEZE"), "000000");
    assert_eq!(offline(&env, &request).0, 200);
}
