//! Scheme B authentication of the POST interface: the spec vector, every `000001` case, the
//! persistent replay cache, access-key rotation, the reading switch and the answer's Body-Sign.

use base64::Engine as _;
use serde_json::json;

use super::support::{
    closed_port, config, nonce, now_ms, post_raw, post_signed_with, sign_b, sign_b_plain, App,
    ACCESS_KEY,
};

fn new_instance_body(order: &str) -> String {
    json!({"activity": "newInstance", "businessId": nonce(), "orderId": order,
           "orderLineId": format!("{order}-000001"), "testFlag": "1"})
    .to_string()
}

#[test]
fn the_independent_signer_reproduces_the_spec_vector() {
    let body = br#"{"activity":"newInstance","businessId":"87b94795-0603-4e24-8ae5-69420d60e3c8","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"1"}"#;
    assert_eq!(
        sign_b(
            "test-access-key-0001",
            "RLLUammMSInlrNWb",
            "1666677988730",
            body
        ),
        "42e5c39902051ad05a509d44429da9194ae06de372b6961830c929ded60a015c"
    );
    assert_eq!(
        sign_b_plain(
            "test-access-key-0001",
            "RLLUammMSInlrNWb",
            "1666677988730",
            body
        ),
        "f5f6d938ddc2f88a614adb1db72314bb48cff5decdfeee20fab3059449b1f24a"
    );
}

#[test]
fn authentication_failures_answer_000001_and_replays_stay_rejected_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let market = closed_port();
    let extra = "";
    let app = App::start(dir.path(), &config(dir.path(), market, extra));
    let port = app.port;
    let body = new_instance_body("CS-AUTH-1");
    let ts = now_ms().to_string();

    // A correct call, with an upper-case signature; the answer carries a Body-Sign made with
    // the access key over the exact answer bytes.
    let n = nonce();
    let sig = sign_b(ACCESS_KEY, &n, &ts, body.as_bytes()).to_uppercase();
    let query = format!("signature={sig}&timestamp={ts}&nonce={n}");
    let ok = post_raw(port, &query, &body);
    assert_eq!(ok.code(), "000000", "{}", ok.text);
    let expected = base64::engine::general_purpose::STANDARD.encode(super::support::hmac_sha256(
        ACCESS_KEY.as_bytes(),
        ok.text.as_bytes(),
    ));
    assert_eq!(
        ok.body_sign.as_deref(),
        Some(format!("sign_type=\"HMAC-SHA256\", signature=\"{expected}\"").as_str())
    );

    // The same call again: a replayed nonce.
    assert_eq!(post_raw(port, &query, &body).code(), "000001");

    let sign = |key: &str, n: &str, ts: &str, body: &str| sign_b(key, n, ts, body.as_bytes());
    let fresh = |ts: &str| {
        let n = nonce();
        let sig = sign(ACCESS_KEY, &n, ts, &body);
        format!("signature={sig}&timestamp={ts}&nonce={n}")
    };
    // Stale or future timestamps (61 s), in milliseconds and seconds.
    for ts in [
        (now_ms() - 61_000).to_string(),
        (now_ms() + 61_000).to_string(),
        ((now_ms() - 61_000) / 1000).to_string(),
    ] {
        assert_eq!(
            post_raw(port, &fresh(&ts), &body).code(),
            "000001",
            "ts {ts}"
        );
    }
    // A timestamp in seconds inside the window is accepted.
    let secs = (now_ms() / 1000).to_string();
    assert_eq!(post_raw(port, &fresh(&secs), &body).code(), "000000");
    // The spec's fallback reading (plain SHA-256 inner digest) is accepted by default: which
    // reading the platform uses is UNCONFIRMED (§10 item 1), so both are, until narrowed.
    let n = nonce();
    let plain = sign_b_plain(ACCESS_KEY, &n, &ts, body.as_bytes());
    assert_eq!(
        post_raw(
            port,
            &format!("signature={plain}&timestamp={ts}&nonce={n}"),
            &body
        )
        .code(),
        "000000"
    );
    // Wrong key, tampered body, missing or malformed parameters.
    let n = nonce();
    let wrong = sign("another-key", &n, &ts, &body);
    assert_eq!(
        post_raw(
            port,
            &format!("signature={wrong}&timestamp={ts}&nonce={n}"),
            &body
        )
        .code(),
        "000001"
    );
    let n = nonce();
    let good = sign(ACCESS_KEY, &n, &ts, &body);
    let tampered = body.replace("CS-AUTH-1", "CS-AUTH-2");
    assert_eq!(
        post_raw(
            port,
            &format!("signature={good}&timestamp={ts}&nonce={n}"),
            &tampered
        )
        .code(),
        "000001"
    );
    for query in [
        format!("timestamp={ts}&nonce={}", nonce()),
        format!("signature={good}&nonce={}", nonce()),
        format!("signature={good}&timestamp={ts}"),
        format!("signature=zz&timestamp={ts}&nonce={}", nonce()),
        String::new(),
    ] {
        assert_eq!(post_raw(port, &query, &body).code(), "000001", "{query}");
    }
    // Bodies that authenticate but are not valid calls.
    let too_big = format!(
        "{{\"activity\":\"newInstance\",\"pad\":\"{}\"}}",
        "x".repeat(70_000)
    );
    assert_eq!(
        post_signed_with(port, ACCESS_KEY, &too_big).code(),
        "000002"
    );
    assert_eq!(
        post_signed_with(port, ACCESS_KEY, "not json").code(),
        "000002"
    );
    assert_eq!(
        post_signed_with(port, ACCESS_KEY, r#"{"activity":"dance"}"#).code(),
        "000002"
    );
    app.stop();

    // After a restart inside the window the captured call is still a replay. The restarted
    // service rotates to a new access key (the old one stays accepted) and is narrowed to
    // formula B1 (`scheme_b_reading = "keyed_inner"`): the fallback reading is refused.
    let extra = "";
    let rotated = config(dir.path(), market, extra).replace(
        &format!("access_keys = [\"{ACCESS_KEY}\"]"),
        &format!(
            "access_keys = [\"new-access-key\", \"{ACCESS_KEY}\"]\nscheme_b_reading = \"keyed_inner\""
        ),
    );
    let app = App::start(dir.path(), &rotated);
    let port = app.port;
    assert_eq!(
        post_raw(port, &query, &body).code(),
        "000001",
        "replay after restart"
    );
    let replay = post_raw(port, &query, &body);
    assert_eq!(replay.code(), "000001");
    assert_eq!(
        post_signed_with(port, "new-access-key", &body).code(),
        "000000"
    );
    assert_eq!(post_signed_with(port, ACCESS_KEY, &body).code(), "000000");
    let (n, ts) = (nonce(), now_ms().to_string());
    let plain = sign_b_plain(ACCESS_KEY, &n, &ts, body.as_bytes());
    assert_eq!(
        post_raw(
            port,
            &format!("signature={plain}&timestamp={ts}&nonce={n}"),
            &body
        )
        .code(),
        "000001"
    );
    app.stop();
}
