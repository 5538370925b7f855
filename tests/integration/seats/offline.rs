//! Offline activation naming a license that holds no seats: a License 1.0 (getLicense) order's
//! license is bound where it was bought, and a floating license's machines lease; neither
//! activates a machine offline, and the refusal says why.

use koolicense_verify::ActivationRequest;
use serde_json::json;

use super::support::*;
use crate::helpers::{spawn_app, Order};

#[test]
fn a_license_1_0_license_and_a_floating_license_activate_no_machine_offline() {
    let app = spawn_app();
    let bound = app.provision(&Order::new()).license().to_owned();
    let floating = floating_license(&app, 3);
    for license in [bound, floating] {
        let request = ActivationRequest::for_license(&license, &machine(1), [1; 16])
            .expect("request")
            .to_text();
        let reply = call(
            &app,
            "POST",
            "/v1/activate/offline",
            &json!({ "request": request }),
        );
        assert_refused(&reply, 400, "invalid_request");
        let message = reply.1["message"].as_str().unwrap_or_default();
        assert!(message.contains("no seats to activate"), "{message}");
    }
}
