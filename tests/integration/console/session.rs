//! The console's sign-in, session cookie, CSRF rule and headers over plain HTTP, tried as a
//! cheating customer or a hostile page would.

use serde_json::json;

use super::{license_for, post_sign_in, send, sign_in};
use crate::api::spawn_api_app;

#[test]
fn signing_in_sets_an_http_only_same_site_strict_cookie_that_reads_the_api() {
    let app = spawn_api_app();
    let license = license_for(&app, "Acme");
    let session = sign_in(&app, &app.read);
    let attributes = session.set_cookie.to_ascii_lowercase();
    for wanted in ["httponly", "samesite=strict", "path=/"] {
        assert!(attributes.contains(wanted), "{}", session.set_cookie);
    }
    assert!(
        !attributes.contains("secure"),
        "plain HTTP: {}",
        session.set_cookie
    );
    assert_eq!(session.body["scopes"], json!(["read"]));
    assert!(
        !session.cookie.contains(&app.read),
        "the cookie is not the token"
    );
    let id = license["license_id"].as_str().expect("id");
    let answer = send(
        &app,
        "GET",
        &format!("/v1/licenses/{id}"),
        Some(&session.cookie),
        None,
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let current = send(
        &app,
        "GET",
        "/console/session",
        Some(&session.cookie),
        None,
        None,
    );
    assert_eq!(current.body["csrf_token"], session.csrf.as_str());
}

#[test]
fn behind_a_tls_proxy_the_session_cookie_is_secure() {
    let app = spawn_api_app();
    let answer = post_sign_in(&app, &app.read, Some(("X-Forwarded-Proto", "https")));
    assert_eq!(answer.status, 201, "{}", answer.body);
    let cookie = answer.set_cookie.expect("cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[test]
fn a_wrong_or_missing_token_gets_no_session() {
    let app = spawn_api_app();
    let mut forged = app.write.clone();
    forged.pop();
    forged.push('x');
    for token in [forged.as_str(), "", "klt_0000000000000000_abc"] {
        let answer = post_sign_in(&app, token, None);
        assert_eq!(answer.status, 401, "{token}: {}", answer.body);
        assert!(answer.set_cookie.is_none(), "{token}");
    }
    let made_up = send(
        &app,
        "GET",
        "/v1/licenses",
        Some("koolicense_session=made-up"),
        None,
        None,
    );
    assert_eq!(made_up.status, 401);
}

#[test]
fn a_sign_in_from_another_site_or_from_a_form_is_refused() {
    let app = spawn_api_app();
    let answer = post_sign_in(&app, &app.write, Some(("Sec-Fetch-Site", "cross-site")));
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(answer.set_cookie.is_none());
    let url = format!("{}/console/session", app.app.base_url());
    let form = app
        .app
        .agent()
        .post(&url)
        .send_form(&[("token", app.write.as_str())]);
    let status = match form {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 400, "a form post is not JSON");
}

#[test]
fn a_session_change_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_api_app();
    let license = license_for(&app, "Acme");
    let id = license["license_id"].as_str().expect("id");
    let path = format!("/v1/licenses/{id}/revoke");
    let session = sign_in(&app, &app.write);
    let other = sign_in(&app, &app.write);
    let reason = Some(json!({ "reason": "chargeback" }));
    for csrf in [None, Some(""), Some("guess"), Some(other.csrf.as_str())] {
        let answer = send(
            &app,
            "POST",
            &path,
            Some(&session.cookie),
            csrf,
            reason.clone(),
        );
        assert_eq!(answer.status, 403, "{csrf:?}: {}", answer.body);
        assert_eq!(answer.body["code"], "csrf_token_required");
    }
    assert_eq!(
        app.license_of_order(license["order_id"].as_str().expect("order"))["status"],
        "active"
    );
    let answer = send(
        &app,
        "POST",
        &path,
        Some(&session.cookie),
        Some(&session.csrf),
        reason,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["license"]["status"], "revoked");
}

#[test]
fn a_read_session_cannot_change_anything_even_with_its_csrf_token() {
    let app = spawn_api_app();
    let license = license_for(&app, "Acme");
    let id = license["license_id"].as_str().expect("id");
    let session = sign_in(&app, &app.read);
    let cookie = Some(session.cookie.as_str());
    let csrf = Some(session.csrf.as_str());
    for (method, path, body) in [
        (
            "POST",
            format!("/v1/licenses/{id}/revoke"),
            Some(json!({ "reason": "x" })),
        ),
        (
            "POST",
            format!("/v1/licenses/{id}/suspend"),
            Some(json!({})),
        ),
        (
            "POST",
            "/v1/tokens".to_owned(),
            Some(json!({ "name": "mine", "scopes": ["write"] })),
        ),
        ("GET", "/v1/tokens".to_owned(), None),
        ("POST", "/v1/outbox/1/retry".to_owned(), Some(json!({}))),
    ] {
        let answer = send(&app, method, &path, cookie, csrf, body);
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
        assert_eq!(answer.body["code"], "forbidden", "{method} {path}");
    }
    assert_eq!(
        app.license_of_order(license["order_id"].as_str().expect("order"))["status"],
        "active"
    );
}

#[test]
fn signing_out_ends_the_session_and_clears_the_cookie() {
    let app = spawn_api_app();
    let session = sign_in(&app, &app.write);
    let cookie = Some(session.cookie.as_str());
    let refused = send(&app, "DELETE", "/console/session", cookie, None, None);
    assert_eq!(refused.status, 403, "sign-out needs the CSRF token too");
    let answer = send(
        &app,
        "DELETE",
        "/console/session",
        cookie,
        Some(&session.csrf),
        None,
    );
    assert_eq!(answer.status, 204);
    let cleared = answer.set_cookie.expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(
        send(&app, "GET", "/v1/licenses", cookie, None, None).status,
        401
    );
    assert_eq!(
        send(&app, "GET", "/console/session", cookie, None, None).status,
        401
    );
}

#[test]
fn revoking_a_token_ends_the_console_sessions_signed_in_with_it() {
    let app = spawn_api_app();
    let session = sign_in(&app, &app.read);
    let cookie = Some(session.cookie.as_str());
    assert_eq!(
        send(&app, "GET", "/v1/licenses", cookie, None, None).status,
        200
    );
    let id = session.body["token_id"].as_str().expect("token id");
    let revoked = app.request(
        "DELETE",
        &format!("/v1/tokens/{id}"),
        Some(&app.write),
        None,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(
        send(&app, "GET", "/v1/licenses", cookie, None, None).status,
        401
    );
}

#[test]
fn the_console_is_served_with_a_strict_content_security_policy() {
    let app = spawn_api_app();
    for path in [
        "/console",
        "/console/",
        "/console/assets/app.js",
        "/console/assets/console.css",
    ] {
        let url = format!("{}{path}", app.app.base_url());
        let response = app.app.agent().get(&url).call().expect(path);
        let csp = response.header("Content-Security-Policy").expect("CSP");
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(response.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(response.header("X-Frame-Options"), Some("DENY"));
    }
    for missing in [
        "/console/assets/nothing.js",
        "/console/assets/../../Cargo.toml",
    ] {
        let url = format!("{}{missing}", app.app.base_url());
        match app.app.agent().get(&url).call() {
            Err(ureq::Error::Status(404, _)) => {}
            other => panic!("{missing}: {:?}", other.map(|r| r.status())),
        }
    }
}

#[test]
fn stats_count_licenses_by_state_and_per_day_for_a_read_token() {
    let app = spawn_api_app();
    let kept = license_for(&app, "Kept");
    let revoked = license_for(&app, "Gone");
    let id = revoked["license_id"].as_str().expect("id");
    let reply = app.post(
        &format!("/v1/licenses/{id}/revoke"),
        &app.write,
        json!({ "reason": "refund" }),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let stats = app.get("/v1/stats?days=7", &app.read);
    assert_eq!(stats.status, 200, "{}", stats.text);
    let days = stats.body["days"].as_array().expect("days");
    assert_eq!(days.len(), 7);
    let today = &days[6];
    assert_eq!(today["date"], chrono::Utc::now().date_naive().to_string());
    assert_eq!(today["licenses_issued"], 2);
    assert!(today["marketplace_events"].as_u64() >= Some(2), "{today}");
    assert_eq!(stats.body["licenses_by_status"]["active"], 1);
    assert_eq!(stats.body["licenses_by_status"]["revoked"], 1);
    assert_eq!(stats.body["outbox"]["pending"], 0);
    assert!(kept["license_id"].is_string());
    for bad in [
        "/v1/stats?days=0",
        "/v1/stats?days=367",
        "/v1/stats?extra=1",
    ] {
        assert_eq!(app.get(bad, &app.read).status, 400, "{bad}");
    }
    assert_eq!(app.request("GET", "/v1/stats", None, None).status, 401);
}
