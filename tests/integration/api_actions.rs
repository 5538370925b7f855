//! Merchant API: suspend, reinstate, revoke, expiry, reissue; what reaches delivered software
//! (revocation list, signed status); the audit log; exports; a revoke racing a renewal.

use std::sync::Barrier;

use koolicense_verify::{Error, HardwareId, Host, LicenseId, LicenseState};
use serde_json::json;

use crate::api::{assert_error, spawn_api_app, ApiApp};
use crate::helpers::{Order, HW_PRODUCT};

fn license_id(api: &ApiApp, order: &Order) -> String {
    api.license_of_order(&order.order_id)["license_id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn revocations(api: &ApiApp) -> String {
    let reply = api.request("GET", "/v1/revocations", None, None);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.content_type.starts_with("text/plain"));
    reply.text
}

fn status(api: &ApiApp, token: &str, nonce: &str) -> (String, String) {
    let reply = api.request(
        "POST",
        "/v1/status",
        None,
        Some(json!({"license": token, "nonce": nonce, "version": 2})),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    (
        reply.body["state"].as_str().expect("state").to_owned(),
        reply.body["answer"].as_str().expect("answer").to_owned(),
    )
}

#[test]
fn a_revoked_license_is_refused_online_at_once_and_offline_with_the_next_list() {
    let api = spawn_api_app();
    let order = Order::new();
    let token = api.app.provision(&order).license().to_owned();
    let id = license_id(&api, &order);
    let verifier = api.app.verifier();
    let claims = verifier
        .verify(&token, koolicense_verify::unix_now())
        .expect("valid");

    let before = revocations(&api);
    let seq_before = verifier
        .check_revocation(&before, koolicense_verify::unix_now(), None, &claims)
        .expect("not listed");
    let (state, answer) = status(&api, &token, "nonce-1");
    assert_eq!(state, "valid");
    let signed = verifier
        .verify_status(&answer, "nonce-1", &claims)
        .expect("signed");
    assert_eq!(signed.state, LicenseState::Valid);

    let revoked = api.post(
        &format!("/v1/licenses/{id}/revoke"),
        &api.write,
        json!({"reason": "refund"}),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.body["license"]["status"], "revoked");

    let (state, answer) = status(&api, &token, "nonce-2");
    assert_eq!(state, "revoked");
    let signed = verifier
        .verify_status(&answer, "nonce-2", &claims)
        .expect("signed");
    assert_eq!(signed.state, LicenseState::Revoked);
    assert_eq!(
        verifier.verify_status(&answer, "nonce-1", &claims),
        Err(Error::NonceMismatch),
        "an answer cannot be replayed for another nonce"
    );

    let after = revocations(&api);
    assert_eq!(
        verifier.check_revocation(
            &after,
            koolicense_verify::unix_now(),
            Some(seq_before),
            &claims
        ),
        Err(Error::Revoked)
    );
    assert_eq!(
        verifier.check_revocation(
            &before,
            koolicense_verify::unix_now(),
            Some(seq_before),
            &claims
        ),
        Err(Error::Stale),
        "the old list cannot be replayed"
    );
    let missing_reason = api.post(&format!("/v1/licenses/{id}/revoke"), &api.write, json!({}));
    assert_error(&missing_reason, 400, "invalid_request");
}

#[test]
fn suspend_and_reinstate_toggle_what_the_software_sees() {
    let api = spawn_api_app();
    let order = Order::new();
    let token = api.app.provision(&order).license().to_owned();
    let id = license_id(&api, &order);
    let verifier = api.app.verifier();
    let claims = verifier
        .verify(&token, koolicense_verify::unix_now())
        .expect("valid");
    let suspended = api.post(
        &format!("/v1/licenses/{id}/suspend"),
        &api.write,
        json!({"reason": "unpaid"}),
    );
    assert_eq!(
        suspended.body["license"]["status"], "suspended",
        "{}",
        suspended.text
    );
    assert_eq!(status(&api, &token, "n1").0, "suspended");
    assert_eq!(
        verifier.check_revocation(
            &revocations(&api),
            koolicense_verify::unix_now(),
            None,
            &claims
        ),
        Err(Error::Revoked)
    );
    let back = api.post(
        &format!("/v1/licenses/{id}/reinstate"),
        &api.write,
        json!({}),
    );
    assert_eq!(back.body["license"]["status"], "active", "{}", back.text);
    assert_eq!(status(&api, &token, "n2").0, "valid");
    assert!(verifier
        .check_revocation(
            &revocations(&api),
            koolicense_verify::unix_now(),
            None,
            &claims
        )
        .is_ok());
    let revoke = api.post(
        &format!("/v1/licenses/{id}/revoke"),
        &api.write,
        json!({"reason": "x"}),
    );
    assert_eq!(revoke.status, 200);
    let again = api.post(
        &format!("/v1/licenses/{id}/reinstate"),
        &api.write,
        json!({}),
    );
    assert_error(&again, 409, "conflict");
}

#[test]
fn changing_the_expiry_signs_a_new_token_with_the_new_date() {
    let api = spawn_api_app();
    let order = Order::new().with("expireTime", "20300101000000");
    api.app.provision(&order);
    let id = license_id(&api, &order);
    let longer = api.post(
        &format!("/v1/licenses/{id}/expiry"),
        &api.write,
        json!({"expires_at": "2032-06-30T00:00:00Z"}),
    );
    assert_eq!(longer.status, 200, "{}", longer.text);
    let token = longer.body["license"]["token"].as_str().expect("token");
    let claims = api.app.verify(token);
    assert_eq!(claims.expires_at, Some(1_972_166_400));
    assert_eq!(claims.revision, 2);
    let again = api.app.provision(&order);
    assert_eq!(
        again.license(),
        token,
        "getLicense returns the latest token"
    );
    let perpetual = api.post(
        &format!("/v1/licenses/{id}/expiry"),
        &api.write,
        json!({"expires_at": null}),
    );
    assert!(api
        .app
        .verify(perpetual.body["license"]["token"].as_str().expect("t"))
        .expires_at
        .is_none());
    let bad = api.post(
        &format!("/v1/licenses/{id}/expiry"),
        &api.write,
        json!({"expires_at": "soon"}),
    );
    assert_error(&bad, 400, "invalid_request");
    let unknown = api.post(
        "/v1/licenses/01890000-0000-7000-8000-000000000000/expiry",
        &api.write,
        json!({"expires_at": null}),
    );
    assert_error(&unknown, 404, "not_found");
}

#[test]
fn reissue_rebinds_to_new_hardware_and_revokes_the_old_token() {
    let api = spawn_api_app();
    let old_machine = "AA:BB:CC:DD:EE:01|DISK-OLD|BOARD-OLD|CPU-OLD";
    let new_machine = "AA:BB:CC:DD:EE:02|DISK-NEW|BOARD-NEW|CPU-NEW";
    let order = Order::new()
        .product(HW_PRODUCT)
        .identifier(Some(old_machine));
    let old_token = api.app.provision(&order).license().to_owned();
    let id = license_id(&api, &order);
    let reply = api.post(
        &format!("/v1/licenses/{id}/reissue"),
        &api.write,
        json!({"hardware_identifier": new_machine, "reason": "motherboard replaced"}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let new_token = reply.body["license"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let verifier = api.app.verifier();
    let now = koolicense_verify::unix_now();
    let new_id = HardwareId::parse(new_machine).expect("hwid");
    let host = Host {
        hardware: Some(&new_id),
        system_identifier: None,
    };
    let new_claims = verifier
        .verify_on(&new_token, now, &host)
        .expect("binds the new machine");
    let old_claims = verifier
        .verify(&old_token, now)
        .expect("still a valid signature");
    let list = revocations(&api);
    assert_eq!(
        verifier.check_revocation(&list, koolicense_verify::unix_now(), None, &old_claims),
        Err(Error::Revoked)
    );
    assert!(verifier
        .check_revocation(&list, koolicense_verify::unix_now(), None, &new_claims)
        .is_ok());
    assert_eq!(status(&api, &old_token, "n").0, "revoked");
    assert_eq!(status(&api, &new_token, "n").0, "valid");
    let both = api.post(
        &format!("/v1/licenses/{id}/reissue"),
        &api.write,
        json!({"hardware_identifier": new_machine, "unbound": true}),
    );
    assert_error(&both, 400, "invalid_request");
    let history = api.get(&format!("/v1/licenses/{id}"), &api.read);
    let revoked: Vec<bool> = history.body["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| t["revoked"].as_bool().expect("bool"))
        .collect();
    assert_eq!(revoked, [true, false]);
}

#[test]
fn the_status_of_an_unknown_license_is_unknown_and_bad_requests_are_400() {
    let api = spawn_api_app();
    let id = LicenseId([7; 16]).to_string();
    let reply = api.request(
        "POST",
        "/v1/status",
        None,
        Some(json!({"license_id": id, "nonce": "n"})),
    );
    assert_eq!(reply.body["state"], "unknown", "{}", reply.text);
    for body in [
        json!({"nonce": "n"}),
        json!({"license_id": id, "nonce": ""}),
        json!({"license": "kl1.AAAA", "nonce": "n"}),
    ] {
        let reply = api.request("POST", "/v1/status", None, Some(body));
        assert_error(&reply, 400, "invalid_request");
    }
}

#[test]
fn the_audit_log_is_queried_by_license_actor_and_time() {
    let api = spawn_api_app();
    let order = Order::new();
    api.app.provision(&order);
    let id = license_id(&api, &order);
    api.post(
        &format!("/v1/licenses/{id}/suspend"),
        &api.write,
        json!({"reason": "check"}),
    );
    let events = |query: &str| {
        let reply = api.get(&format!("/v1/audit?{query}"), &api.read);
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["events"].as_array().expect("events").clone()
    };
    assert_eq!(events(&format!("license_id={id}")).len(), 2);
    let by_token = events(&format!("actor=token:{}", &api.write[4..20]));
    assert_eq!(by_token.len(), 1);
    assert_eq!(by_token[0]["action"], "suspend");
    assert_eq!(events("actor=koomarket").len(), 1);
    assert!(events("after=2999-01-01T00:00:00Z").is_empty());
    assert_eq!(events("before=2999-01-01T00:00:00Z&limit=1").len(), 1);
    let page = api.get("/v1/audit?limit=1", &api.read);
    let cursor = page.body["next_cursor"].as_u64().expect("cursor");
    let next = api.get(&format!("/v1/audit?limit=1&cursor={cursor}"), &api.read);
    assert_ne!(next.body["events"][0]["id"], page.body["events"][0]["id"]);
}

#[test]
fn exports_stream_every_license_and_event_as_json_lines() {
    let api = spawn_api_app();
    for _ in 0..5 {
        api.app.provision(&Order::new());
    }
    let licenses = api.get("/v1/export/licenses", &api.read);
    assert_eq!(licenses.status, 200);
    assert_eq!(licenses.content_type, "application/x-ndjson");
    let lines: Vec<serde_json::Value> = licenses
        .text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines
        .iter()
        .all(|l| l["token"].as_str().is_some_and(|t| t.starts_with("kl1."))));
    let audit = api.get("/v1/export/audit", &api.read);
    assert_eq!(audit.text.lines().count(), 5);
    assert_error(
        &api.request("GET", "/v1/export/audit", None, None),
        401,
        "unauthorized",
    );
}

#[test]
fn a_revoke_racing_a_marketplace_renewal_ends_consistent_with_both_audited() {
    let api = spawn_api_app();
    for round in 0..5 {
        let order = Order::new().with("expireTime", "20300101000000");
        let instance = api.app.provision(&order).instance_id().to_owned();
        let id = license_id(&api, &order);
        let barrier = Barrier::new(2);
        let renewal = format!("RENEW-{round}");
        std::thread::scope(|s| {
            s.spawn(|| {
                barrier.wait();
                let reply = api.post(
                    &format!("/v1/licenses/{id}/revoke"),
                    &api.write,
                    json!({"reason": "race"}),
                );
                assert_eq!(reply.status, 200, "{}", reply.text);
            });
            s.spawn(|| {
                barrier.wait();
                api.app
                    .call(
                        "refreshLicense",
                        &[
                            ("instanceId", &instance),
                            ("orderId", &renewal),
                            ("expireTime", "20310101000000"),
                        ],
                    )
                    .expect("000000");
            });
        });
        let reply = api.get(&format!("/v1/licenses/{id}"), &api.read);
        let license = &reply.body["license"];
        assert_eq!(license["status"], "revoked", "round {round}");
        assert_eq!(
            license["expires_at"], "2031-01-01T00:00:00Z",
            "round {round}"
        );
        assert_eq!(license["revision"], 2, "round {round}");
        let actions: Vec<&str> = reply.body["audit"]
            .as_array()
            .expect("audit")
            .iter()
            .map(|e| e["action"].as_str().expect("a"))
            .collect();
        assert!(
            actions.contains(&"revoke") && actions.contains(&"refreshLicense"),
            "{actions:?}"
        );
        assert_eq!(
            status(&api, license["token"].as_str().expect("t"), "n").0,
            "revoked"
        );
    }
}
