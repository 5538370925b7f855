//! The online-license activities (spec §6) against the service and the fake marketplace.

use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use super::fake_market::FakeMarket;
use super::support::{api, call, code_of, config, create_token, nonce, wait_until, App};

pub(crate) const MACHINE_A: &str = "00:1A:2B:3C:4D:5E|S3Z9NB0K123456|BOARD-77|BFEBFBFF000906EA";
/// Machine A with a replaced disk: still 3 of 4 components.
pub(crate) const MACHINE_A2: &str = "00:1A:2B:3C:4D:5E|NEWDISK-999|BOARD-77|BFEBFBFF000906EA";
pub(crate) const MACHINE_B: &str = "AA:BB:CC:DD:EE:01|DISK-B-1|BOARD-B|CPU-B-1";

pub(crate) struct Env {
    pub(crate) market: FakeMarket,
    pub(crate) app: App,
    pub(crate) token: String,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) fn start(extra: &str) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let market = FakeMarket::start();
    let token = create_token(dir.path());
    let app = App::start(dir.path(), &config(dir.path(), market.port, extra));
    Env {
        market,
        app,
        token,
        _dir: dir,
    }
}

pub(crate) fn time(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S z").to_string()
}

pub(crate) fn new_instance(port: u16, order: &str) -> String {
    let answer = call(
        port,
        &json!({"activity": "newInstance", "businessId": nonce(), "orderId": order,
                "orderLineId": format!("{order}-000001"), "testFlag": "1"}),
    );
    assert_eq!(answer["resultCode"], "000000", "{answer}");
    answer["instanceId"]
        .as_str()
        .expect("instanceId")
        .to_string()
}

/// Waits until the order query of `instance` is done (its details are known).
pub(crate) fn wait_order_details(env: &Env, instance: &str) {
    let key = format!("order/{instance}");
    let done = wait_until(Duration::from_secs(10), || {
        let (_, page) = api(
            env.app.port,
            "GET",
            "/v1/outbox?state=done&limit=500",
            Some(&env.token),
            None,
        );
        page["jobs"]
            .as_array()
            .is_some_and(|jobs| jobs.iter().any(|j| j["key"] == key))
    });
    assert!(done, "the order query of {instance} did not complete");
}

pub(crate) fn get_license(
    port: u16,
    instance: &str,
    event: &str,
    fingerprint: Option<&str>,
) -> String {
    // Whole days, so repeated requests ask for exactly the same period.
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let mut body = json!({"activity": "getLicenseAsync", "instanceId": instance, "eventId": event,
                          "effectiveTime": time(today),
                          "expireTime": time(today + chrono::Duration::days(300))});
    if let Some(fp) = fingerprint {
        body["deviceFingerprint"] = json!(fp);
    }
    code_of(port, &body)
}

/// A test instance of `order` whose details are known, licensed to [`MACHINE_A`].
pub(crate) fn licensed_instance(env: &Env, order: &str) -> String {
    let instance = new_instance(env.app.port, order);
    wait_order_details(env, &instance);
    let event = format!("EV-{order}");
    let answer = get_license(env.app.port, &instance, &event, Some(MACHINE_A));
    assert_eq!(answer, "000000");
    instance
}

/// The (one) license of an instance, from the merchant API.
pub(crate) fn license_of(env: &Env, instance: &str) -> Value {
    let path = format!("/v1/licenses?instance_id={instance}&include_test=true");
    let (status, page) = api(env.app.port, "GET", &path, Some(&env.token), None);
    assert_eq!(status, 200, "{page}");
    page["licenses"][0].clone()
}

#[test]
fn concurrent_duplicate_new_instances_make_one_instance_and_one_order_query() {
    let env = start("");
    let port = env.app.port;
    let threads: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || new_instance(port, "CS-DUP-1")))
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(new_instance(port, "CS-DUP-1"), ids[0], "a later retry");
    assert_ne!(new_instance(port, "CS-DUP-2"), ids[0], "another order");
    wait_order_details(&env, &ids[0]);
    let state = env.market.state.lock();
    let queries = state
        .order_queries
        .iter()
        .filter(|(o, _)| o == "CS-DUP-1")
        .count();
    assert_eq!(queries, 1);
    assert_eq!(state.bad_signatures, 0);
}

#[test]
fn refresh_freeze_and_release_follow_the_instance_and_its_licenses() {
    let env = start("");
    let port = env.app.port;
    let instance = new_instance(port, "CS-LIFE-1");
    wait_order_details(&env, &instance);
    assert_eq!(
        get_license(port, &instance, "EV-LIFE-1", Some(MACHINE_A)),
        "000000"
    );
    let first = license_of(&env, &instance);
    assert_eq!(first["status"], "active");
    assert_eq!(first["origin"], "koomarket_online");

    let refresh = |scene: &str, order: &str, expiry: &str| {
        code_of(
            port,
            &json!({"activity": "refreshInstance", "scene": scene, "orderId": order,
            "orderLineId": format!("{order}-000001"), "instanceId": instance, "expireTime": expiry, "testFlag": "1"}),
        )
    };
    // Renewal: later expiry, re-signed; a replay of the same renewal changes nothing.
    assert_eq!(refresh("RENEWAL", "CS-REN-1", "20400101000000"), "000000");
    let renewed = license_of(&env, &instance);
    assert!(renewed["expires_at"]
        .as_str()
        .expect("expiry")
        .starts_with("2040-01-01"));
    assert_eq!(
        renewed["revision"],
        first["revision"].as_u64().expect("rev") + 1
    );
    assert_eq!(refresh("RENEWAL", "CS-REN-1", "20400101000000"), "000000");
    assert_eq!(license_of(&env, &instance)["revision"], renewed["revision"]);
    // Cancelling that renewal moves the expiry back and supersedes the earlier tokens.
    assert_eq!(
        refresh("UNSUBSCRIBE_RENEWAL_PERIOD", "CS-REN-1", "20390101000000"),
        "000000"
    );
    let back = license_of(&env, &instance);
    assert!(back["expires_at"]
        .as_str()
        .expect("expiry")
        .starts_with("2039-01-01"));
    assert_eq!(back["revoked_below"], back["revision"]);
    assert_eq!(
        refresh("TRIAL_TO_FORMAL", "CS-FORMAL-1", "20390101000000"),
        "000000"
    );
    // RENEWAL_CHANGE (SaaS V2 续费变更) is a renewal: accepted, never moves the expiry back.
    assert_eq!(
        refresh("RENEWAL_CHANGE", "CS-X", "20380101000000"),
        "000000"
    );
    assert!(license_of(&env, &instance)["expires_at"]
        .as_str()
        .expect("expiry")
        .starts_with("2039-01-01"));
    assert_eq!(refresh("RENEWAL", "CS-X", "not a time"), "000002");

    let status = |s: &str| {
        code_of(
            port,
            &json!({"activity": "updateInstanceStatus", "instanceId": instance, "status": s}),
        )
    };
    assert_eq!(status("FREEZE"), "000000");
    assert_eq!(status("FREEZE"), "000000");
    assert_eq!(license_of(&env, &instance)["status"], "frozen");
    assert_eq!(
        get_license(port, &instance, "EV-LIFE-2", Some(MACHINE_A)),
        "000901"
    );
    assert_eq!(status("UNFREEZE"), "000000");
    assert_eq!(license_of(&env, &instance)["status"], "active");
    assert_eq!(status("THAW"), "000002");

    let release = json!({"activity": "releaseInstance", "instanceId": instance,
                         "orderId": "CS-UNSUB-1", "orderLineId": "CS-UNSUB-1-000001"});
    assert_eq!(code_of(port, &release), "000000");
    assert_eq!(
        code_of(port, &release),
        "000000",
        "releasing twice succeeds"
    );
    assert_eq!(license_of(&env, &instance)["status"], "released");
    // A test renewal of a released instance (a dial test replaying its case) succeeds and
    // changes nothing; a production one is 000003.
    assert_eq!(refresh("RENEWAL", "CS-REN-2", "20410101000000"), "000000");
    assert_eq!(license_of(&env, &instance)["status"], "released");
    let production = json!({"activity": "refreshInstance", "scene": "RENEWAL", "orderId": "CS-REN-3",
        "orderLineId": "CS-REN-3-000001", "instanceId": instance, "expireTime": "20410101000000"});
    assert_eq!(code_of(port, &production), "000003");
    assert_eq!(
        get_license(port, &instance, "EV-LIFE-3", Some(MACHINE_A)),
        "000003"
    );

    // Unknown instances and missing fields.
    let unknown = "no-such-instance";
    assert_eq!(
        code_of(
            port,
            &json!({"activity": "releaseInstance", "instanceId": unknown})
        ),
        "000003"
    );
    assert_eq!(
        code_of(
            port,
            &json!({"activity": "updateInstanceStatus", "instanceId": unknown, "status": "FREEZE"})
        ),
        "000003"
    );
    assert_eq!(
        get_license(port, unknown, "EV-X", Some(MACHINE_A)),
        "000003"
    );
    assert_eq!(
        code_of(port, &json!({"activity": "newInstance", "orderId": "CS-1"})),
        "000002"
    );
    assert_eq!(
        code_of(
            port,
            &json!({"activity": "getLicenseAsync", "instanceId": instance})
        ),
        "000002"
    );
    assert_eq!(code_of(port, &json!({"orderId": "CS-1"})), "000002");
}

#[test]
fn get_license_async_answers_000900_to_000903_and_recognises_the_same_machine() {
    let env = start("");
    let port = env.app.port;
    let instance = new_instance(port, "CS-CODES-1");
    wait_order_details(&env, &instance);
    // 000903: the product binds to hardware and no fingerprint was sent.
    assert_eq!(get_license(port, &instance, "EV-C-1", None), "000903");
    // 000902: the order is periodic and no expireTime was sent.
    let mut no_expiry = json!({"activity": "getLicenseAsync", "instanceId": instance, "eventId": "EV-C-2",
                               "effectiveTime": time(Utc::now()), "deviceFingerprint": MACHINE_A});
    assert_eq!(code_of(port, &no_expiry), "000902");
    // 000901: outside the order's validity (the fake's order ends in a year).
    no_expiry["effectiveTime"] = json!(time(Utc::now() + chrono::Duration::days(400)));
    no_expiry["expireTime"] = json!(time(Utc::now() + chrono::Duration::days(500)));
    assert_eq!(code_of(port, &no_expiry), "000901");
    // A license for machine A; the same machine (a disk replaced) asks again under a new event.
    assert_eq!(
        get_license(port, &instance, "EV-C-3", Some(MACHINE_A)),
        "000000"
    );
    assert_eq!(
        get_license(port, &instance, "EV-C-4", Some(MACHINE_A2)),
        "000000"
    );
    // 000900: the order bought one license; machine B is one too many.
    assert_eq!(
        get_license(port, &instance, "EV-C-5", Some(MACHINE_B)),
        "000900"
    );
    let uploaded = wait_until(Duration::from_secs(10), || {
        let s = env.market.state.lock();
        !s.uploads_for("EV-C-3").is_empty() && !s.uploads_for("EV-C-4").is_empty()
    });
    assert!(uploaded);
    let s = env.market.state.lock();
    assert_eq!(
        s.uploads_for("EV-C-3"),
        s.uploads_for("EV-C-4"),
        "the same machine gets the same license"
    );
    assert!(s.uploads_for("EV-C-5").is_empty());
}

#[test]
fn the_same_event_and_fingerprint_name_one_license_and_one_upload() {
    let env = start("");
    let port = env.app.port;
    let instance = new_instance(port, "CS-IDEM-1");
    wait_order_details(&env, &instance);
    assert_eq!(
        get_license(port, &instance, "EV-I-1", Some(MACHINE_A)),
        "000000"
    );
    assert_eq!(
        get_license(port, &instance, "EV-I-1", Some(MACHINE_A)),
        "000000"
    );
    let done = wait_until(Duration::from_secs(10), || {
        !env.market.state.lock().uploads_for("EV-I-1").is_empty()
    });
    assert!(done, "the license was not uploaded");
    assert_eq!(
        get_license(port, &instance, "EV-I-1", Some(MACHINE_A)),
        "000000"
    );
    // The same event with another machine is a different request on a used event.
    assert_eq!(
        get_license(port, &instance, "EV-I-1", Some(MACHINE_B)),
        "000002"
    );
    std::thread::sleep(Duration::from_millis(300));
    let uploads = env.market.state.lock().uploads_for("EV-I-1");
    assert_eq!(uploads.len(), 1, "uploaded exactly once");
    let license = license_of(&env, &instance);
    assert_eq!(uploads[0], license["token"].as_str().expect("token"));
    assert!(uploads[0].starts_with("kl1.") && uploads[0].len() <= 1024);
    assert_eq!(env.market.state.lock().bad_signatures, 0);
}
