//! The console in a real browser, as a merchant uses it and as a hostile customer or a read-only
//! colleague would try it.

use serde_json::{json, Value};

use super::driver::Browser;
use super::{license_for, HOSTILE_NAME};
use crate::api::{spawn_api_app, ApiApp};

/// Opens the console and signs in with `token`.
fn signed_in(app: &ApiApp, test: &str, token: &str) -> Option<Browser> {
    signed_in_at(&app.app.base_url(), test, token)
}

/// Opens the console at `base` (the service address) and signs in with `token`.
pub(super) fn signed_in_at(base: &str, test: &str, token: &str) -> Option<Browser> {
    let browser = Browser::start(test)?;
    browser.goto(&format!("{base}/console#/overview"));
    browser.type_into("#token", token);
    browser.click("#signin");
    browser.wait_for("#signout");
    Some(browser)
}

/// A `fetch` from the page; returns the HTTP status.
pub(super) fn fetch_status(
    browser: &Browser,
    method: &str,
    path: &str,
    csrf: Option<&str>,
    body: Value,
) -> u64 {
    let status = browser.execute(
        "const [method, path, csrf, body] = arguments;
         const headers = { 'Content-Type': 'application/json' };
         if (csrf !== null) headers['X-CSRF-Token'] = csrf;
         return fetch(path, { method, headers, body: method === 'GET' ? undefined : JSON.stringify(body), credentials: 'same-origin' })
           .then((r) => r.status);",
        vec![json!(method), json!(path), json!(csrf), body],
    );
    status.as_u64().expect("a status")
}

/// The page's own CSRF token, as the console's script sees it.
pub(super) fn page_csrf(browser: &Browser) -> String {
    let session = browser.execute(
        "return fetch('/console/session', { credentials: 'same-origin' }).then((r) => r.json());",
        vec![],
    );
    session["csrf_token"].as_str().expect("csrf").to_owned()
}

#[test]
fn a_merchant_signs_in_finds_an_order_opens_its_license_and_revokes_it() {
    let app = spawn_api_app();
    let _other = license_for(&app, "Globex");
    let license = license_for(&app, "Initech");
    let order = license["order_id"].as_str().expect("order");
    let Some(browser) = signed_in(&app, "console revoke", &app.write) else {
        return;
    };
    browser.wait_for("#kpi-active");
    browser.click("a[data-page=licenses]");
    browser.type_into("#f-order_id", order);
    browser.click("#licenses-search");
    browser.wait_for_text("#licenses-table tbody tr .customer-name", "Initech");
    assert_eq!(
        browser.count("#licenses-table tbody tr"),
        1,
        "only the order searched"
    );
    browser.click("#licenses-table tbody tr a");
    browser.wait_for_text("#license-status", "active");
    browser.click("button[data-action=revoke]");
    browser.type_into("#confirm-dialog textarea[name=reason]", "chargeback");
    browser.click("#confirm-button");
    browser.wait_for_text("#license-status", "revoked");
    browser.wait_for_text("#status-reason", "chargeback");
    assert_eq!(app.license_of_order(order)["status"], "revoked");
    assert_eq!(
        app.license_of_order(_other["order_id"].as_str().expect("order"))["status"],
        "active"
    );
}

#[test]
fn a_hostile_customer_name_is_shown_as_text_and_never_runs() {
    let app = spawn_api_app();
    let license = license_for(&app, HOSTILE_NAME);
    let id = license["license_id"].as_str().expect("id");
    let Some(browser) = signed_in(&app, "console hostile name", &app.read) else {
        return;
    };
    browser.goto(&format!("{}/console#/licenses", app.app.base_url()));
    browser.wait_for_text("#licenses-table .customer-name", HOSTILE_NAME);
    browser.goto(&format!("{}/console#/licenses/{id}", app.app.base_url()));
    browser.wait_for_text("#customer-name", HOSTILE_NAME);
    browser.wait_for_text(".page-head h1", HOSTILE_NAME);
    assert_eq!(browser.count("img"), 0, "the name became markup");
    assert!(!browser.alert_open(), "the name ran as script");
}

#[test]
fn a_read_token_gets_a_read_only_console_and_the_server_refuses_its_changes() {
    let app = spawn_api_app();
    let license = license_for(&app, "Umbrella");
    let id = license["license_id"].as_str().expect("id");
    let Some(browser) = signed_in(&app, "console read-only", &app.read) else {
        return;
    };
    browser.wait_for_text("#scope", "read only");
    browser.goto(&format!("{}/console#/licenses/{id}", app.app.base_url()));
    browser.wait_for("#read-only-note");
    assert_eq!(
        browser.count("button[data-action]"),
        0,
        "no action is offered"
    );
    browser.goto(&format!("{}/console#/tokens", app.app.base_url()));
    browser.wait_for("#tokens-read-only");
    let csrf = page_csrf(&browser);
    let revoke = format!("/v1/licenses/{id}/revoke");
    assert_eq!(
        fetch_status(
            &browser,
            "POST",
            &revoke,
            Some(&csrf),
            json!({ "reason": "x" })
        ),
        403
    );
    let tokens = json!({ "name": "escalate", "scopes": ["write"] });
    assert_eq!(
        fetch_status(&browser, "POST", "/v1/tokens", Some(&csrf), tokens),
        403
    );
    assert_eq!(
        app.license_of_order(license["order_id"].as_str().expect("order"))["status"],
        "active"
    );
}

#[test]
fn a_change_without_the_csrf_token_is_refused_in_the_browser() {
    let app = spawn_api_app();
    let license = license_for(&app, "Hooli");
    let id = license["license_id"].as_str().expect("id");
    let Some(browser) = signed_in(&app, "console csrf", &app.write) else {
        return;
    };
    let suspend = format!("/v1/licenses/{id}/suspend");
    assert_eq!(
        fetch_status(&browser, "POST", &suspend, None, json!({})),
        403
    );
    assert_eq!(
        fetch_status(&browser, "POST", &suspend, Some("guess"), json!({})),
        403
    );
    assert_eq!(
        app.license_of_order(license["order_id"].as_str().expect("order"))["status"],
        "active"
    );
    let csrf = page_csrf(&browser);
    assert_eq!(
        fetch_status(&browser, "POST", &suspend, Some(&csrf), json!({})),
        200
    );
}

#[test]
fn signing_out_ends_the_session_in_the_browser() {
    let app = spawn_api_app();
    let Some(browser) = signed_in(&app, "console sign-out", &app.write) else {
        return;
    };
    assert_eq!(
        fetch_status(&browser, "GET", "/v1/licenses", None, Value::Null),
        200
    );
    let cookie = browser.execute("return document.cookie;", vec![]);
    assert_eq!(cookie, json!(""), "scripts never see the session cookie");
    browser.click("#signout");
    browser.wait_for("#signin-form");
    assert_eq!(
        fetch_status(&browser, "GET", "/v1/licenses", None, Value::Null),
        401
    );
}

#[test]
fn the_downloaded_license_file_is_the_armoured_form_the_verifier_reads() {
    let app = spawn_api_app();
    let license = license_for(&app, "Vandelay");
    let token = license["token"].as_str().expect("token");
    let Some(browser) = signed_in(&app, "console license file", &app.read) else {
        return;
    };
    let file = browser.execute(
        "return import('/console/assets/page-license.js').then((m) => m.armor(arguments[0]));",
        vec![json!(token)],
    );
    let file = file.as_str().expect("text");
    assert_eq!(file, koolicense_verify::armor_license(token));
    let claims = app.app.verify(file);
    assert_eq!(
        claims.license_id.to_string(),
        license["license_id"].as_str().expect("id")
    );
}
