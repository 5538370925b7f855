//! The GET interface under the marketplace's retries, replays (重新启动) and dial tests (拨测):
//! renewals never move an expiry back, a shorter expiry supersedes the longer token, late
//! expires and older status changes are ignored, test traffic never fails on replay, the
//! identifier requirement follows the product policy, and replays racing renewals end
//! consistent.

use std::sync::Barrier;

use chrono::{Duration, Utc};
use koolicense_verify::{Binding, Error};
use serde_json::{json, Value};

use crate::api::{spawn_api_app, ApiApp};
use crate::helpers::{
    spawn_app, unix_of, Answer, Order, TestApp, FLOAT_PRODUCT, HW_PRODUCT, SYS_PRODUCT,
};
use crate::market;

/// Provisions an order valid until `expire` (`yyyyMMddHHmmss`); returns (order, instanceId).
fn provisioned(app: &TestApp, expire: &str) -> (Order, String) {
    let order = Order::new().with("expireTime", expire);
    let instance = app.provision(&order).instance_id().to_owned();
    (order, instance)
}

/// A marketplace time `offset` from now.
fn time_in(offset: Duration) -> String {
    (Utc::now() + offset).format("%Y%m%d%H%M%S").to_string()
}

/// An activity signed with `time_stamp` (`yyyyMMddHHmmssSSS`).
fn call_signed_at(
    app: &TestApp,
    activity: &str,
    time_stamp: &str,
    fields: &[(&str, &str)],
) -> Answer {
    let mut params = market::pairs(&[("activity", activity), ("timeStamp", time_stamp)]);
    params.extend(market::pairs(fields));
    app.call_params(&params)
}

/// A `timeStamp` `ago` before now.
fn stamp_ago(ago: Duration) -> String {
    (Utc::now() - ago).format("%Y%m%d%H%M%S%3f").to_string()
}

fn renew(app: &TestApp, instance: &str, order_id: &str, expire: &str) -> Answer {
    app.call(
        "refreshLicense",
        &[
            ("orderId", order_id),
            ("instanceId", instance),
            ("expireTime", expire),
        ],
    )
}

/// The stored record of an instance's license, over the merchant API.
fn record(api: &ApiApp, instance: &str) -> Value {
    let reply = api.get(
        &format!("/v1/licenses?instance_id={instance}&include_test=true"),
        &api.read,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["licenses"][0].clone()
}

/// The outcomes of the audit events of a license, oldest first.
fn outcomes(api: &ApiApp, license_id: &str) -> Vec<String> {
    let reply = api.get(&format!("/v1/audit?license_id={license_id}"), &api.read);
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["events"]
        .as_array()
        .expect("events")
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
fn an_older_renewal_order_arriving_after_a_newer_one_never_moves_the_expiry_back() {
    let app = spawn_app();
    let (order, instance) = provisioned(&app, "20300101000000");
    renew(&app, &instance, "RENEW-NEW", "20320101000000").expect("000000");
    let newest = app.provision(&order).license().to_owned();
    // The older order arrives late (the marketplace retried it, or the merchant replayed it).
    renew(&app, &instance, "RENEW-OLD", "20310101000000").expect("000000");
    let after = app.provision(&order).license().to_owned();
    assert_eq!(after, newest, "nothing re-signed");
    assert_eq!(
        app.verify(&after).expires_at,
        Some(unix_of("20320101000000"))
    );
}

#[test]
fn a_merchant_shortening_supersedes_the_longer_token_in_the_next_revocation_list() {
    let api = spawn_api_app();
    let (order, _) = provisioned(&api.app, "20320101000000");
    let long = api.app.provision(&order).license().to_owned();
    let verifier = api.app.verifier();
    let claims = verifier
        .verify(&long, koolicense_verify::unix_now())
        .expect("valid");
    let id = api.license_of_order(&order.order_id)["license_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let list = |api: &ApiApp| api.request("GET", "/v1/revocations", None, None).text;
    let before = list(&api);
    let seq = verifier
        .check_revocation(&before, koolicense_verify::unix_now(), None, &claims)
        .expect("not listed");
    let shorter = api.post(
        &format!("/v1/licenses/{id}/expiry"),
        &api.write,
        json!({"expires_at": "2031-01-01T00:00:00Z"}),
    );
    assert_eq!(shorter.status, 200, "{}", shorter.text);
    let short = shorter.body["license"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let after = list(&api);
    assert_eq!(
        verifier.check_revocation(&after, koolicense_verify::unix_now(), Some(seq), &claims),
        Err(Error::Revoked),
        "the longer token stops verifying offline"
    );
    let short_claims = verifier
        .verify(&short, koolicense_verify::unix_now())
        .expect("valid");
    assert!(verifier
        .check_revocation(
            &after,
            koolicense_verify::unix_now(),
            Some(seq),
            &short_claims
        )
        .is_ok());
    // Extending again supersedes nothing.
    let longer = api.post(
        &format!("/v1/licenses/{id}/expiry"),
        &api.write,
        json!({"expires_at": "2033-01-01T00:00:00Z"}),
    );
    assert_eq!(
        longer.body["license"]["revoked_below"],
        shorter.body["license"]["revoked_below"]
    );
}

#[test]
fn a_late_expire_after_a_renewal_is_ignored_and_audited() {
    let api = spawn_api_app();
    let (_, instance) = provisioned(&api.app, &time_in(Duration::zero()));
    renew(
        &api.app,
        &instance,
        "RENEW-1",
        &time_in(Duration::days(365)),
    )
    .expect("000000");
    // The expire of the period that just ended arrives after the renewal.
    api.app
        .call("expireLicense", &[("instanceId", &instance)])
        .expect("000000");
    let license = record(&api, &instance);
    assert_eq!(license["status"], "active");
    let id = license["license_id"].as_str().expect("id");
    assert!(
        outcomes(&api, id).contains(&"expireLicense:ignored".to_owned()),
        "{:?}",
        outcomes(&api, id)
    );
    // Within the tolerance (one day by default) an expire applies.
    let (_, due) = provisioned(&api.app, &time_in(Duration::hours(2)));
    api.app
        .call("expireInstance", &[("instanceId", &due)])
        .expect("000000");
    assert_eq!(record(&api, &due)["status"], "frozen");
}

#[test]
fn a_status_change_signed_before_the_last_one_applied_is_ignored() {
    let api = spawn_api_app();
    let (_, instance) = provisioned(&api.app, "20300101000000");
    let status = |stamp: &str, to: &str| {
        call_signed_at(
            &api.app,
            "instanceStatus",
            stamp,
            &[("instanceId", &instance), ("instanceStatus", to)],
        )
        .expect("000000");
    };
    let hour_old = stamp_ago(Duration::hours(1));
    status(&hour_old, "NORMAL");
    status(&market::time_stamp_now(), "FREEZE");
    // The hour-old NORMAL replayed (twice) after the FREEZE: stays frozen, no toggling.
    for _ in 0..2 {
        status(&hour_old, "NORMAL");
        assert_eq!(record(&api, &instance)["status"], "frozen");
    }
    let id = record(&api, &instance)["license_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(outcomes(&api, &id).contains(&"instanceStatus:ignored".to_owned()));
    // A newer NORMAL applies.
    status(&market::time_stamp_now(), "NORMAL");
    assert_eq!(record(&api, &instance)["status"], "active");
}

#[test]
fn test_calls_about_released_or_unknown_instances_succeed_and_production_calls_do_not() {
    let api = spawn_api_app();
    let (_, released) = provisioned(&api.app, "20300101000000");
    api.app
        .call("releaseLicense", &[("instanceId", &released)])
        .expect("000000");
    for instance in [released.as_str(), "no-such-instance"] {
        let calls: [(&str, Vec<(&str, &str)>); 4] = [
            (
                "refreshLicense",
                vec![("orderId", "R-T"), ("expireTime", "20350101000000")],
            ),
            ("expireLicense", vec![]),
            ("instanceStatus", vec![("instanceStatus", "FREEZE")]),
            ("releaseInstance", vec![]),
        ];
        for (activity, fields) in &calls {
            let mut all = vec![("instanceId", instance), ("testFlag", "1")];
            all.extend(fields.iter().copied());
            api.app.call(activity, &all).expect("000000");
        }
    }
    assert_eq!(
        record(&api, &released)["status"],
        "released",
        "nothing changed"
    );
    // Production traffic keeps 000003 for an unknown instance and a released one's renewal.
    api.app
        .call(
            "refreshLicense",
            &[
                ("instanceId", "no-such-instance"),
                ("orderId", "R-P"),
                ("expireTime", "20350101000000"),
            ],
        )
        .expect("000003");
    api.app
        .call(
            "refreshLicense",
            &[
                ("instanceId", &released),
                ("orderId", "R-P"),
                ("expireTime", "20350101000000"),
            ],
        )
        .expect("000003");
    let events = api.get("/v1/audit?actor=koomarket&limit=1000", &api.read);
    let ignored = events.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["outcome"] == "ignored" && e["test"] == true)
        .count();
    assert!(ignored >= 5, "test audit events: {}", events.text);
}

#[test]
fn a_renewal_replayed_after_the_release_answers_as_it_did_the_first_time() {
    let app = spawn_app();
    let (_, instance) = provisioned(&app, "20300101000000");
    renew(&app, &instance, "RENEW-1", "20310101000000").expect("000000");
    app.call("releaseLicense", &[("instanceId", &instance)])
        .expect("000000");
    renew(&app, &instance, "RENEW-1", "20310101000000").expect("000000");
    renew(&app, &instance, "RENEW-2", "20320101000000").expect("000003");
}

#[test]
fn whether_an_identifier_is_required_follows_the_policy_not_the_activity_name() {
    let app = spawn_app();
    for product in [HW_PRODUCT, SYS_PRODUCT, FLOAT_PRODUCT] {
        for activity in ["getLicense", "newInstance"] {
            let order = Order::new().product(product).identifier(None);
            let mut params = order.params();
            params[0].1 = activity.into();
            let answer = app.call_params(&params);
            if product == FLOAT_PRODUCT {
                // A floating product binds to nothing: both names issue without an identifier.
                answer.expect("000000");
                let claims = app.verify(answer.license());
                assert_eq!(claims.product_id, FLOAT_PRODUCT, "{activity}");
                assert_eq!(claims.binding, Binding::None, "{activity}");
            } else {
                answer.expect("000002");
            }
        }
    }
}

#[test]
fn replays_racing_renewals_on_one_instance_end_at_the_latest_expiry_and_active() {
    const RENEWALS: usize = 6;
    let api = spawn_api_app();
    let (order, instance) = provisioned(&api.app, &time_in(Duration::zero()));
    let expiry = |i: usize| format!("{}0101000000", 2031 + i);
    let old_stamp = stamp_ago(Duration::hours(1));
    let barrier = Barrier::new(RENEWALS + 2);
    std::thread::scope(|s| {
        for i in 0..RENEWALS {
            let (app, instance, barrier) = (&api.app, &instance, &barrier);
            s.spawn(move || {
                barrier.wait();
                for _ in 0..2 {
                    renew(app, instance, &format!("RENEW-{i}"), &expiry(i)).expect("000000");
                }
            });
        }
        for _ in 0..2 {
            let (app, instance, barrier, old_stamp) = (&api.app, &instance, &barrier, &old_stamp);
            s.spawn(move || {
                barrier.wait();
                for _ in 0..3 {
                    renew(app, instance, "RENEW-0", &expiry(0)).expect("000000");
                    call_signed_at(
                        app,
                        "instanceStatus",
                        old_stamp,
                        &[("instanceId", instance), ("instanceStatus", "FREEZE")],
                    )
                    .expect("000000");
                    app.call("expireLicense", &[("instanceId", instance)])
                        .expect("000000");
                }
            });
        }
    });
    // Whatever the interleaving: active (every replayed FREEZE and expire is stale once a
    // renewal applied), and the latest expiry.
    let license = record(&api, &instance);
    assert_eq!(license["status"], "active", "{license}");
    let token = api.app.provision(&order).license().to_owned();
    let claims = api.app.verify(&token);
    assert_eq!(claims.expires_at, Some(unix_of(&expiry(RENEWALS - 1))));
    // Each renewal order changed the claims at most once.
    assert!(
        claims.revision as usize <= 1 + RENEWALS,
        "revision {}",
        claims.revision
    );
}
