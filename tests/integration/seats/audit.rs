//! What a lease leaves in the audit trail: its checkout and return, its lapse (recorded by the
//! sweep soon after, or by the next checkout that finds it first), and its heartbeats only once per audit period (an hour by
//! default) however often the client beats, so thousands of seats beating every few minutes
//! do not flood the trail.

use serde_json::Value;

use super::support::*;
use crate::api::{spawn_api_app_with, ApiApp};
use crate::helpers::Config;

const TTL: i64 = 900;

/// `action:outcome` of a license's audit events, oldest first.
fn lease_events(api: &ApiApp, license_id: &str) -> Vec<String> {
    let reply = api.get(&format!("/v1/audit?license_id={license_id}"), &api.read);
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut events: Vec<&Value> = reply.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["actor"] == "lease")
        .collect();
    events.sort_by_key(|e| e["id"].as_u64());
    events
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["action"].as_str().unwrap_or(""),
                e["outcome"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn a_lease_beating_for_two_hours_leaves_one_heartbeat_event_per_hour() {
    let api = spawn_api_app_with(Config::default());
    let app = &api.app;
    let license = floating_license(app, 2);
    let a = machine(1);
    let (status, mut lease) = check_out(app, &license, &a);
    assert_eq!(status, 200, "{lease}");
    let license_id = lease["license_id"].as_str().expect("id").to_owned();
    // Sixteen heartbeats at half the lease time (7.5 minutes): two hours.
    for _ in 0..16 {
        app.config.clock.advance(TTL / 2);
        let (status, renewed) = heartbeat(app, &lease, &a);
        assert_eq!(status, 200, "{renewed}");
        lease = renewed;
    }
    // A client beating every second adds nothing within the same hour.
    for _ in 0..30 {
        app.config.clock.advance(1);
        let (status, renewed) = heartbeat(app, &lease, &a);
        assert_eq!(status, 200, "{renewed}");
        lease = renewed;
    }
    assert_eq!(give_back(app, &lease, &a).0, 200);
    assert_eq!(
        lease_events(&api, &license_id),
        [
            "checkout:leased",
            "heartbeat:renewed",
            "heartbeat:renewed",
            "return:returned"
        ]
    );
}

#[test]
fn a_killed_clients_lapse_is_audited_when_its_seat_is_taken_again() {
    let api = spawn_api_app_with(Config::default());
    let app = &api.app;
    let license = floating_license(app, 1);
    let (a, b) = (machine(1), machine(2));
    let (status, lease) = check_out(app, &license, &a);
    assert_eq!(status, 200, "{lease}");
    let lease_id = lease["lease_id"].as_str().expect("id").to_owned();
    let license_id = lease["license_id"].as_str().expect("id").to_owned();
    app.config.clock.advance(TTL + 1);
    assert_eq!(check_out(app, &license, &b).0, 200);
    assert_eq!(
        lease_events(&api, &license_id),
        ["checkout:leased", "lapse:lapsed", "checkout:leased"]
    );
    let reply = api.get(&format!("/v1/audit?license_id={license_id}"), &api.read);
    let lapse = reply.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == "lapse")
        .expect("the lapse")
        .clone();
    let detail = lapse["detail"].as_str().expect("detail");
    assert!(
        detail.contains(&lease_id) && detail.contains("lapsed at"),
        "{detail}"
    );
}

#[test]
fn the_merchant_sees_who_holds_the_seats_now_and_an_anonymous_caller_does_not() {
    let api = spawn_api_app_with(Config::default());
    let app = &api.app;
    let license = floating_license(app, 3);
    let (a, b) = (machine(1), machine(2));
    let (_, held) = check_out(app, &license, &a);
    let (_, returned) = check_out(app, &license, &b);
    app.config.clock.advance(TTL / 2);
    assert_eq!(heartbeat(app, &held, &a).0, 200);
    assert_eq!(give_back(app, &returned, &b).0, 200);
    let path = format!(
        "/v1/licenses/{}/leases",
        held["license_id"].as_str().expect("id")
    );
    let reply = api.get(&path, &api.read);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["seats"], 3);
    let leases = reply.body["leases"].as_array().expect("leases");
    assert_eq!(leases.len(), 1, "{}", reply.text);
    assert_eq!(leases[0]["lease_id"], held["lease_id"]);
    assert_eq!(leases[0]["heartbeats"], 1);
    assert!(
        !reply.text.contains(&a),
        "the machine identifier is not shown"
    );
    assert_eq!(api.request("GET", &path, None, None).status, 401);
    let unknown = api.get(
        "/v1/licenses/00000000-0000-7000-8000-000000000000/leases",
        &api.read,
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text);
}

#[test]
fn a_lapse_is_audited_by_the_sweep_without_another_checkout() {
    let api = spawn_api_app_with(Config {
        lapse_sweep_secs: 1,
        ..Config::default()
    });
    let app = &api.app;
    let license = floating_license(app, 2);
    let (status, kept) = check_out(app, &license, &machine(1));
    assert_eq!(status, 200, "{kept}");
    let license_id = kept["license_id"].as_str().expect("id").to_owned();
    let (status, returned) = check_out(app, &license, &machine(2));
    assert_eq!(status, 200, "{returned}");
    assert_eq!(give_back(app, &returned, &machine(2)).0, 200);
    app.config.clock.advance(TTL + 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !lease_events(&api, &license_id).contains(&"lapse:lapsed".to_owned()) {
        assert!(
            std::time::Instant::now() < deadline,
            "no lapse audited: {:?}",
            lease_events(&api, &license_id)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The returned lease was audited when it came back, and is not audited again as a lapse.
    assert_eq!(
        lease_events(&api, &license_id),
        [
            "checkout:leased",
            "checkout:leased",
            "return:returned",
            "lapse:lapsed"
        ]
    );
    let held = api.get(&format!("/v1/licenses/{license_id}/leases"), &api.read);
    assert_eq!(held.body["leases"].as_array().map(Vec::len), Some(0));
}
