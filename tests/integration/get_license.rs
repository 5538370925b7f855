//! getLicense (License 1.0 provisioning): what the license says, how it is bound, and that the
//! same order always gets the same license.

use std::sync::{Arc, Barrier};

use koolicense_verify::{Binding, Error, HardwareId, Host};

use crate::helpers::{spawn_app, unix_of, Order, FLOAT_PRODUCT, HW_PRODUCT};

const MACHINE: &str = "00:1A:2B:3C:4D:5E|S3Z9NB0K|BSN123|BFEBFBFF00050657";
const OTHER_MACHINE: &str = "AA:BB:CC:DD:EE:01|DISK-OTHER|BOARD-OTHER|CPU-OTHER";

#[test]
fn get_license_returns_a_license_that_verifies_and_carries_the_order() {
    let app = spawn_app();
    let order = Order::new()
        // Signed over the decoded UTF-8 value, whatever URL encoding made of it.
        .with("customerName", "华为云 测试+&=%")
        .with("skuCode", "sku-gold")
        .with("amount", "30")
        .with("chargingMode", "1")
        .with("periodType", "year")
        .with("periodNumber", "1")
        .with("expireTime", "20300101000000");
    let answer = app.provision(&order);
    assert!(!answer.instance_id().is_empty());
    assert_eq!(answer.json["resultMsg"], "success.");

    let claims = app.verify(answer.license());
    assert_eq!(claims.order_id.as_deref(), Some(order.order_id.as_str()));
    assert_eq!(claims.product_id, order.product_id);
    assert_eq!(
        claims.customer_id.as_deref(),
        Some(order.customer_id.as_str())
    );
    assert_eq!(claims.instance_id.as_deref(), Some(answer.instance_id()));
    assert_eq!(claims.sku_code.as_deref(), Some("sku-gold"));
    assert_eq!(claims.quantity, Some(30));
    assert_eq!(claims.expires_at, Some(unix_of("20300101000000")));
    assert_eq!(claims.revision, 1);
    assert!(!claims.trial);
    assert!(!claims.test);
    assert_eq!(app.license_count(), 1);
}

#[test]
fn a_hardware_bound_license_verifies_on_that_machine_only() {
    let app = spawn_app();
    let answer = app.provision(
        &Order::new()
            .product(HW_PRODUCT)
            .identifier(Some(MACHINE))
            .with("expireTime", "20300101000000"),
    );
    let verifier = app.verifier();
    let machine = HardwareId::parse(MACHINE).expect("hwid");
    let host = Host {
        hardware: Some(&machine),
        system_identifier: None,
    };
    let claims = verifier
        .verify_on_now(answer.license(), &host)
        .expect("verifies on the machine it was bound to");
    assert!(matches!(claims.binding, Binding::Hardware(_)));

    // One replaced part (a new disk) still matches 3 of 4 components.
    let repaired =
        HardwareId::parse("00:1A:2B:3C:4D:5E|NEWDISK|BSN123|BFEBFBFF00050657").expect("hwid");
    let host = Host {
        hardware: Some(&repaired),
        system_identifier: None,
    };
    verifier
        .verify_on_now(answer.license(), &host)
        .expect("one replaced part is tolerated");

    let other = HardwareId::parse(OTHER_MACHINE).expect("hwid");
    let host = Host {
        hardware: Some(&other),
        system_identifier: None,
    };
    let err = verifier
        .verify_on_now(answer.license(), &host)
        .expect_err("another machine is refused");
    assert!(matches!(err, Error::HardwareMismatch { .. }), "{err}");
}

#[test]
fn a_system_bound_license_verifies_with_its_identification_code_only() {
    let app = spawn_app();
    let answer = app.provision(&Order::new().identifier(Some("SYSCODE-4711")));
    let verifier = app.verifier();
    let claims = verifier
        .verify_on_now(
            answer.license(),
            &Host {
                hardware: None,
                system_identifier: Some("SYSCODE-4711"),
            },
        )
        .expect("verifies with its system identifier");
    assert!(matches!(
        claims.binding,
        Binding::System(_) | Binding::SystemDigest(_)
    ));
    let err = verifier
        .verify_on_now(
            answer.license(),
            &Host {
                hardware: None,
                system_identifier: Some("SYSCODE-4712"),
            },
        )
        .expect_err("another system identifier is refused");
    assert!(matches!(err, Error::SystemIdentifierMismatch), "{err}");
}

#[test]
fn a_one_time_purchase_gets_a_perpetual_license() {
    let app = spawn_app();
    let answer = app.provision(&Order::new().with("chargingMode", "3"));
    let claims = app.verify(answer.license());
    assert!(claims.is_perpetual(), "{claims:?}");
}

#[test]
fn a_periodic_purchase_without_expire_time_gets_its_expiry_from_the_period() {
    let app = spawn_app();
    let before = chrono::Utc::now();
    let answer = app.provision(
        &Order::new()
            .with("chargingMode", "1")
            .with("periodType", "month")
            .with("periodNumber", "3"),
    );
    let after = chrono::Utc::now();
    let claims = app.verify(answer.license());
    let expires = claims.expires_at.expect("a periodic license expires");
    let bound = |t: chrono::DateTime<chrono::Utc>| {
        let end = t
            .checked_add_months(chrono::Months::new(3))
            .expect("in range");
        u64::try_from(end.timestamp()).expect("after 1970")
    };
    assert!(
        (bound(before) - 1..=bound(after) + 1).contains(&expires),
        "{expires} not three months from now"
    );
}

#[test]
fn a_purchase_with_a_period_but_no_charging_mode_is_not_perpetual() {
    // chargingMode is optional in the spec while periodType is only ever sent for periodic
    // orders: the period must not be ignored and the license left perpetual.
    let app = spawn_app();
    let answer = app.provision(
        &Order::new()
            .with("periodType", "year")
            .with("periodNumber", "1"),
    );
    let claims = app.verify(answer.license());
    let expires = claims.expires_at.expect("a periodic license expires");
    let in_a_year = chrono::Utc::now()
        .checked_add_months(chrono::Months::new(12))
        .expect("in range")
        .timestamp();
    assert!(
        (i64::try_from(expires).expect("fits") - in_a_year).abs() < 60,
        "{expires}"
    );
}

#[test]
fn a_trial_order_gets_a_trial_license() {
    let app = spawn_app();
    let answer = app.provision(
        &Order::new()
            .with("trialFlag", "1")
            .with("expireTime", "20300101000000"),
    );
    assert!(app.verify(answer.license()).trial);
}

#[test]
fn a_floating_product_needs_no_identifier() {
    let app = spawn_app();
    let answer = app.provision(&Order::new().product(FLOAT_PRODUCT).identifier(None));
    assert_eq!(app.verify(answer.license()).binding, Binding::None);
}

#[test]
fn get_license_twice_returns_identical_license() {
    let app = spawn_app();
    let order = Order::new().with("expireTime", "20300101000000");
    let first = app.provision(&order);
    for _ in 0..3 {
        // Every call carries a new businessId and timeStamp, as marketplace retries do.
        let again = app.provision(&order);
        assert_eq!(again.instance_id(), first.instance_id());
        assert_eq!(again.license(), first.license());
        assert_eq!(again.body, first.body);
    }
    assert_eq!(app.license_count(), 1);
}

#[test]
fn fifty_identical_get_license_calls_at_once_create_one_license() {
    let app = spawn_app();
    let order = Order::new().with("expireTime", "20300101000000");
    let barrier = Arc::new(Barrier::new(50));
    let answers: Vec<(String, String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                let (app, order) = (&app, &order);
                s.spawn(move || {
                    let params = order.params();
                    barrier.wait();
                    let answer = app.call_params(&params);
                    (
                        answer.code().to_owned(),
                        answer.json["instanceId"].as_str().unwrap_or("").to_owned(),
                        answer.json["license"].as_str().unwrap_or("").to_owned(),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    assert!(answers.iter().all(|(code, _, _)| code == "000000"));
    let instances: std::collections::BTreeSet<_> = answers.iter().map(|a| &a.1).collect();
    let licenses: std::collections::BTreeSet<_> = answers.iter().map(|a| &a.2).collect();
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert_eq!(licenses.len(), 1);
    assert_eq!(app.license_count(), 1);
    app.verify(&answers[0].2);
}

#[test]
fn test_flag_calls_are_served_with_test_licenses_that_real_software_refuses() {
    let app = spawn_app();
    let answer = app.provision(&Order::new().with("testFlag", "1"));
    let now = koolicense_verify::unix_now();
    assert_eq!(
        app.verifier().verify(answer.license(), now),
        Err(koolicense_verify::Error::TestLicense)
    );
    let claims = app
        .verifier()
        .allow_test_licenses()
        .verify(answer.license(), now)
        .expect("a test build accepts it");
    assert!(claims.test);
}

#[test]
fn the_service_names_of_the_saas_interface_provision_too() {
    // newInstance is the SaaS V1 name of the same operation; it needs no identifier.
    let app = spawn_app();
    let order = Order::new().product(FLOAT_PRODUCT).identifier(None);
    let mut params = order.params();
    params[0].1 = "newInstance".into();
    let answer = app.call_params(&params);
    answer.expect("000000");
    let again = app.get_license(&order);
    again.expect("000000");
    assert_eq!(again.instance_id(), answer.instance_id());
}
