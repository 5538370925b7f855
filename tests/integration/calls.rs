//! The merchant's record of rejected marketplace calls: every call answered 000001, 000002,
//! 000003 or 000005 is kept durably and listed at `GET /v1/marketplace/calls?result=failed`.

use crate::api::{assert_error, spawn_api_app, ApiApp};
use crate::helpers::{corrupt_stored_license, try_spawn, Order};
use crate::market;

#[test]
fn every_rejected_call_is_recorded_durably_and_listed_for_the_merchant() {
    let api = spawn_api_app();
    let order = Order::new().with("expireTime", "20300101000000");
    let instance = api.app.provision(&order).instance_id().to_owned();
    // 000001: signed with another key (the answer is signed with the app's key).
    let params = market::pairs(&[
        ("activity", "releaseLicense"),
        ("timeStamp", &market::time_stamp_now()),
        ("instanceId", &instance),
        ("businessId", "B-1"),
    ]);
    api.app
        .send(&market::signed_query("another-key", &params))
        .expect("000001");
    // 000002: a renewal without its order; 000003: an unknown instance.
    api.app
        .call(
            "refreshLicense",
            &[("instanceId", &instance), ("expireTime", "20350101000000")],
        )
        .expect("000002");
    api.app
        .call(
            "expireLicense",
            &[("instanceId", "no-such-instance"), ("orderId", "CS-X")],
        )
        .expect("000003");
    // Successes are not listed.
    api.app
        .call("releaseLicense", &[("instanceId", &instance)])
        .expect("000000");

    let api = ApiApp {
        app: api.app.restart(),
        ..api
    };
    let page = api.get("/v1/marketplace/calls?result=failed", &api.read);
    assert_eq!(page.status, 200, "{}", page.text);
    let calls = page.body["calls"].as_array().expect("calls").clone();
    let summary: Vec<(String, String)> = calls
        .iter()
        .map(|c| {
            (
                c["result_code"].as_str().unwrap_or("").into(),
                c["activity"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("000001".into(), "releaseLicense".into()),
            ("000002".into(), "refreshLicense".into()),
            ("000003".into(), "expireLicense".into()),
        ],
        "{}",
        page.text
    );
    assert_eq!(calls[0]["instance_id"], instance.as_str());
    assert_eq!(calls[0]["business_id"], "B-1");
    assert!(calls[1]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("orderId")));
    assert_eq!(calls[2]["order_id"], "CS-X");
    assert!(calls
        .iter()
        .all(|c| c["interface"] == "get" && c["at"].is_string()));
    // Cursor pagination, the read scope, and the one result kept.
    let first = api.get("/v1/marketplace/calls?result=failed&limit=2", &api.read);
    let cursor = first.body["next_cursor"].as_u64().expect("a next page");
    let rest = api.get(
        &format!("/v1/marketplace/calls?limit=2&cursor={cursor}"),
        &api.read,
    );
    assert_eq!(rest.body["calls"].as_array().expect("calls").len(), 1);
    assert!(rest.body["next_cursor"].is_null());
    assert_error(
        &api.request("GET", "/v1/marketplace/calls", None, None),
        401,
        "unauthorized",
    );
    assert_error(
        &api.get("/v1/marketplace/calls?result=all", &api.read),
        400,
        "invalid_request",
    );
}

#[test]
fn a_call_answered_000005_is_recorded_and_listed_for_the_merchant() {
    let api = spawn_api_app();
    let order = Order::new();
    let instance = api.app.provision(&order).instance_id().to_owned();
    // 000005 needs a storage failure: the instance's record corrupted while the app is stopped.
    let data = api.app.data_dir.clone();
    let dir = api.app.stop();
    corrupt_stored_license(&data, &instance);
    let api = ApiApp {
        app: try_spawn(Default::default(), dir).expect("restart"),
        ..api
    };
    api.app
        .call(
            "refreshLicense",
            &[
                ("orderId", "RENEW-5"),
                ("instanceId", &instance),
                ("expireTime", "20350101000000"),
            ],
        )
        .expect("000005");
    let page = api.get("/v1/marketplace/calls?result=failed", &api.read);
    assert_eq!(page.status, 200, "{}", page.text);
    let calls = page.body["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{}", page.text);
    let call = &calls[0];
    assert_eq!(call["result_code"], "000005");
    assert_eq!(call["activity"], "refreshLicense");
    assert_eq!(call["instance_id"], instance.as_str());
    assert_eq!(call["order_id"], "RENEW-5");
    assert!(call["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(call["at"].is_string());
}
