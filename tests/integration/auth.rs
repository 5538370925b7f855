//! Scheme A authentication details: marketplace key rotation, the optional timeStamp window,
//! and the `+` of a token sent unencoded.

use crate::helpers::{spawn_app, spawn_app_with, Config, Order};
use crate::market::{self, auth_token, encode_query, signed_query};

const NEW_KEY: &str = "9fa6c870-8bb0-4e9b-b71e-4c223300156f";
const OLD_KEY: &str = "test-access-key-0001";

#[test]
fn during_a_key_rotation_calls_signed_with_the_old_key_are_answered_with_the_old_key() {
    let app = spawn_app_with(Config {
        keys: vec![NEW_KEY.into(), OLD_KEY.into()],
        ..Config::default()
    });
    let order = Order::new();

    // Signed with the current key: answered with it.
    let first = app.send_with(&signed_query(NEW_KEY, &order.params()), NEW_KEY);
    first.expect("000000");

    // Signed with the previous key: accepted, and the Body-Sign uses the previous key (the
    // marketplace that signed with it verifies with it). `send_with` checks that.
    let answer = app.send_with(&signed_query(OLD_KEY, &order.params()), OLD_KEY);
    answer.expect("000000");
    assert_eq!(answer.license(), first.license());
    assert!(!market::body_sign_is_valid(
        NEW_KEY,
        &answer.body,
        &answer.body_sign
    ));

    // An unknown key: rejected, answered with the current key.
    app.send_with(&signed_query("some-unknown-key", &order.params()), NEW_KEY)
        .expect("000001");
}

#[test]
fn an_old_time_stamp_is_accepted_when_no_window_is_configured() {
    let app = spawn_app();
    let mut params = Order::new().params();
    params[1].1 = "20170621185532100".into();
    assert_eq!(params[1].0, "timeStamp");
    app.call_params(&params).expect("000000");
}

#[test]
fn a_stale_time_stamp_is_000001_when_a_window_is_configured() {
    let app = spawn_app_with(Config {
        timestamp_window_secs: 300,
        ..Config::default()
    });
    let order = Order::new();
    let mut params = order.params();
    params[1].1 = "20170621185532100".into();
    app.call_params(&params).expect("000001");
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y%m%d%H%M%S%3f")
        .to_string();
    params[1].1 = hour_ago;
    app.call_params(&params).expect("000001");
    params[1].1 = "not-a-time".into();
    app.call_params(&params).expect("000001");
    // A fresh one is served, and the rejected calls stored nothing.
    assert_eq!(app.license_count(), 0);
    app.provision(&order);
}

#[test]
fn an_auth_token_sent_unencoded_is_accepted_although_its_plus_arrives_as_a_space() {
    let app = spawn_app();
    // Find an order whose token contains a `+` (about every other one does).
    let (params, token) = (0..200)
        .map(|_| {
            let params = Order::new().params();
            let token = auth_token(&app.key, &params);
            (params, token)
        })
        .find(|(_, token)| token.contains('+'))
        .expect("a token with a plus within 200 tries");
    let query = format!("{}&authToken={token}", encode_query(&params));
    let answer = app.send(&query);
    answer.expect("000000");
    app.verify(answer.license());
}

#[test]
fn a_stale_call_signed_with_the_old_key_is_answered_with_the_old_key() {
    // The key is known once the token matched; only the timeStamp is refused, so the
    // marketplace that signed with the previous key must still be able to check the answer.
    let app = spawn_app_with(Config {
        keys: vec![NEW_KEY.into(), OLD_KEY.into()],
        timestamp_window_secs: 300,
        ..Config::default()
    });
    let mut params = Order::new().params();
    params[1].1 = "20170621185532100".into();
    app.send_with(&signed_query(OLD_KEY, &params), OLD_KEY)
        .expect("000001");
    app.send_with(&signed_query(NEW_KEY, &params), NEW_KEY)
        .expect("000001");
}
