//! A floating license's page in the console lists the machines holding its seats now, as
//! digests: the merchant sees who uses the seats, and no machine's identifier is shown.

use serde_json::json;

use super::pages::signed_in_at;
use crate::api::spawn_api_app;
use crate::helpers::{Order, SEATS_PRODUCT};

#[test]
fn a_floating_license_page_lists_the_machines_holding_its_seats_as_digests() {
    let app = spawn_api_app();
    let order = Order::new()
        .product(SEATS_PRODUCT)
        .identifier(None)
        .with("amount", "3")
        .with("expireTime", "20400101000000");
    let license = app.app.provision(&order).license().to_owned();
    let machines = ["SYS-CONSOLE-SEAT-ONE", "SYS-CONSOLE-SEAT-TWO"];
    for machine in machines {
        let lease = app.request(
            "POST",
            "/v1/leases",
            None,
            Some(json!({"license": license, "machine": machine})),
        );
        assert_eq!(lease.status, 200, "{}", lease.text);
    }
    let id = app.license_of_order(&order.order_id)["license_id"]
        .as_str()
        .expect("license id")
        .to_owned();
    let held = app.request(
        "GET",
        &format!("/v1/licenses/{id}/leases"),
        Some(&app.read),
        None,
    );
    assert_eq!(held.status, 200, "{}", held.text);
    let base = app.app.base_url();
    let Some(browser) = signed_in_at(&base, "console seats in use", &app.read) else {
        return;
    };
    browser.goto(&format!("{base}/console#/licenses/{id}"));
    browser.wait_for_text("#seats-in-use", "2 of 3 seats in use.");
    assert_eq!(browser.count("#held-leases tbody tr"), 2);
    let page = browser.page_text();
    for lease in held.body["leases"].as_array().expect("leases") {
        let digest = lease["machine_sha256"].as_str().expect("digest");
        assert!(page.contains(&digest[digest.len() - 16..]), "{page}");
    }
    for machine in machines {
        assert!(!page.contains(machine), "an identifier is shown: {page}");
    }
}
