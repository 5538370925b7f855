//! Shared steps of the lease tests: a floating license bought through the GET interface and
//! JSON calls to the public lease routes.

use serde_json::{json, Value};

use crate::helpers::{Order, TestApp, SEATS_PRODUCT};

/// A machine's system identifier for the lease tests.
pub(crate) fn machine(n: usize) -> String {
    format!("SYS-SEAT-MACHINE-{n:03}")
}

/// A floating license with `seats` concurrent seats.
pub(crate) fn floating_license(app: &TestApp, seats: u32) -> String {
    let order = Order::new()
        .product(SEATS_PRODUCT)
        .identifier(None)
        .with("amount", &seats.to_string())
        .with("expireTime", "20400101000000");
    app.provision(&order).license().to_owned()
}

/// A JSON call: status and body.
pub(crate) fn call(app: &TestApp, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let url = format!("{}{path}", app.base_url());
    let response = match app.agent().request(method, &url).send_json(body.clone()) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `POST /v1/leases`.
pub(crate) fn check_out(app: &TestApp, license: &str, machine: &str) -> (u16, Value) {
    call(
        app,
        "POST",
        "/v1/leases",
        &json!({"license": license, "machine": machine}),
    )
}

/// `POST /v1/leases/{id}/heartbeat` with `lease` (its token).
pub(crate) fn heartbeat(app: &TestApp, lease: &Value, machine: &str) -> (u16, Value) {
    let path = format!(
        "/v1/leases/{}/heartbeat",
        lease["lease_id"].as_str().expect("id")
    );
    call(
        app,
        "POST",
        &path,
        &json!({"lease": lease["lease"], "machine": machine}),
    )
}

/// `DELETE /v1/leases/{id}`.
pub(crate) fn give_back(app: &TestApp, lease: &Value, machine: &str) -> (u16, Value) {
    let path = format!("/v1/leases/{}", lease["lease_id"].as_str().expect("id"));
    call(
        app,
        "DELETE",
        &path,
        &json!({"lease": lease["lease"], "machine": machine}),
    )
}

/// Asserts the stable error shape.
#[track_caller]
pub(crate) fn assert_refused(reply: &(u16, Value), status: u16, code: &str) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["code"], code, "{}", reply.1);
    assert!(reply.1["message"].is_string(), "{}", reply.1);
}
