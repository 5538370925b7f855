//! The operational endpoints: health, readiness, published keys, and the JSON 404.

use serde_json::Value;

use crate::helpers::{spawn_app, Order};

#[test]
fn healthz_readyz_and_keys_have_their_documented_shapes() {
    let app = spawn_app();
    let (status, health) = app.get_json("/healthz");
    assert_eq!((status, health), (200, serde_json::json!({"status": "ok"})));

    let (status, ready) = app.get_json("/readyz");
    assert_eq!(status, 200);
    assert_eq!(
        ready,
        serde_json::json!({"status": "ready"}),
        "readiness reads nothing and counts nothing"
    );
    app.provision(&Order::new());
    assert_eq!(app.license_count(), 1);
    let (_, ready) = app.get_json("/readyz");
    assert_eq!(
        ready,
        serde_json::json!({"status": "ready"}),
        "readiness publishes no counts"
    );

    let keys = app.keys();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let key = &keys[0];
    assert_eq!(key["active"], Value::Bool(true));
    let kid = key["kid"].as_str().expect("kid");
    assert_eq!(kid.len(), 16);
    assert!(kid.bytes().all(|b| b.is_ascii_hexdigit()));
    let pem = key["public_key_pem"].as_str().expect("pem");
    let public = koolicense_verify::PublicKey::parse(pem).expect("a public key");
    assert_eq!(public.kid().to_string(), kid);
    assert!(key["first_used"].is_string());
    assert!(key["retired_at"].is_null());
}

#[test]
fn an_unknown_route_is_a_json_404() {
    let app = spawn_app();
    for path in ["/nope", "/v1/no-such-thing", "/koomarket"] {
        let (status, body) = app.get_json(path);
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["code"], "not_found", "{path}: {body}");
        assert!(body["message"].is_string(), "{path}: {body}");
    }
}
