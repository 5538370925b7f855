//! Every page of the console drawn in the browser with a month of data: each must show its
//! content. With `KOOLICENSE_SCREENSHOTS=1` the pictures are written to `docs/console/` (shown
//! in `docs/console.md`).

use std::path::PathBuf;

use serde_json::json;

use super::driver::Browser;
use super::{license_for, HOSTILE_NAME};
use crate::api::{spawn_api_app, ApiApp};
use crate::helpers::wait_until_released;

const CUSTOMERS: &[&str] = &[
    "Shenzhen Lianchuang Tech",
    "Hangzhou Yunfan Data",
    "Nanjing Beiyu Software",
    "Chengdu Tianfu Cloud",
    "Wuhan Guanggu Systems",
    "Xi'an Qinling Analytics",
    "Suzhou Gusu Networks",
    "Beijing Zhongguancun AI",
];

/// Moves each license's creation (and its audit events) `days_back(i)` days into the past, so
/// the charts show a month. Rewrites the stopped app's database.
fn spread_over_a_month(data_dir: &std::path::Path, order: &[String]) {
    let shift: std::collections::HashMap<String, i64> = order
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), ((i * 7) % 29) as i64 + i64::from(i % 3 == 0)))
        .collect();
    let storage = crate::support::storage_of(data_dir);
    // The stopped app's worker may release the database a moment after it reports stopped.
    wait_until_released(data_dir);
    koolicense::store_support::backdate(&storage, &shift).expect("backdate");
}

/// An app holding a month of licenses in every state.
fn a_month_of_licenses() -> (ApiApp, String) {
    let app = spawn_api_app();
    let mut ids = Vec::new();
    let mut instances = Vec::new();
    for i in 0..46 {
        let license = license_for(&app, CUSTOMERS[i % CUSTOMERS.len()]);
        ids.push(license["license_id"].as_str().expect("id").to_owned());
        instances.push(
            license["instance_id"]
                .as_str()
                .expect("instance")
                .to_owned(),
        );
    }
    let hostile = license_for(&app, HOSTILE_NAME)["license_id"]
        .as_str()
        .expect("id")
        .to_owned();
    for (i, id) in ids.iter().enumerate() {
        let action = match i % 11 {
            3 => Some(("suspend", "payment overdue")),
            7 => Some(("revoke", "refunded at the marketplace")),
            _ => None,
        };
        if let Some((action, reason)) = action {
            let reply = app.post(
                &format!("/v1/licenses/{id}/{action}"),
                &app.write,
                json!({ "reason": reason }),
            );
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
    }
    // Three calls the service rejects, as the marketplace might send them.
    for order in ["CS-LATE-1", "CS-LATE-2"] {
        app.app
            .call(
                "expireLicense",
                &[("instanceId", "unknown-instance"), ("orderId", order)],
            )
            .expect("000003");
    }
    let instance = &instances[0];
    app.app
        .call(
            "refreshLicense",
            &[("instanceId", instance), ("expireTime", "20350101000000")],
        )
        .expect("000002");
    let featured = ids[5].clone();
    let reply = app.post(
        &format!("/v1/licenses/{featured}/expiry"),
        &app.write,
        json!({ "expires_at": "2027-06-30T00:00:00Z", "reason": "extended after renewal" }),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let ApiApp {
        app: running,
        write,
        read,
    } = app;
    let data_dir = running.data_dir.clone();
    let config = running.config.clone();
    let dir = running.stop();
    spread_over_a_month(&data_dir, &ids);
    let running = crate::helpers::try_spawn(config, dir).expect("restart");
    let _ = hostile;
    (
        ApiApp {
            app: running,
            write,
            read,
        },
        featured,
    )
}

pub(super) fn save(browser: &Browser, name: &str) {
    if std::env::var("KOOLICENSE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join("console");
    std::fs::create_dir_all(&dir).expect("docs/console");
    std::fs::write(dir.join(format!("{name}.png")), browser.screenshot())
        .expect("write screenshot");
}

#[test]
fn every_page_of_the_console_shows_its_content() {
    let (app, featured) = a_month_of_licenses();
    let Some(browser) = Browser::start("console pages") else {
        return;
    };
    let base = format!("{}/console", app.app.base_url());
    browser.goto(&base);
    browser.wait_for("#signin-form");
    save(&browser, "sign-in");
    browser.type_into("#token", &app.write);
    browser.click("#signin");
    browser.wait_for("#kpi-active .kpi-value");
    browser.wait_for_text("#kpi-active .kpi-value", "39");
    browser.wait_for_text("#kpi-failed .kpi-value", "3 / 5");
    save(&browser, "overview");
    browser.execute(
        "window.violations = [];
         document.addEventListener('securitypolicyviolation', (e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));",
        vec![],
    );
    let pages: &[(&str, &str, &str)] = &[
        ("licenses", "#/licenses", "#licenses-table tbody tr"),
        ("license", &format!("#/licenses/{featured}"), "#timeline li"),
        ("audit", "#/audit", "#audit-table tbody tr"),
        (
            "failed-calls",
            "#/calls",
            "#calls-unavailable, #calls-table, #calls-table-empty",
        ),
        ("outbox", "#/outbox", "#outbox-table, #outbox-table-empty"),
        ("tokens", "#/tokens", "#tokens-table tbody tr"),
        ("keys", "#/keys", ".key-card pre"),
    ];
    for (name, hash, content) in pages {
        browser.goto(&format!("{base}{hash}"));
        browser.wait_for(content);
        save(&browser, name);
    }
    browser.goto(&format!("{base}#/licenses/{featured}"));
    browser.click("button[data-action=reissue]");
    browser.wait_for("#confirm-dialog select[name=kind]");
    save(&browser, "confirm-reissue");
    browser.click("#confirm-dialog button[value=cancel]");
    browser.click("a[data-page=overview]");
    browser.wait_for("#kpi-active .kpi-value");
    browser.click("#lang-switch");
    browser.wait_for_text("a[data-page=overview]", "概览");
    browser.wait_for("#kpi-active .kpi-value");
    save(&browser, "overview-zh");
    browser.click("#lang-switch");
    browser.wait_for_text("a[data-page=overview]", "Overview");
    let violations = browser.execute("return window.violations;", vec![]);
    assert_eq!(
        violations,
        json!([]),
        "the pages break their Content-Security-Policy"
    );
    // The detector itself works: an inline style is a reported violation.
    let caught = browser.execute(
        "const probe = document.createElement('div');
         probe.setAttribute('style', 'color: red');
         document.body.append(probe);
         return new Promise((done) => setTimeout(() => done(window.violations.length), 200));",
        vec![],
    );
    assert_eq!(caught, json!(1), "an inline style was not reported");
}
