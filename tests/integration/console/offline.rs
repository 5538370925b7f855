//! Seats in the console: an offline activation request pasted into the page (naming an
//! authorization code, or a license of an online-license order) becomes the response the
//! verifier accepts on that machine only, a carried deactivation proof frees the seat, the
//! merchant frees a seat from the license page, and a read-only session is offered none of it.

use koolicense_verify::{ActivationRequest, Error, HardwareId, Host};
use serde_json::{json, Value};

use super::driver::Browser;
use super::pages::{fetch_status, page_csrf, signed_in_at};
use super::screenshots::save;
use super::HOSTILE_NAME;
use crate::post::codes::{activate, add_code, CODE_POLICY};
use crate::post::fake_market::FakeCode;
use crate::post::online::{start, Env, MACHINE_A, MACHINE_B};
use crate::post::order_seats::order_with_license;
use crate::post::seats::verifier;
use crate::post::support::api;

fn base(env: &Env) -> String {
    format!("http://127.0.0.1:{}", env.app.port)
}

fn hardware(machine: &str) -> HardwareId {
    HardwareId::parse(machine).expect("hardware identifier")
}

fn on(id: &HardwareId) -> Host<'_> {
    Host {
        hardware: Some(id),
        system_identifier: None,
    }
}

fn status_of(env: &Env, license_id: &str) -> Value {
    let (status, body) = api(
        env.app.port,
        "GET",
        &format!("/v1/licenses/{license_id}"),
        Some(&env.token),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["license"]["status"].clone()
}

/// The value of a text area (its exact text, trailing newline included).
fn value_of(browser: &Browser, id: &str) -> String {
    let value = browser.execute(
        "return document.getElementById(arguments[0]).value;",
        vec![json!(id)],
    );
    value.as_str().expect("a text area").to_owned()
}

#[test]
fn an_offline_request_pasted_in_the_console_becomes_a_response_for_that_machine_only() {
    let env = start(CODE_POLICY);
    add_code(&env, "PL-CONSOLE", FakeCode::alive("P-CODE", 2));
    let Some(browser) = signed_in_at(&base(&env), "console offline activation", &env.token) else {
        return;
    };
    browser.click("a[data-page=offline]");

    // A hostile block is refused with the API's message, shown as text.
    browser.type_into("#offline-request", HOSTILE_NAME);
    browser.click("#offline-activate");
    browser.wait_for("#offline-error");
    let refusal = browser.texts("#offline-error").join(" ");
    assert!(refusal.contains("invalid_request"), "{refusal}");
    assert_eq!(browser.count("img"), 0, "the refusal became markup");
    assert!(!browser.alert_open(), "the refusal ran as script");

    let request = ActivationRequest::new("PL-CONSOLE", MACHINE_A, [7; 16]).expect("request");
    browser.execute(
        "document.getElementById('offline-request').value = '';",
        vec![],
    );
    browser.type_into("#offline-request", &request.to_text());
    browser.click("#offline-activate");
    browser.wait_for("#offline-response");
    browser.wait_for("#copy-response");
    browser.wait_for("#download-response");
    let response = value_of(&browser, "offline-response");
    save(&browser, "offline-activation");

    let verifier = verifier(&env);
    let now = koolicense_verify::unix_now();
    let activation = verifier
        .read_activation_response(&response, &request, now, &on(&hardware(MACHINE_A)))
        .expect("the console's response verifies on machine A");
    assert!(matches!(
        verifier.read_activation_response(&response, &request, now, &on(&hardware(MACHINE_B))),
        Err(Error::HardwareMismatch { .. })
    ));
    // The console shows what the API answers the same request, byte for byte.
    let (status, answer) = api(
        env.app.port,
        "POST",
        "/v1/activate/offline",
        None,
        Some(&json!({ "request": request.to_text() })),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response"], json!(response));
    let license_id = answer["license_id"].as_str().expect("license id");
    assert_eq!(status_of(&env, license_id), "active");

    // The proof carried back frees the seat.
    browser.type_into("#offline-proof", &activation.deactivation_proof());
    browser.click("#offline-deactivate");
    browser.wait_for("#offline-freed");
    assert!(
        browser.texts("#offline-freed")[0].contains("PL-CONSOLE"),
        "{:?}",
        browser.texts("#offline-freed")
    );
    assert_eq!(status_of(&env, license_id), "released");
}

#[test]
fn a_request_naming_an_order_license_pasted_in_the_console_gives_that_machine_a_seat_of_the_order()
{
    let env = start("");
    let (instance, held) = order_with_license(&env, "CS-CONSOLE-ORDER-1", 2);
    let Some(browser) = signed_in_at(&base(&env), "console offline order", &env.token) else {
        return;
    };
    browser.click("a[data-page=offline]");
    let request = ActivationRequest::for_license(&held, MACHINE_B, [8; 16]).expect("request");
    browser.type_into("#offline-request", &request.to_text());
    browser.click("#offline-activate");
    browser.wait_for("#offline-response");
    let response = value_of(&browser, "offline-response");
    let verifier = verifier(&env).allow_test_licenses();
    let now = koolicense_verify::unix_now();
    let activation = verifier
        .read_activation_response(&response, &request, now, &on(&hardware(MACHINE_B)))
        .expect("the console's response verifies on machine B");
    assert_eq!(activation.claims.instance_id.as_deref(), Some(&*instance));
    assert!(matches!(
        verifier.read_activation_response(&response, &request, now, &on(&hardware(MACHINE_A))),
        Err(Error::HardwareMismatch { .. })
    ));

    browser.type_into("#offline-proof", &activation.deactivation_proof());
    browser.click("#offline-deactivate");
    browser.wait_for("#offline-freed");
    let freed = browser.texts("#offline-freed").join(" ");
    assert!(freed.contains(&instance), "{freed}");
    let license_id = activation.claims.license_id.to_string();
    assert_eq!(status_of(&env, &license_id), "released");
}

#[test]
fn the_merchant_frees_a_seat_from_the_license_page_after_confirming() {
    let env = start(CODE_POLICY);
    add_code(&env, "PL-FREE", FakeCode::alive("P-CODE", 1));
    let (status, issued) = activate(&env, "PL-FREE", MACHINE_A);
    assert_eq!(status, 200, "{issued}");
    let id = issued["license_id"].as_str().expect("id");
    let Some(browser) = signed_in_at(&base(&env), "console free seat", &env.token) else {
        return;
    };
    browser.goto(&format!("{}/console#/licenses/{id}", base(&env)));
    browser.wait_for_text("#license-status", "active");
    browser.click("button[data-action=deactivate]");
    browser.click("#confirm-dialog button[value=cancel]");
    browser.wait_for_text("#license-status", "active");
    assert_eq!(status_of(&env, id), "active", "cancelled, nothing freed");
    browser.click("button[data-action=deactivate]");
    browser.click("#confirm-button");
    browser.wait_for_text("#license-status", "released");
    assert_eq!(status_of(&env, id), "released");
    assert_eq!(
        browser.count("button[data-action=deactivate]"),
        0,
        "a freed seat is not offered again"
    );
    assert_eq!(
        activate(&env, "PL-FREE", MACHINE_B).0,
        200,
        "the seat is back"
    );
}

#[test]
fn a_read_only_session_is_offered_neither_offline_activation_nor_freeing_a_seat() {
    let env = start(CODE_POLICY);
    add_code(&env, "PL-READ", FakeCode::alive("P-CODE", 1));
    let (status, issued) = activate(&env, "PL-READ", MACHINE_A);
    assert_eq!(status, 200, "{issued}");
    let id = issued["license_id"].as_str().expect("id");
    let (status, created) = api(
        env.app.port,
        "POST",
        "/v1/tokens",
        Some(&env.token),
        Some(&json!({ "name": "viewer", "scopes": ["read"] })),
    );
    assert_eq!(status, 201, "{created}");
    let read = created["token"].as_str().expect("token");
    let Some(browser) = signed_in_at(&base(&env), "console offline read-only", read) else {
        return;
    };
    browser.wait_for_text("#scope", "read only");
    assert_eq!(browser.count("a[data-page=offline]"), 0, "no offline entry");
    browser.goto(&format!("{}/console#/offline", base(&env)));
    browser.wait_for("#offline-read-only");
    assert_eq!(browser.count("#offline-request, #offline-proof"), 0);
    browser.goto(&format!("{}/console#/licenses/{id}", base(&env)));
    browser.wait_for("#read-only-note");
    assert_eq!(browser.count("button[data-action=deactivate]"), 0);
    let csrf = page_csrf(&browser);
    let path = format!("/v1/licenses/{id}/deactivate");
    assert_eq!(
        fetch_status(&browser, "POST", &path, Some(&csrf), json!({})),
        403
    );
    assert_eq!(status_of(&env, id), "active");
}
