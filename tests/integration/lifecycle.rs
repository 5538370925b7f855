//! What happens to a license after getLicense: renewal, freeze and unfreeze, release, upgrade,
//! each idempotent per the key §8.1 names.

use crate::helpers::{
    spawn_app, stored_license, try_spawn, unique, unix_of, Order, TestApp, SYS_PRODUCT,
};

/// Provisions an order expiring 2030-01-01 and returns (order, instanceId, license).
fn provisioned(app: &TestApp, order: Order) -> (Order, String, String) {
    let order = order.with("expireTime", "20300101000000");
    let answer = app.provision(&order);
    (
        order,
        answer.instance_id().to_owned(),
        answer.license().to_owned(),
    )
}

fn renew(app: &TestApp, activity: &str, instance: &str, order_id: &str, expire: &str) {
    app.call(
        activity,
        &[
            ("orderId", order_id),
            ("instanceId", instance),
            ("expireTime", expire),
        ],
    )
    .expect("000000");
}

/// The current license of an order, as a repeated getLicense returns it.
fn current(app: &TestApp, order: &Order) -> String {
    app.provision(order).license().to_owned()
}

/// Provisions an order whose validity ends now, so an expire for it is due (not stale).
fn provisioned_due(app: &TestApp) -> (Order, String, String) {
    let now = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let order = Order::new().with("expireTime", &now);
    let answer = app.provision(&order);
    (
        order,
        answer.instance_id().to_owned(),
        answer.license().to_owned(),
    )
}

#[test]
fn refresh_license_issues_a_new_revision_that_get_license_then_returns() {
    let app = spawn_app();
    let (order, instance, first) = provisioned(&app, Order::new());
    let before = app.verify(&first);
    renew(
        &app,
        "refreshLicense",
        &instance,
        "RENEW-1",
        "20310101000000",
    );

    let renewed = app.provision(&order);
    assert_eq!(renewed.instance_id(), instance);
    assert_ne!(renewed.license(), first);
    let after = app.verify(renewed.license());
    assert_eq!(after.revision, before.revision + 1);
    assert_eq!(after.license_id, before.license_id);
    assert_eq!(after.expires_at, Some(unix_of("20310101000000")));
    assert_eq!(app.license_count(), 1);
}

#[test]
fn refresh_instance_renews_like_refresh_license() {
    let app = spawn_app();
    let (order, instance, _) = provisioned(&app, Order::new());
    renew(
        &app,
        "refreshInstance",
        &instance,
        "RENEW-1",
        "20320101000000",
    );
    let claims = app.verify(&current(&app, &order));
    assert_eq!(claims.expires_at, Some(unix_of("20320101000000")));
    assert_eq!(claims.revision, 2);
}

#[test]
fn repeating_a_renewal_order_changes_nothing() {
    let app = spawn_app();
    let (order, instance, _) = provisioned(&app, Order::new());
    renew(
        &app,
        "refreshLicense",
        &instance,
        "RENEW-1",
        "20310101000000",
    );
    let renewed = current(&app, &order);
    for _ in 0..2 {
        renew(
            &app,
            "refreshLicense",
            &instance,
            "RENEW-1",
            "20310101000000",
        );
        assert_eq!(current(&app, &order), renewed);
    }
}

#[test]
fn an_older_renewal_replayed_after_a_newer_one_does_not_roll_back() {
    let app = spawn_app();
    let (order, instance, _) = provisioned(&app, Order::new());
    renew(
        &app,
        "refreshLicense",
        &instance,
        "RENEW-1",
        "20310101000000",
    );
    renew(
        &app,
        "refreshLicense",
        &instance,
        "RENEW-2",
        "20320101000000",
    );
    let newest = current(&app, &order);
    renew(
        &app,
        "refreshLicense",
        &instance,
        "RENEW-1",
        "20310101000000",
    );
    assert_eq!(current(&app, &order), newest);
    let claims = app.verify(&newest);
    assert_eq!(claims.expires_at, Some(unix_of("20320101000000")));
    assert_eq!(claims.revision, 3);
}

#[test]
fn a_renewal_that_changes_the_product_is_recorded() {
    let app = spawn_app();
    let (order, instance, _) = provisioned(&app, Order::new());
    app.call(
        "refreshLicense",
        &[
            ("orderId", "RENEW-YEARLY"),
            ("instanceId", &instance),
            ("expireTime", "20310101000000"),
            ("productId", "P-SYS-YEARLY"),
            ("periodType", "year"),
            ("periodNumber", "1"),
        ],
    )
    .expect("000000");
    let claims = app.verify(&current(&app, &order));
    assert_eq!(claims.product_id, "P-SYS-YEARLY");

    let data = app.data_dir.clone();
    let _dir = app.stop();
    let record = stored_license(&data, &instance);
    assert_eq!(record["product_id"], "P-SYS-YEARLY");
    assert_eq!(record["previous_product_ids"][0], SYS_PRODUCT);
}

#[test]
fn trial_to_formal_clears_the_trial_flag() {
    let app = spawn_app();
    let (order, instance, trial) = provisioned(&app, Order::new().with("trialFlag", "1"));
    assert!(app.verify(&trial).trial);
    app.call(
        "refreshInstance",
        &[
            ("orderId", "TRIAL-TO-FORMAL"),
            ("instanceId", &instance),
            ("expireTime", "20310101000000"),
            ("trialToFormal", "1"),
        ],
    )
    .expect("000000");
    let claims = app.verify(&current(&app, &order));
    assert!(!claims.trial);
    assert_eq!(claims.expires_at, Some(unix_of("20310101000000")));
}

#[test]
fn expiring_freezes_and_normal_unfreezes_idempotently() {
    let app = spawn_app();
    let (_, by_license, _) = provisioned_due(&app);
    let (_, by_instance, _) = provisioned_due(&app);
    let (_, by_status, _) = provisioned(&app, Order::new());
    for _ in 0..2 {
        app.call(
            "expireLicense",
            &[("orderId", "ORDER"), ("instanceId", &by_license)],
        )
        .expect("000000");
        app.call("expireInstance", &[("instanceId", &by_instance)])
            .expect("000000");
        app.call(
            "instanceStatus",
            &[("instanceId", &by_status), ("instanceStatus", "FREEZE")],
        )
        .expect("000000");
    }
    let data = app.data_dir.clone();
    let dir = app.stop();
    for instance in [&by_license, &by_instance, &by_status] {
        assert_eq!(stored_license(&data, instance)["status"], "frozen");
    }

    let app = try_spawn(Default::default(), dir).expect("restart");
    for instance in [&by_license, &by_instance, &by_status] {
        for _ in 0..2 {
            app.call(
                "instanceStatus",
                &[("instanceId", instance), ("instanceStatus", "NORMAL")],
            )
            .expect("000000");
        }
    }
    let dir = app.stop();
    for instance in [&by_license, &by_instance, &by_status] {
        assert_eq!(stored_license(&data, instance)["status"], "active");
    }
    drop(dir);
}

#[test]
fn a_renewal_unfreezes_a_frozen_license() {
    let app = spawn_app();
    let (order, instance, _) = provisioned_due(&app);
    app.call("expireLicense", &[("instanceId", &instance)])
        .expect("000000");
    renew(
        &app,
        "refreshLicense",
        &instance,
        "RENEW-1",
        "20310101000000",
    );
    let claims = app.verify(&current(&app, &order));
    assert_eq!(claims.expires_at, Some(unix_of("20310101000000")));
    let data = app.data_dir.clone();
    let _dir = app.stop();
    let record = stored_license(&data, &instance);
    assert_eq!(record["status"], "active");
}

#[test]
fn releasing_twice_succeeds_and_leaves_a_released_tombstone() {
    let app = spawn_app();
    let (_, by_license, _) = provisioned(&app, Order::new());
    let (_, by_instance, _) = provisioned(&app, Order::new());
    for _ in 0..2 {
        app.call(
            "releaseLicense",
            &[("orderId", "ORDER"), ("instanceId", &by_license)],
        )
        .expect("000000");
        app.call("releaseInstance", &[("instanceId", &by_instance)])
            .expect("000000");
    }
    let data = app.data_dir.clone();
    let _dir = app.stop();
    assert_eq!(stored_license(&data, &by_license)["status"], "released");
    assert_eq!(stored_license(&data, &by_instance)["status"], "released");
}

#[test]
fn releasing_an_unknown_instance_is_000003() {
    let app = spawn_app();
    for activity in ["releaseLicense", "releaseInstance"] {
        app.call(
            activity,
            &[("orderId", "ORDER"), ("instanceId", &unique("no-such-"))],
        )
        .expect("000003");
    }
}

#[test]
fn renewing_or_upgrading_after_release_is_000003() {
    let app = spawn_app();
    let (_, instance, _) = provisioned(&app, Order::new());
    app.call("releaseLicense", &[("instanceId", &instance)])
        .expect("000000");
    app.call(
        "refreshLicense",
        &[
            ("orderId", "RENEW-1"),
            ("instanceId", &instance),
            ("expireTime", "20310101000000"),
        ],
    )
    .expect("000003");
    app.call(
        "upgrade",
        &[
            ("orderId", "UPGRADE-1"),
            ("instanceId", &instance),
            ("skuCode", "sku-2"),
            ("productId", SYS_PRODUCT),
        ],
    )
    .expect("000003");
}

#[test]
fn upgrade_issues_a_new_token_with_the_new_quantity_once_per_order() {
    let app = spawn_app();
    let (order, instance, first) = provisioned(
        &app,
        Order::new().with("skuCode", "sku-5").with("amount", "5"),
    );
    assert_eq!(app.verify(&first).quantity, Some(5));
    let upgrade = |order_id: &str, sku: &str, product: &str, amount: &str| {
        app.call(
            "upgrade",
            &[
                ("orderId", order_id),
                ("instanceId", &instance),
                ("skuCode", sku),
                ("productId", product),
                ("amount", amount),
            ],
        )
        .expect("000000");
    };
    upgrade("UPGRADE-1", "sku-10", "P-SYS-PLUS", "10");
    let upgraded = current(&app, &order);
    let claims = app.verify(&upgraded);
    assert_eq!(claims.quantity, Some(10));
    assert_eq!(claims.sku_code.as_deref(), Some("sku-10"));
    assert_eq!(claims.product_id, "P-SYS-PLUS");
    assert_eq!(claims.revision, 2);
    assert_eq!(claims.expires_at, Some(unix_of("20300101000000")));

    // The same upgrade order again (even with other values) is not applied twice.
    upgrade("UPGRADE-1", "sku-10", "P-SYS-PLUS", "10");
    upgrade("UPGRADE-1", "sku-20", "P-SYS-PLUS", "20");
    assert_eq!(current(&app, &order), upgraded);
}
