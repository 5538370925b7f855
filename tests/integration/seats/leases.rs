//! Floating licenses over HTTP: leases are checked out, renewed, returned and lapse; N + 1
//! machines racing for N seats get exactly N leases; a crashed client's seat comes back once
//! its lease lapses (the app's clock is advanced, nobody waits); and what a cheating customer
//! would try is refused.

use std::sync::{Arc, Barrier};

use koolicense_verify::{Error, Host};
use serde_json::json;

use super::support::*;
use crate::helpers::{spawn_app, spawn_app_with, Config, Order};

const TTL: i64 = 900;

fn host(machine: &str) -> Host<'_> {
    Host {
        hardware: None,
        system_identifier: Some(machine),
    }
}

#[test]
fn a_lease_is_checked_out_renewed_and_returned_and_retries_answer_the_same() {
    let app = spawn_app();
    let license = floating_license(&app, 2);
    let a = machine(1);
    let before = app.config.clock.now().timestamp() as u64;
    let (status, lease) = check_out(&app, &license, &a);
    assert_eq!(status, 200, "{lease}");
    let token = lease["lease"].as_str().expect("lease");
    assert!(token.starts_with("kll1."));
    let now = app.config.clock.now().timestamp() as u64;
    let verified = app
        .verifier()
        .verify_lease(token, now, &host(&a))
        .expect("lease verifies");
    assert_eq!(verified.claims.revision, 1);
    assert_eq!(verified.claims.quantity, Some(2));
    assert!(!verified.borrowed);
    // The clock may pass a second boundary while the lease is checked out.
    assert!((before..=now).contains(&(verified.expires_at() - TTL as u64)));
    assert!(lease["heartbeat_at"].is_string(), "{lease}");
    // On another machine the lease does not verify; as a license it is not one.
    assert!(matches!(
        app.verifier().verify_lease(token, now, &host("SYS-OTHER")),
        Err(Error::SystemIdentifierMismatch)
    ));
    assert_eq!(
        app.verifier()
            .verify(token, now)
            .expect_err("not a license"),
        Error::WrongObjectKind
    );

    // The same machine asking again gets the same lease, byte for byte.
    assert_eq!(check_out(&app, &license, &a), (200, lease.clone()));

    app.config.clock.advance(TTL / 2);
    let (status, renewed) = heartbeat(&app, &lease, &a);
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(renewed["lease"], lease["lease"]);
    assert_eq!(renewed["lease_id"], lease["lease_id"]);
    let later = app.config.clock.now().timestamp() as u64;
    let verified = app
        .verifier()
        .verify_lease(renewed["lease"].as_str().expect("lease"), later, &host(&a))
        .expect("renewed lease verifies");
    assert_eq!(verified.claims.revision, 2);
    // A heartbeat retried with the token it replaced gets the same answer.
    assert_eq!(heartbeat(&app, &lease, &a), (200, renewed.clone()));

    let (status, returned) = give_back(&app, &renewed, &a);
    assert_eq!(status, 200, "{returned}");
    assert_eq!(give_back(&app, &renewed, &a), (200, returned));
    assert_refused(&heartbeat(&app, &renewed, &a), 409, "conflict");
}

#[test]
fn machines_racing_for_the_last_seats_get_exactly_as_many_leases_as_there_are_seats() {
    let app = Arc::new(spawn_app());
    for seats in [1u32, 3, 5] {
        let license = Arc::new(floating_license(&app, seats));
        let racers = seats as usize + 1;
        let barrier = Arc::new(Barrier::new(racers));
        let threads: Vec<_> = (0..racers)
            .map(|n| {
                let (app, license, barrier) = (app.clone(), license.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    check_out(&app, &license, &machine(100 + n))
                })
            })
            .collect();
        let replies: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        let granted = replies.iter().filter(|r| r.0 == 200).count();
        assert_eq!(granted, seats as usize, "{replies:?}");
        let refused: Vec<_> = replies.iter().filter(|r| r.0 != 200).collect();
        assert_eq!(refused.len(), 1, "{replies:?}");
        assert_refused(refused[0], 409, "quantity_exhausted");
    }
}

#[test]
fn a_killed_clients_seat_comes_back_when_its_lease_lapses() {
    let app = spawn_app_with(Config::default());
    let license = floating_license(&app, 1);
    let (a, b) = (machine(1), machine(2));
    let (status, lease) = check_out(&app, &license, &a);
    assert_eq!(status, 200, "{lease}");
    // Machine A is killed: no heartbeat, no return. B waits for the seat.
    assert_refused(&check_out(&app, &license, &b), 409, "quantity_exhausted");
    app.config.clock.advance(TTL - 1);
    assert_refused(&check_out(&app, &license, &b), 409, "quantity_exhausted");
    app.config.clock.advance(2);
    let (status, taken) = check_out(&app, &license, &b);
    assert_eq!(status, 200, "{taken}");
    // A comes back too late: its lease lapsed, and its old token stops verifying offline.
    assert_refused(&heartbeat(&app, &lease, &a), 409, "conflict");
    assert_refused(&check_out(&app, &license, &a), 409, "quantity_exhausted");
    let after = app.config.clock.now().timestamp() as u64 + 300;
    assert!(matches!(
        app.verifier()
            .verify_lease(lease["lease"].as_str().expect("lease"), after, &host(&a)),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn a_borrowed_lease_lasts_up_to_the_policy_limit_and_is_not_renewed() {
    let app = spawn_app();
    let license = floating_license(&app, 2);
    let a = machine(1);
    let borrow = |secs: u64| {
        call(
            &app,
            "POST",
            "/v1/leases",
            &json!({"license": license, "machine": a, "borrow_secs": secs}),
        )
    };
    assert_refused(&borrow(86_401), 400, "invalid_request");
    assert_refused(&borrow(0), 400, "invalid_request");
    let (status, lease) = borrow(86_400);
    assert_eq!(status, 200, "{lease}");
    assert_eq!(lease["borrowed"], true);
    assert!(lease["heartbeat_at"].is_null(), "{lease}");
    let now = app.config.clock.now().timestamp() as u64;
    let verified = app
        .verifier()
        .verify_lease(
            lease["lease"].as_str().expect("lease"),
            now + 80_000,
            &host(&a),
        )
        .expect("verifies offline for the day");
    assert!(verified.borrowed);
    assert_refused(&heartbeat(&app, &lease, &a), 409, "conflict");
    // Returned early, the seat comes back at once.
    assert_eq!(give_back(&app, &lease, &a).0, 200);
    assert_eq!(check_out(&app, &license, &machine(2)).0, 200);
    assert_eq!(check_out(&app, &license, &machine(3)).0, 200);
}

#[test]
fn leases_refuse_what_a_cheating_customer_tries() {
    let app = spawn_app();
    let license = floating_license(&app, 1);
    let a = machine(1);
    let (_, lease) = check_out(&app, &license, &a);
    // An edited license, a lease offered as the license, a node-locked product's license.
    let mut edited = license.clone();
    edited.pop();
    edited.push(if license.ends_with('A') { 'B' } else { 'A' });
    assert_refused(
        &check_out(&app, &edited, &machine(2)),
        403,
        "proof_rejected",
    );
    let lease_token = lease["lease"].as_str().expect("lease").to_owned();
    assert_refused(
        &check_out(&app, &lease_token, &machine(2)),
        403,
        "proof_rejected",
    );
    let node_locked = app.provision(&Order::new()).license().to_owned();
    assert_refused(&check_out(&app, &node_locked, &a), 400, "invalid_request");
    // Another machine renewing or returning A's lease, or A's lease under another id.
    assert_refused(&heartbeat(&app, &lease, &machine(2)), 403, "proof_rejected");
    assert_refused(&give_back(&app, &lease, &machine(2)), 403, "proof_rejected");
    let (_, other) = check_out(&app, &floating_license(&app, 1), &machine(3));
    let swapped = json!({"lease_id": other["lease_id"], "lease": lease["lease"]});
    assert_refused(&heartbeat(&app, &swapped, &a), 403, "proof_rejected");
    // The seat is still A's.
    assert_refused(
        &check_out(&app, &license, &machine(2)),
        409,
        "quantity_exhausted",
    );
    // Bad input: the stable error shape, nothing stored.
    assert_refused(&check_out(&app, &license, ""), 400, "invalid_request");
    assert_refused(
        &call(&app, "POST", "/v1/leases", &json!({"license": license})),
        400,
        "invalid_request",
    );
    assert_refused(
        &call(
            &app,
            "POST",
            "/v1/leases",
            &json!({"license": license, "machine": a, "seats": 9}),
        ),
        400,
        "invalid_request",
    );
}
