//! Merchant API: authentication, scopes, rate limits, listing with every filter, pagination and
//! one license with its history.

use std::collections::HashSet;

use serde_json::json;

use crate::api::{assert_error, spawn_api_app, spawn_api_app_with};
use crate::helpers::{Config, Order, FLOAT_PRODUCT, SYS_PRODUCT};

#[test]
fn requests_without_a_valid_token_get_401_and_the_wrong_scope_gets_403() {
    let api = spawn_api_app();
    let anonymous = api.request("GET", "/v1/licenses", None, None);
    assert_error(&anonymous, 401, "unauthorized");
    for bad in [
        "klt_0000000000000000_nope",
        "not-a-token",
        &format!("{}x", api.read),
    ] {
        assert_error(&api.get("/v1/licenses", bad), 401, "unauthorized");
    }
    assert_eq!(api.get("/v1/licenses", &api.read).status, 200);
    assert_eq!(
        api.get("/v1/licenses", &api.write).status,
        200,
        "write implies read"
    );
    let id = "01890000-0000-7000-8000-000000000000";
    let reply = api.post(&format!("/v1/licenses/{id}/suspend"), &api.read, json!({}));
    assert_error(&reply, 403, "forbidden");
    assert_error(&api.get("/v1/tokens", &api.read), 403, "forbidden");
}

#[test]
fn tokens_are_created_listed_and_revoked_through_the_api() {
    let api = spawn_api_app();
    let created = api.post(
        "/v1/tokens",
        &api.write,
        json!({"name": "ci", "scopes": ["read"]}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let token = created.body["token"].as_str().expect("token").to_owned();
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(api.get("/v1/licenses", &token).status, 200);
    let listed = api.get("/v1/tokens", &api.write);
    let listed_text = listed.text.clone();
    // `klt_<id>_<secret>`: the secret is everything after the second `_` (it may hold `_`).
    let secret = token.splitn(3, '_').nth(2).expect("secret");
    assert!(secret.len() >= 16, "{token}");
    assert!(listed_text.contains(&id) && !listed_text.contains(secret));
    assert!(listed.body["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .any(|t| t["id"] == id.as_str() && t["last_used_at"].is_string()));
    let revoked = api.request(
        "DELETE",
        &format!("/v1/tokens/{id}"),
        Some(&api.write),
        None,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_error(&api.get("/v1/licenses", &token), 401, "unauthorized");
    let missing = api.request(
        "DELETE",
        "/v1/tokens/ffffffffffffffff",
        Some(&api.write),
        None,
    );
    assert_error(&missing, 404, "not_found");
    let bad = api.post("/v1/tokens", &api.write, json!({"name": "", "scopes": []}));
    assert_error(&bad, 400, "invalid_request");
}

#[test]
fn too_many_requests_get_429_with_retry_after() {
    let api = spawn_api_app_with(Config {
        rate_limits: Some((2, 3, 1000, 1000)),
        ..Config::default()
    });
    let statuses: Vec<u16> = (0..6)
        .map(|_| api.get("/v1/licenses", &api.read).status)
        .collect();
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    let limited = api.get("/v1/licenses", &api.read);
    assert_error(&limited, 429, "rate_limited");
    assert!(limited
        .retry_after
        .as_deref()
        .and_then(|s| s.parse::<u64>().ok())
        .is_some());
    assert_eq!(
        api.get("/v1/licenses", &api.write).status,
        200,
        "other tokens are not limited"
    );

    let per_address = spawn_api_app_with(Config {
        rate_limits: Some((1000, 1000, 1, 2)),
        ..Config::default()
    });
    let codes: Vec<u16> = (0..4)
        .map(|_| per_address.request("GET", "/v1/keys", None, None).status)
        .collect();
    assert!(
        codes.contains(&429),
        "public routes are limited per address: {codes:?}"
    );
}

#[test]
fn listing_filters_by_every_field() {
    let api = spawn_api_app();
    let a = Order::new()
        .with("skuCode", "SKU-A")
        .with("expireTime", "20300101000000")
        .with("chargingMode", "1");
    let mut b = Order::new()
        .product(FLOAT_PRODUCT)
        .identifier(None)
        .with("chargingMode", "3");
    b.customer_id = "customer-b".into();
    let test = Order::new().with("testFlag", "1");
    for order in [&a, &b, &test] {
        api.app.provision(order);
    }
    let ids = |query: &str| -> Vec<String> {
        let reply = api.get(&format!("/v1/licenses?{query}"), &api.read);
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        reply.body["licenses"]
            .as_array()
            .expect("licenses")
            .iter()
            .map(|l| l["order_id"].as_str().expect("order").to_owned())
            .collect()
    };
    assert_eq!(
        ids(""),
        [a.order_id.clone(), b.order_id.clone()],
        "test traffic hidden by default"
    );
    assert_eq!(ids("include_test=true").len(), 3);
    assert_eq!(
        ids(&format!("product_id={FLOAT_PRODUCT}")),
        vec![b.order_id.clone()]
    );
    assert_eq!(
        ids(&format!("product_id={SYS_PRODUCT}&include_test=true")).len(),
        2
    );
    assert_eq!(ids("sku_code=SKU-A"), vec![a.order_id.clone()]);
    assert_eq!(ids("customer_id=customer-b"), vec![b.order_id.clone()]);
    assert_eq!(
        ids(&format!("order_id={}", a.order_id)),
        vec![a.order_id.clone()]
    );
    let instance = api.license_of_order(&b.order_id)["instance_id"]
        .as_str()
        .expect("i")
        .to_owned();
    assert_eq!(
        ids(&format!("instance_id={instance}")),
        vec![b.order_id.clone()]
    );
    assert_eq!(ids("status=active").len(), 2);
    assert!(ids("status=revoked").is_empty());
    assert_eq!(
        ids("expires_after=2029-12-31T00:00:00Z"),
        vec![a.order_id.clone()]
    );
    assert_eq!(ids("expires_before=2030-01-01T00:00:00Z").len(), 0);
    assert_eq!(
        ids("expires_before=2030-01-02T00:00:00Z"),
        vec![a.order_id.clone()]
    );
    assert_eq!(ids("created_after=2000-01-01T00:00:00Z").len(), 2);
    assert!(ids("created_before=2000-01-01T00:00:00Z").is_empty());
    for bad in [
        "status=gone",
        "limit=0",
        "limit=501",
        "created_after=yesterday",
        "colour=red",
    ] {
        assert_error(
            &api.get(&format!("/v1/licenses?{bad}"), &api.read),
            400,
            "invalid_request",
        );
    }
}

#[test]
fn pagination_walks_more_than_a_thousand_licenses_once_each_in_creation_order() {
    let api = spawn_api_app();
    const TOTAL: usize = 1030;
    std::thread::scope(|s| {
        for t in 0..8 {
            let app = &api.app;
            s.spawn(move || {
                for _ in (t..TOTAL).step_by(8) {
                    app.provision(&Order::new().product(FLOAT_PRODUCT).identifier(None));
                }
            });
        }
    });
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/licenses?limit=100&cursor={c}"),
            None => "/v1/licenses?limit=100".to_owned(),
        };
        let reply = api.get(&path, &api.read);
        assert_eq!(reply.status, 200, "{}", reply.text);
        pages += 1;
        for license in reply.body["licenses"].as_array().expect("licenses") {
            seen.push(license["license_id"].as_str().expect("id").to_owned());
        }
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages <= 20, "pagination does not end");
    }
    assert_eq!(seen.len(), TOTAL);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        TOTAL,
        "no license twice"
    );
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "ordered by id, i.e. by creation"
    );
    assert_eq!(pages, 11);
}

#[test]
fn one_license_comes_with_every_token_it_had_and_its_audit_events() {
    let api = spawn_api_app();
    let order = Order::new().with("expireTime", "20300101000000");
    let first = api.app.provision(&order);
    let instance = first.instance_id().to_owned();
    api.app
        .call(
            "refreshLicense",
            &[
                ("instanceId", &instance),
                ("orderId", "RENEW-1"),
                ("expireTime", "20310101000000"),
            ],
        )
        .expect("000000");
    let id = api.license_of_order(&order.order_id)["license_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let reply = api.get(&format!("/v1/licenses/{id}"), &api.read);
    assert_eq!(reply.status, 200, "{}", reply.text);
    let tokens = reply.body["tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0]["token"], first.license());
    assert_eq!(tokens[1]["revision"], 2);
    assert_eq!(reply.body["license"]["token"], tokens[1]["token"]);
    let actions: Vec<&str> = reply.body["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions, ["getLicense", "refreshLicense"]);
    let missing = api.get(
        "/v1/licenses/01890000-0000-7000-8000-000000000000",
        &api.read,
    );
    assert_error(&missing, 404, "not_found");
}

#[test]
fn the_openapi_document_is_served() {
    let api = spawn_api_app();
    let reply = api.request("GET", "/v1/openapi.json", None, None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["openapi"], "3.1.0");
    assert!(reply.body["paths"]["/v1/licenses/{id}/revoke"]["post"].is_object());
}
