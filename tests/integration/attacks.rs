//! A customer who wants more than he paid for (issue 9): crafted hardware identifiers, a
//! license copied to a look-alike machine, a proxy rewriting status requests, test licenses, a
//! clock set back.
//! Each test fails on the version 1 rules and passes under the anchored binding, the revision
//! bound status answer and the test-license policy.

use koolicense_verify::{ClockMark, Error, HardwareId, Host, LicenseState, MarkFile};
use serde_json::json;

use crate::api::spawn_api_app;
use crate::helpers::{spawn_app, Order, HW_PRODUCT};

const MACHINE_1: &str = "00:1A:2B:3C:4D:01|DISK-0001|BOARD-0001|BFEBFBFF000906EA";

fn hardware_order(identifier: &str) -> Order {
    Order::new()
        .product(HW_PRODUCT)
        .identifier(Some(identifier))
}

#[test]
fn an_identifier_listing_two_machines_in_every_component_is_refused_with_000002_and_the_reason() {
    let app = spawn_app();
    let crafted = "00:1A:2B:3C:4D:01,00:1A:2B:3C:4D:02|DISK-0001,DISK-0002|BOARD-0001,BOARD-0002|BFEBFBFF000906EA";
    let answer = app.get_license(&hardware_order(crafted));
    answer.expect("000002");
    assert!(
        answer.json.to_string().contains("anchor the binding"),
        "{}",
        answer.json
    );
    assert_eq!(app.license_count(), 0, "nothing half-written is stored");
}

#[test]
fn an_identifier_with_only_a_mac_or_a_mac_and_a_cpu_id_is_refused_with_000002() {
    let app = spawn_app();
    for identifier in [
        "00:1A:2B:3C:4D:01|||",
        "00:1A:2B:3C:4D:01|||BFEBFBFF000906EA",
    ] {
        let answer = app.get_license(&hardware_order(identifier));
        answer.expect("000002");
        assert!(
            answer.json.to_string().contains("1 usable component"),
            "{}",
            answer.json
        );
    }
}

#[test]
fn a_license_copied_to_a_machine_with_the_same_cpu_model_and_a_copied_mac_does_not_verify() {
    let app = spawn_app();
    let token = app
        .provision(&hardware_order(MACHINE_1))
        .license()
        .to_owned();
    let look_alike =
        HardwareId::parse("00:1A:2B:3C:4D:01|DISK-0002|BOARD-0002|BFEBFBFF000906EA").expect("hwid");
    let host = Host {
        hardware: Some(&look_alike),
        system_identifier: None,
    };
    assert_eq!(
        app.verifier()
            .verify_on(&token, koolicense_verify::unix_now(), &host),
        Err(Error::HardwareMismatch {
            matched: 1,
            required: 2
        })
    );
}

#[test]
fn a_crafted_identifier_with_one_board_verifies_only_on_the_machine_of_that_board() {
    let app = spawn_app();
    let crafted = "00:1A:2B:3C:4D:01,00:1A:2B:3C:4D:02|DISK-0001,DISK-0002|BOARD-0001|";
    let token = app.provision(&hardware_order(crafted)).license().to_owned();
    let now = koolicense_verify::unix_now();
    let on = |machine: &str| {
        let id = HardwareId::parse(machine).expect("hwid");
        let host = Host {
            hardware: Some(&id),
            system_identifier: None,
        };
        app.verifier().verify_on(&token, now, &host).map(|_| ())
    };
    assert_eq!(on(MACHINE_1), Ok(()));
    assert_eq!(
        on("00:1A:2B:3C:4D:02|DISK-0002|BOARD-0002|BFEBFBFF000906EA"),
        Err(Error::AnchorMismatch)
    );
}

#[test]
fn a_proxy_that_asks_about_the_license_instead_of_the_superseded_token_gets_a_refused_answer() {
    let api = spawn_api_app();
    let order = hardware_order(MACHINE_1);
    let old_token = api.app.provision(&order).license().to_owned();
    let id = api.license_of_order(&order.order_id)["license_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let reissued = api.post(
        &format!("/v1/licenses/{id}/reissue"),
        &api.write,
        json!({"hardware_identifier": "00:1A:2B:3C:4D:09|DISK-0009|BOARD-0009|", "reason": "new machine"}),
    );
    assert_eq!(reissued.status, 200, "{}", reissued.text);
    let verifier = api.app.verifier();
    let old_claims = verifier
        .verify(&old_token, koolicense_verify::unix_now())
        .expect("still signed and in its window");
    // The program asks about its token; the proxy rewrites the request to the license id.
    let rewritten = api.request(
        "POST",
        "/v1/status",
        None,
        Some(json!({"license_id": id, "nonce": "n-proxy", "version": 2})),
    );
    assert_eq!(rewritten.status, 200, "{}", rewritten.text);
    assert_eq!(
        rewritten.body["state"], "valid",
        "the current token is valid"
    );
    let answer = rewritten.body["answer"].as_str().expect("answer");
    assert_eq!(
        verifier.verify_status(answer, "n-proxy", &old_claims),
        Err(Error::StatusMismatch)
    );
    // Asked honestly, the answer is about the old token, which is revoked.
    let honest = api.request(
        "POST",
        "/v1/status",
        None,
        Some(json!({"license": old_token, "nonce": "n-honest", "version": 2})),
    );
    let answer = honest.body["answer"].as_str().expect("answer");
    let signed = verifier.verify_status(answer, "n-honest", &old_claims);
    assert!(
        matches!(signed, Err(Error::Revoked))
            || matches!(&signed, Ok(a) if a.state == LicenseState::Revoked),
        "{signed:?}"
    );
}

#[test]
fn verifiers_already_delivered_still_get_version_1_status_answers_by_default() {
    let api = spawn_api_app();
    let token = api.app.provision(&Order::new()).license().to_owned();
    let reply = api.request(
        "POST",
        "/v1/status",
        None,
        Some(json!({"license": token, "nonce": "n-1"})),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let answer = reply.body["answer"].as_str().expect("answer");
    let claims = api.app.verify(&token);
    assert_eq!(
        api.app.verifier().verify_status(answer, "n-1", &claims),
        Err(Error::UnsupportedVersion(1)),
        "format 1 is what shipped verifiers read; this library refuses it (no downgrade)"
    );
    let bad = api.request(
        "POST",
        "/v1/status",
        None,
        Some(json!({"license": token, "nonce": "n-1", "version": 3})),
    );
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[test]
fn the_revocation_list_is_fresh_and_checked_against_a_maximum_age() {
    let api = spawn_api_app();
    let token = api.app.provision(&Order::new()).license().to_owned();
    let claims = api.app.verify(&token);
    let reply = api.request("GET", "/v1/revocations?format=json", None, None);
    assert_eq!(reply.status, 200, "{}", reply.text);
    let issued_at = reply.body["issued_at"].as_u64().expect("issued_at");
    let now = koolicense_verify::unix_now();
    assert!(issued_at + 3600 > now, "signed within the re-sign interval");
    let list = reply.body["list"].as_str().expect("list");
    let verifier = api.app.verifier().with_max_list_age(3600);
    let stamp = verifier
        .check_revocation(list, now, None, &claims)
        .expect("a good license passes");
    assert_eq!(
        verifier.check_revocation(list, now, Some(stamp), &claims),
        Err(Error::Stale)
    );
    assert!(matches!(
        verifier.check_revocation(list, issued_at + 3600 + 300, None, &claims),
        Err(Error::ListTooOld { .. })
    ));
}

#[test]
fn a_clock_set_back_beyond_the_leeway_is_refused_even_after_the_mark_file_is_deleted() {
    let api = spawn_api_app();
    let order = Order::new();
    let token = api.app.provision(&order).license().to_owned();
    let host = Host {
        hardware: None,
        system_identifier: order.identifier.as_deref(),
    };
    let verifier = api.app.verifier();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = MarkFile::new(dir.path().join("clock-mark"));
    let now = koolicense_verify::unix_now();
    let set_back = now - verifier.leeway() - 24 * 3600;

    // The program's start-up: load the mark, verify guarded, keep the mark.
    let start = |at: u64| {
        let mut mark = file.load().expect("load the mark");
        let verdict = verifier.verify_guarded(&token, at, &host, &mut mark);
        file.store(mark).expect("store the mark");
        verdict
    };
    let claims = start(now).expect("a good license on a true clock");
    assert!(matches!(
        start(set_back),
        Err(Error::ClockBehind { mark, .. }) if mark == now
    ));

    // Deleting the mark file resets it, but the next signed list raises it again.
    std::fs::remove_file(file.path()).expect("delete the mark");
    let reply = api.request("GET", "/v1/revocations?format=json", None, None);
    assert_eq!(reply.status, 200, "{}", reply.text);
    let list = reply.body["list"].as_str().expect("list");
    let issued_at = reply.body["issued_at"].as_u64().expect("issued_at");
    let mut mark = ClockMark::default();
    verifier
        .check_revocation_guarded(list, set_back, None, &claims, &mut mark)
        .expect("a fresh list, read on a clock set back");
    assert_eq!(mark.get(), issued_at);
    file.store(mark).expect("store the mark");
    assert!(matches!(start(set_back), Err(Error::ClockBehind { .. })));
}
