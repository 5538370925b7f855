//! License 2.0 authorization codes: activation by the delivered software (`POST /v1/activate`),
//! the code callbacks (refreshLicenseCode, updateLicenseCodeStatus, releaseLicenseCode) and the
//! periodic status query.

use std::time::Duration;

use serde_json::{json, Value};

use super::fake_market::FakeCode;
use super::online::{start, Env, MACHINE_A, MACHINE_A2, MACHINE_B};
use super::support::{api, code_of, nonce};

const MACHINE_C: &str = "11:22:33:44:55:66|DISK-C-1|BOARD-C|CPU-C-1";
pub(crate) const CODE_POLICY: &str =
    "[[product]]\nproduct_id = \"P-CODE\"\nbinding = \"hardware\"\nmin_matching_components = 2\n";

pub(crate) fn activate(env: &Env, code: &str, machine: &str) -> (u16, Value) {
    let body = json!({"authorization_code": code, "hardware_identifier": machine});
    api(env.app.port, "POST", "/v1/activate", None, Some(&body))
}

fn state_of(env: &Env, license_id: &str) -> String {
    let body = json!({"license_id": license_id, "nonce": nonce()});
    let (status, answer) = api(env.app.port, "POST", "/v1/status", None, Some(&body));
    assert_eq!(status, 200, "{answer}");
    answer["state"].as_str().unwrap_or("").to_string()
}

pub(crate) fn add_code(env: &Env, code: &str, fake: FakeCode) {
    env.market.state.lock().codes.insert(code.to_string(), fake);
}

#[test]
fn activation_first_time_repeat_second_machine_and_beyond_the_quantity() {
    let env = start(CODE_POLICY);
    add_code(&env, "PL-001", FakeCode::alive("P-CODE", 2));
    let (status, first) = activate(&env, "PL-001", MACHINE_A);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["repeated"], false);
    let license = first["license"].as_str().expect("license").to_string();
    assert!(license.starts_with("kl1."));
    // The same machine, also with a replaced disk, gets the same license; no second activation.
    for machine in [MACHINE_A, MACHINE_A2] {
        let (status, again) = activate(&env, "PL-001", machine);
        assert_eq!(
            (status, again["license"].as_str()),
            (200, Some(license.as_str()))
        );
        assert_eq!(again["repeated"], true);
    }
    let (status, second) = activate(&env, "PL-001", MACHINE_B);
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["license_id"], first["license_id"]);
    let (status, third) = activate(&env, "PL-001", MACHINE_C);
    assert_eq!(
        (status, third["code"].as_str()),
        (409, Some("quantity_exhausted")),
        "{third}"
    );
    let id = first["license_id"].as_str().expect("id");
    assert_eq!(state_of(&env, id), "valid");
    let (_, detail) = api(
        env.app.port,
        "GET",
        &format!("/v1/licenses/{id}"),
        Some(&env.token),
        None,
    );
    assert_eq!(detail["license"]["origin"], "authorization_code");
    assert_eq!(detail["license"]["product_id"], "P-CODE");
    let s = env.market.state.lock();
    assert_eq!(s.activations, ["PL-001"]);
    assert!(s.queries.is_empty());
    assert_eq!(s.bad_signatures, 0);
}

#[test]
fn unknown_unclaimed_unavailable_and_already_active_codes() {
    let env = start(CODE_POLICY);
    let (status, body) = activate(&env, "PL-NONE", MACHINE_A);
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("license_code_unknown"))
    );
    add_code(
        &env,
        "PL-UNCLAIMED",
        FakeCode {
            claimed: false,
            ..FakeCode::alive("P-CODE", 1)
        },
    );
    let (status, body) = activate(&env, "PL-UNCLAIMED", MACHINE_A);
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("license_code_not_claimed"))
    );
    add_code(&env, "PL-DOWN", FakeCode::alive("P-CODE", 1));
    env.market.state.lock().fail_codes = true;
    let (status, body) = activate(&env, "PL-DOWN", MACHINE_A);
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("marketplace_unavailable"))
    );
    let message = body["message"].as_str().unwrap_or_default();
    for detail in ["http", "127.0.0.1", "HTTP 5", "error"] {
        assert!(
            !message.contains(detail),
            "an anonymous caller sees no upstream detail: {message}"
        );
    }
    {
        let mut s = env.market.state.lock();
        s.fail_codes = false;
        s.delay_ms = 300;
    }
    let (status, _) = activate(&env, "PL-DOWN", MACHINE_A);
    assert_eq!(
        status, 200,
        "works once the marketplace is back, even slowly"
    );
    env.market.state.lock().delay_ms = 0;
    // Activated earlier (an attempt whose answer was lost): "illegal state", then queried.
    add_code(
        &env,
        "PL-ACTIVE",
        FakeCode {
            activated: true,
            ..FakeCode::alive("P-CODE", 1)
        },
    );
    assert_eq!(activate(&env, "PL-ACTIVE", MACHINE_A).0, 200);
    assert_eq!(env.market.state.lock().queries, ["PL-ACTIVE"]);
    let (status, body) = activate(&env, "PL-ACTIVE", "a|b|c|d|e");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = activate(&env, "", MACHINE_A);
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[test]
fn code_callbacks_are_carried_over_to_the_licenses() {
    let env = start(CODE_POLICY);
    let port = env.app.port;
    add_code(&env, "PL-CB", FakeCode::alive("P-CODE", 1));
    // A renewal before the first activation is kept and applied by it.
    let early = json!({"activity": "refreshLicenseCode", "scene": "RENEWAL", "orderId": "O",
        "orderLineId": "O-1", "license": "PL-CB", "expireTime": "20390101000000"});
    assert_eq!(code_of(port, &early), "000000", "not activated yet");
    let (_, first) = activate(&env, "PL-CB", MACHINE_A);
    assert!(first["expires_at"]
        .as_str()
        .expect("expiry")
        .starts_with("2039-01-01"));
    let id = first["license_id"].as_str().expect("id").to_string();
    let refresh = |scene: &str, order: &str, expiry: &str| {
        code_of(
            port,
            &json!({"activity": "refreshLicenseCode", "scene": scene, "orderId": order,
            "orderLineId": format!("{order}-1"), "license": "PL-CB", "expireTime": expiry, "testFlag": "1"}),
        )
    };
    assert_eq!(refresh("RENEWAL", "CS-R1", "20400101000000"), "000000");
    let (_, renewed) = activate(&env, "PL-CB", MACHINE_A);
    assert!(renewed["expires_at"]
        .as_str()
        .expect("expiry")
        .starts_with("2040-01-01"));
    assert_ne!(renewed["license"], first["license"], "re-signed");
    assert_eq!(
        refresh("UNSUBSCRIBE_RENEWAL_PERIOD", "CS-R1", "20390101000000"),
        "000000"
    );
    let (_, detail) = api(
        port,
        "GET",
        &format!("/v1/licenses/{id}"),
        Some(&env.token),
        None,
    );
    assert_eq!(
        detail["license"]["revoked_below"],
        detail["license"]["revision"]
    );
    assert_eq!(
        refresh("TRIAL_TO_FORMAL", "CS-R2", "20390101000000"),
        "000002"
    );

    let status = |s: &str| {
        code_of(
            port,
            &json!({"activity": "updateLicenseCodeStatus", "license": "PL-CB", "status": s}),
        )
    };
    assert_eq!(status("FREEZE"), "000000");
    let (code, body) = activate(&env, "PL-CB", MACHINE_A);
    assert_eq!(
        (code, body["code"].as_str()),
        (403, Some("license_code_inactive"))
    );
    assert_eq!(state_of(&env, &id), "frozen");
    assert_eq!(status("UNFREEZE"), "000000");
    assert_eq!(activate(&env, "PL-CB", MACHINE_A).0, 200);
    assert_eq!(state_of(&env, &id), "valid");
    assert_eq!(status("MELT"), "000002");

    let release = json!({"activity": "releaseLicenseCode", "license": "PL-CB", "orderId": "CS-U", "orderLineId": "CS-U-1"});
    assert_eq!(code_of(port, &release), "000000");
    assert_eq!(code_of(port, &release), "000000");
    assert_eq!(activate(&env, "PL-CB", MACHINE_A).0, 403);
    assert_eq!(state_of(&env, &id), "released");
    // A test renewal of the released code succeeds (dial tests); a production one is 000003.
    assert_eq!(refresh("RENEWAL", "CS-R3", "20410101000000"), "000000");
    let production = json!({"activity": "refreshLicenseCode", "scene": "RENEWAL", "orderId": "CS-R4",
        "orderLineId": "CS-R4-1", "license": "PL-CB", "expireTime": "20410101000000"});
    assert_eq!(code_of(port, &production), "000003");
}

#[test]
fn the_code_status_is_queried_at_most_once_per_interval() {
    // The interval is configurable so this test need not wait a day: one second here.
    let dir = tempfile::tempdir().expect("tempdir");
    let market = super::fake_market::FakeMarket::start();
    let toml = super::support::config(dir.path(), market.port, CODE_POLICY).replace(
        "max_attempts = 50",
        "max_attempts = 50\ncode_refresh_interval_secs = 1",
    );
    let app = super::support::App::start(dir.path(), &toml);
    let port = app.port;
    market
        .state
        .lock()
        .codes
        .insert("PL-DAY".into(), FakeCode::alive("P-CODE", 1));
    let call = || {
        let body = json!({"authorization_code": "PL-DAY", "hardware_identifier": MACHINE_A});
        api(port, "POST", "/v1/activate", None, Some(&body))
    };
    let queries = || market.state.lock().queries.len();
    let (status, first) = call();
    assert_eq!(status, 200);
    assert_eq!(call().0, 200);
    assert_eq!(queries(), 0, "activation itself told the status");
    std::thread::sleep(Duration::from_millis(1100));
    market
        .state
        .lock()
        .codes
        .get_mut("PL-DAY")
        .expect("code")
        .status = "EXPIRED";
    let (status, body) = call();
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("license_code_inactive")),
        "{body}"
    );
    assert_eq!(queries(), 1);
    assert_eq!(call().0, 403);
    assert_eq!(queries(), 1, "not again within the interval");
    let id = first["license_id"].as_str().expect("id");
    let status_body = json!({"license_id": id, "nonce": nonce()});
    let (_, answer) = api(port, "POST", "/v1/status", None, Some(&status_body));
    assert_eq!(answer["state"], "frozen");
    std::thread::sleep(Duration::from_millis(1100));
    {
        let mut s = market.state.lock();
        let code = s.codes.get_mut("PL-DAY").expect("code");
        code.status = "ALIVE";
        code.expire_time = "20450101000000".into();
    }
    let (status, renewed) = call();
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(queries(), 2);
    assert!(renewed["expires_at"]
        .as_str()
        .expect("expiry")
        .starts_with("2045-01-01"));
    app.stop();
}

#[test]
fn activation_hands_an_existing_license_only_to_a_machine_matching_its_anchored_binding() {
    let env = start(CODE_POLICY);
    add_code(&env, "PL-LOOK", FakeCode::alive("P-CODE", 3));
    let (status, first) = activate(&env, "PL-LOOK", MACHINE_A);
    assert_eq!(status, 200, "{first}");
    // Same MAC (set by software) and same CPU model, but another disk and board: under the
    // version 1 rule two matching components handed it MACHINE_A's license.
    let look_alike = "00:1A:2B:3C:4D:5E|DISK-LOOK|BOARD-LOOK|BFEBFBFF000906EA";
    let (status, second) = activate(&env, "PL-LOOK", look_alike);
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["repeated"], false);
    assert_ne!(second["license_id"], first["license_id"]);
    // An identifier carrying MACHINE_A's parts gets MACHINE_A's license, which stays anchored
    // to MACHINE_A's board: useless anywhere else.
    let with_a = "00:1A:2B:3C:4D:5E,AA:BB:CC:DD:EE:01|S3Z9NB0K123456,DISK-B-1|BOARD-77|";
    let (status, same) = activate(&env, "PL-LOOK", with_a);
    assert_eq!(
        (status, &same["license_id"]),
        (200, &first["license_id"]),
        "{same}"
    );
    // One that lists two other machines' boards is refused before any slot is taken.
    let crafted = "AA:BB:CC:DD:EE:01,11:22:33:44:55:66|DISK-B-1,DISK-C-1|BOARD-B,BOARD-C|";
    let (status, refused) = activate(&env, "PL-LOOK", crafted);
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("invalid_request")),
        "{refused}"
    );
}
