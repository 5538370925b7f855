//! The POST interfaces under the marketplace's retries, replays and dial tests: renewals of
//! online instances and authorization codes never move an expiry back, an older status change
//! is ignored, callbacks for a code not activated yet are kept for its activation, and a
//! getLicenseAsync that arrives before the order's details is delivered by the outbox.

use std::time::Duration;

use serde_json::{json, Value};

use super::codes::{activate, add_code, CODE_POLICY};
use super::fake_market::{FakeCode, FakeMarket};
use super::online::{
    get_license, license_of, licensed_instance, new_instance, start, wait_order_details, MACHINE_A,
};
use super::support::{
    api, call, code_of, config, nonce, now_ms, post_raw, sign_b, wait_until, App, ACCESS_KEY,
};

/// A call signed `ago_ms` before now (inside the 60 s window).
fn code_signed_ago(port: u16, body: &Value, ago_ms: i64) -> String {
    let (n, ts) = (nonce(), (now_ms() - ago_ms).to_string());
    let text = body.to_string();
    let sig = sign_b(ACCESS_KEY, &n, &ts, text.as_bytes());
    post_raw(
        port,
        &format!("signature={sig}&timestamp={ts}&nonce={n}"),
        &text,
    )
    .code()
}

fn expiry_of(license: &Value) -> String {
    license["expires_at"].as_str().expect("expiry")[..10].to_owned()
}

#[test]
fn an_older_renewal_of_an_instance_or_a_code_never_moves_the_expiry_back() {
    let env = start(CODE_POLICY);
    let port = env.app.port;
    let instance = new_instance(port, "CS-OLDER-1");
    wait_order_details(&env, &instance);
    assert_eq!(
        get_license(port, &instance, "EV-O-1", Some(MACHINE_A)),
        "000000"
    );
    let renew = |scene: &str, order: &str, expiry: &str| {
        code_of(
            port,
            &json!({"activity": "refreshInstance", "scene": scene, "orderId": order,
                    "orderLineId": format!("{order}-1"), "instanceId": instance, "expireTime": expiry}),
        )
    };
    assert_eq!(renew("RENEWAL", "CS-NEW", "20400101000000"), "000000");
    let newest = license_of(&env, &instance);
    for (scene, order) in [
        ("RENEWAL", "CS-OLD"),
        ("TRIAL_TO_FORMAL", "CS-F"),
        ("RENEWAL_CHANGE", "CS-C"),
    ] {
        assert_eq!(renew(scene, order, "20390101000000"), "000000");
        let now = license_of(&env, &instance);
        assert_eq!(expiry_of(&now), "2040-01-01", "{scene}");
        assert_eq!(
            now["revision"], newest["revision"],
            "{scene}: nothing re-signed"
        );
    }

    add_code(&env, "PL-OLDER", FakeCode::alive("P-CODE", 1));
    let (status, first) = activate(&env, "PL-OLDER", MACHINE_A);
    assert_eq!(status, 200, "{first}");
    let renew_code = |order: &str, expiry: &str| {
        code_of(
            port,
            &json!({"activity": "refreshLicenseCode", "scene": "RENEWAL", "orderId": order,
                    "orderLineId": format!("{order}-1"), "license": "PL-OLDER", "expireTime": expiry}),
        )
    };
    assert_eq!(renew_code("CS-CODE-NEW", "20400101000000"), "000000");
    assert_eq!(renew_code("CS-CODE-OLD", "20390101000000"), "000000");
    let (_, again) = activate(&env, "PL-OLDER", MACHINE_A);
    assert_eq!(
        &again["expires_at"].as_str().expect("expiry")[..10],
        "2040-01-01"
    );
}

#[test]
fn a_code_status_query_answer_older_than_a_renewal_callback_never_moves_the_expiry_back() {
    // A one-second query interval, so the query is due without waiting a day.
    let dir = tempfile::tempdir().expect("tempdir");
    let market = FakeMarket::start();
    let toml = config(dir.path(), market.port, CODE_POLICY).replace(
        "max_attempts = 50",
        "max_attempts = 50\ncode_refresh_interval_secs = 1",
    );
    let app = App::start(dir.path(), &toml);
    let port = app.port;
    let fake = FakeCode {
        expire_time: "20390101000000".into(),
        ..FakeCode::alive("P-CODE", 1)
    };
    market.state.lock().codes.insert("PL-LAG".into(), fake);
    let activate = || {
        let body = json!({"authorization_code": "PL-LAG", "hardware_identifier": MACHINE_A});
        let (status, answer) = api(port, "POST", "/v1/activate", None, Some(&body));
        assert_eq!(status, 200, "{answer}");
        answer
    };
    assert_eq!(expiry_of(&activate()), "2039-01-01");
    let renewal = json!({"activity": "refreshLicenseCode", "scene": "RENEWAL", "orderId": "CS-LAG",
        "orderLineId": "CS-LAG-1", "license": "PL-LAG", "expireTime": "20400101000000"});
    assert_eq!(code_of(port, &renewal), "000000");
    let renewed = activate();
    assert_eq!(expiry_of(&renewed), "2040-01-01");
    // The query is due; the marketplace still reports the expiry from before the renewal.
    std::thread::sleep(Duration::from_millis(1100));
    let after = activate();
    assert_eq!(
        market.state.lock().queries,
        ["PL-LAG"],
        "the code was queried"
    );
    assert_eq!(expiry_of(&after), "2040-01-01", "{after}");
    assert_eq!(after["license"], renewed["license"], "nothing re-signed");
    // A later expiry in the query's answer still extends it.
    std::thread::sleep(Duration::from_millis(1100));
    market
        .state
        .lock()
        .codes
        .get_mut("PL-LAG")
        .expect("code")
        .expire_time = "20410101000000".into();
    assert_eq!(expiry_of(&activate()), "2041-01-01");
    app.stop();
}

#[test]
fn a_post_freeze_signed_before_an_applied_renewal_is_ignored() {
    let env = start(CODE_POLICY);
    let port = env.app.port;
    let instance = licensed_instance(&env, "CS-PAID-1");
    let renewal = json!({"activity": "refreshInstance", "scene": "RENEWAL", "orderId": "CS-PAID-R",
        "orderLineId": "CS-PAID-R-1", "instanceId": instance, "expireTime": "20400101000000"});
    assert_eq!(code_signed_ago(port, &renewal, 0), "000000");
    // A FREEZE signed 30 s before the renewal (of the period just paid for) arrives late.
    let freeze =
        json!({"activity": "updateInstanceStatus", "instanceId": instance, "status": "FREEZE"});
    assert_eq!(code_signed_ago(port, &freeze, 30_000), "000000");
    assert_eq!(license_of(&env, &instance)["status"], "active");
    assert_eq!(
        get_license(port, &instance, "EV-P-2", Some(MACHINE_A)),
        "000000",
        "the instance is not frozen"
    );
    // One signed after the renewal applies.
    assert_eq!(code_signed_ago(port, &freeze, 0), "000000");
    assert_eq!(license_of(&env, &instance)["status"], "frozen");

    add_code(&env, "PL-PAID", FakeCode::alive("P-CODE", 1));
    assert_eq!(activate(&env, "PL-PAID", MACHINE_A).0, 200);
    let renewal = json!({"activity": "refreshLicenseCode", "scene": "RENEWAL", "orderId": "CS-PAID-C",
        "orderLineId": "CS-PAID-C-1", "license": "PL-PAID", "expireTime": "20400101000000"});
    assert_eq!(code_signed_ago(port, &renewal, 0), "000000");
    let freeze =
        json!({"activity": "updateLicenseCodeStatus", "license": "PL-PAID", "status": "FREEZE"});
    assert_eq!(code_signed_ago(port, &freeze, 30_000), "000000");
    let (status, body) = activate(&env, "PL-PAID", MACHINE_A);
    assert_eq!(status, 200, "the code is not frozen: {body}");
    assert_eq!(code_signed_ago(port, &freeze, 0), "000000");
    assert_eq!(activate(&env, "PL-PAID", MACHINE_A).0, 403);
}

#[test]
fn a_post_status_change_signed_before_the_last_one_applied_is_ignored() {
    let env = start(CODE_POLICY);
    let port = env.app.port;
    let instance = new_instance(port, "CS-STALE-1");
    wait_order_details(&env, &instance);
    assert_eq!(
        get_license(port, &instance, "EV-S-1", Some(MACHINE_A)),
        "000000"
    );
    let status =
        |s: &str| json!({"activity": "updateInstanceStatus", "instanceId": instance, "status": s});
    assert_eq!(code_signed_ago(port, &status("FREEZE"), 0), "000000");
    // An UNFREEZE signed 30 s earlier, delivered late: ignored, the license stays frozen.
    assert_eq!(code_signed_ago(port, &status("UNFREEZE"), 30_000), "000000");
    assert_eq!(license_of(&env, &instance)["status"], "frozen");
    assert_eq!(code_signed_ago(port, &status("UNFREEZE"), 0), "000000");
    assert_eq!(license_of(&env, &instance)["status"], "active");

    add_code(&env, "PL-STALE", FakeCode::alive("P-CODE", 1));
    assert_eq!(activate(&env, "PL-STALE", MACHINE_A).0, 200);
    let code = |s: &str| json!({"activity": "updateLicenseCodeStatus", "license": "PL-STALE", "status": s});
    assert_eq!(code_signed_ago(port, &code("FREEZE"), 0), "000000");
    assert_eq!(code_signed_ago(port, &code("UNFREEZE"), 30_000), "000000");
    let (status, body) = activate(&env, "PL-STALE", MACHINE_A);
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("license_code_inactive"))
    );
}

#[test]
fn callbacks_for_a_code_not_activated_yet_answer_000000_and_its_first_activation_applies_them() {
    let env = start(CODE_POLICY);
    let port = env.app.port;
    for code in ["PL-P-FROZEN", "PL-P-RELEASED", "PL-P-THAWED"] {
        add_code(&env, code, FakeCode::alive("P-CODE", 1));
    }
    let status = |code: &str, s: &str| {
        code_of(
            port,
            &json!({"activity": "updateLicenseCodeStatus", "license": code, "status": s}),
        )
    };
    assert_eq!(status("PL-P-FROZEN", "FREEZE"), "000000");
    let release = json!({"activity": "releaseLicenseCode", "license": "PL-P-RELEASED"});
    assert_eq!(code_of(port, &release), "000000");
    assert_eq!(status("PL-P-THAWED", "FREEZE"), "000000");
    assert_eq!(status("PL-P-THAWED", "UNFREEZE"), "000000");

    for code in ["PL-P-FROZEN", "PL-P-RELEASED"] {
        let (status, body) = activate(&env, code, MACHINE_A);
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("license_code_inactive")),
            "{code}"
        );
    }
    assert_eq!(activate(&env, "PL-P-THAWED", MACHINE_A).0, 200);
    // Once activated, the callbacks act on the code itself: UNFREEZE makes it usable.
    assert_eq!(status("PL-P-FROZEN", "UNFREEZE"), "000000");
    assert_eq!(activate(&env, "PL-P-FROZEN", MACHINE_A).0, 200);
}

#[test]
fn get_license_async_before_the_order_details_is_issued_and_uploaded_by_the_outbox() {
    let env = start("");
    let port = env.app.port;
    env.market.state.lock().fail_queries = u32::MAX;
    let instance = new_instance(port, "CS-CHAIN-1");
    assert!(wait_until(Duration::from_secs(10), || {
        !env.market.state.lock().order_queries.is_empty()
    }));
    assert_eq!(
        get_license(port, &instance, "EV-CHAIN-1", Some(MACHINE_A)),
        "000004"
    );
    assert_eq!(
        get_license(port, &instance, "EV-CHAIN-1", Some(MACHINE_A)),
        "000004"
    );
    // The same eventId with another machine is a different request.
    assert_eq!(
        get_license(
            port,
            &instance,
            "EV-CHAIN-1",
            Some(super::online::MACHINE_B)
        ),
        "000002"
    );
    // The order query succeeds: the license is issued and uploaded with no further call.
    env.market.state.lock().fail_queries = 0;
    assert!(wait_until(Duration::from_secs(10), || {
        !env.market.state.lock().uploads_for("EV-CHAIN-1").is_empty()
    }));
    let uploaded = env.market.state.lock().uploads_for("EV-CHAIN-1");
    assert_eq!(uploaded.len(), 1);
    assert_eq!(license_of(&env, &instance)["token"], uploaded[0].as_str());
    assert_eq!(
        get_license(port, &instance, "EV-CHAIN-1", Some(MACHINE_A)),
        "000000"
    );
    // A replay after the release answers as before it; a new request is refused.
    let release = json!({"activity": "releaseInstance", "instanceId": instance});
    assert_eq!(call(port, &release)["resultCode"], "000000");
    assert_eq!(
        get_license(port, &instance, "EV-CHAIN-1", Some(MACHINE_A)),
        "000000"
    );
    assert_eq!(
        get_license(port, &instance, "EV-CHAIN-2", Some(MACHINE_A)),
        "000003"
    );
    assert_eq!(
        env.market.state.lock().uploads_for("EV-CHAIN-1").len(),
        1,
        "uploaded once"
    );
}

#[test]
fn rejected_post_calls_are_listed_for_the_merchant() {
    let env = start("");
    let port = env.app.port;
    let body = json!({"activity": "releaseInstance", "instanceId": "no-such-instance"}).to_string();
    assert_eq!(
        post_raw(port, "signature=00&timestamp=1&nonce=n", &body).code(),
        "000001"
    );
    assert_eq!(
        code_of(
            port,
            &json!({"activity": "releaseInstance", "instanceId": "no-such-instance"})
        ),
        "000003"
    );
    let (status, page) = api(
        port,
        "GET",
        "/v1/marketplace/calls?result=failed",
        Some(&env.token),
        None,
    );
    assert_eq!(status, 200, "{page}");
    let calls = page["calls"].as_array().expect("calls");
    let codes: Vec<&str> = calls
        .iter()
        .map(|c| c["result_code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["000001", "000003"], "{page}");
    for c in calls {
        assert_eq!(c["interface"], "post");
        assert_eq!(c["activity"], "releaseInstance");
        assert_eq!(c["instance_id"], "no-such-instance");
    }
}

#[test]
fn post_test_calls_about_unknown_or_released_instances_and_codes_succeed() {
    let env = start(CODE_POLICY);
    let port = env.app.port;
    let released = new_instance(port, "CS-TEST-REL");
    let release = json!({"activity": "releaseInstance", "instanceId": released});
    assert_eq!(code_of(port, &release), "000000");
    for instance in [released.as_str(), "no-such-instance"] {
        for mut body in [
            json!({"activity": "refreshInstance", "scene": "RENEWAL", "orderId": "CS-T",
                   "orderLineId": "CS-T-1", "expireTime": "20400101000000"}),
            json!({"activity": "updateInstanceStatus", "status": "FREEZE"}),
            json!({"activity": "releaseInstance"}),
        ] {
            body["instanceId"] = json!(instance);
            body["testFlag"] = json!("1");
            assert_eq!(code_of(port, &body), "000000", "{body}");
            body["testFlag"] = json!("0");
            let production = code_of(port, &body);
            // A released instance stays released: status changes and releases of it succeed.
            let idempotent = instance == released && body["activity"] != "refreshInstance";
            let expected = if idempotent { "000000" } else { "000003" };
            assert_eq!(production, expected, "{body}");
        }
    }

    // The same for License 2.0 codes: one released here, one nobody activated or called about.
    add_code(&env, "PL-TEST-REL", FakeCode::alive("P-CODE", 1));
    assert_eq!(activate(&env, "PL-TEST-REL", MACHINE_A).0, 200);
    let release = json!({"activity": "releaseLicenseCode", "license": "PL-TEST-REL"});
    assert_eq!(code_of(port, &release), "000000");
    for code in ["PL-TEST-REL", "PL-TEST-UNKNOWN"] {
        for mut body in [
            json!({"activity": "refreshLicenseCode", "scene": "RENEWAL", "orderId": "CS-TC",
                   "orderLineId": "CS-TC-1", "expireTime": "20400101000000"}),
            json!({"activity": "updateLicenseCodeStatus", "status": "FREEZE"}),
            json!({"activity": "releaseLicenseCode"}),
        ] {
            body["license"] = json!(code);
            body["testFlag"] = json!("1");
            assert_eq!(code_of(port, &body), "000000", "{body}");
        }
    }
    let (status, again) = activate(&env, "PL-TEST-REL", MACHINE_A);
    assert_eq!(
        (status, again["code"].as_str()),
        (403, Some("license_code_inactive")),
        "still released: {again}"
    );
}
