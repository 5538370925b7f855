//! Every result code the service answers with (§7), still as HTTP 200 JSON with a valid
//! Body-Sign, and nothing stored for a rejected call.

use crate::helpers::{
    corrupt_stored_license, spawn_app, try_spawn, unique, Order, TestApp, HW_PRODUCT, SYS_PRODUCT,
};
use crate::market::{self, encode_query, signed_query};

/// A getLicense query signed with `key` (the app's key unless a test says otherwise).
fn get_license_query(key: &str, order: &Order) -> String {
    signed_query(key, &order.params())
}

#[test]
fn a_missing_auth_token_is_000001() {
    let app = spawn_app();
    app.send(&encode_query(&Order::new().params()))
        .expect("000001");
    // An empty one too.
    let query = format!("{}&authToken=", encode_query(&Order::new().params()));
    app.send(&query).expect("000001");
}

#[test]
fn a_call_signed_with_a_wrong_key_is_000001() {
    let app = spawn_app();
    let answer = app.send(&get_license_query("not-the-key", &Order::new()));
    answer.expect("000001");
    assert_eq!(answer.json["resultMsg"], "authentication failed");
}

#[test]
fn a_parameter_tampered_after_signing_is_000001() {
    let app = spawn_app();
    let order = Order::new();
    let query = get_license_query(&app.key, &order);
    let tampered = query.replace(&order.order_id, "CS-SOMEONE-ELSES-ORDER");
    assert_ne!(tampered, query);
    app.send(&tampered).expect("000001");
    // An added parameter is signed too.
    app.send(&format!("{query}&amount=1000")).expect("000001");
}

#[test]
fn a_missing_time_stamp_is_000001() {
    let app = spawn_app();
    let params: Vec<_> = Order::new()
        .params()
        .into_iter()
        .filter(|(name, _)| name != "timeStamp")
        .collect();
    app.call_params(&params).expect("000001");
}

#[test]
fn an_unknown_or_missing_activity_is_000002() {
    let app = spawn_app();
    app.call("getLicence", &[("orderId", "X")]).expect("000002");
    let params: Vec<_> = Order::new()
        .params()
        .into_iter()
        .filter(|(name, _)| name != "activity")
        .collect();
    app.call_params(&params).expect("000002");
    app.call("", &[]).expect("000002");
}

#[test]
fn a_missing_mandatory_field_is_000002_for_every_activity() {
    let app = spawn_app();
    let instance = app.provision(&Order::new()).instance_id().to_owned();
    let before = app.license_count();

    let order = Order::new();
    for field in ["customerId", "businessId", "orderId", "productId"] {
        let params: Vec<_> = order
            .params()
            .into_iter()
            .filter(|(name, _)| name != field)
            .collect();
        let answer = app.call_params(&params);
        answer.expect("000002");
        assert!(
            answer.json["resultMsg"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{field}: {}",
            answer.json
        );
    }

    let renew = [
        ("orderId", "RENEW-1"),
        ("instanceId", instance.as_str()),
        ("expireTime", "20310101000000"),
    ];
    let upgrade = [
        ("orderId", "UPGRADE-1"),
        ("instanceId", instance.as_str()),
        ("skuCode", "sku-2"),
        ("productId", SYS_PRODUCT),
    ];
    let status = [
        ("instanceId", instance.as_str()),
        ("instanceStatus", "FREEZE"),
    ];
    let by_instance = [("instanceId", instance.as_str())];
    let table: [(&str, &[(&str, &str)]); 10] = [
        ("refreshLicense", &renew),
        ("refreshInstance", &renew),
        ("upgrade", &upgrade),
        ("instanceStatus", &status),
        ("expireLicense", &by_instance),
        ("expireInstance", &by_instance),
        ("releaseLicense", &by_instance),
        ("releaseInstance", &by_instance),
        ("getLicense", &[]),
        ("newInstance", &[]),
    ];
    for (activity, fields) in table {
        for (i, (missing, _)) in fields.iter().enumerate() {
            let mut rest = fields.to_vec();
            rest.remove(i);
            let answer = app.call(activity, &rest);
            assert_eq!(
                answer.code(),
                "000002",
                "{activity} without {missing}: {}",
                answer.json
            );
        }
    }
    // An empty value counts as missing.
    app.call(
        "refreshLicense",
        &[
            ("orderId", ""),
            ("instanceId", &instance),
            ("expireTime", "20310101000000"),
        ],
    )
    .expect("000002");
    assert_eq!(app.license_count(), before);
}

#[test]
fn an_order_id_longer_than_64_characters_is_000002() {
    let app = spawn_app();
    let mut order = Order::new();
    order.order_id = "O".repeat(65);
    app.get_license(&order).expect("000002");
    order.order_id = "O".repeat(64);
    app.get_license(&order).expect("000000");
}

#[test]
fn a_bad_expire_time_is_000002() {
    let app = spawn_app();
    for bad in ["2030-01-01", "20301301000000", "2030010100000", "tomorrow"] {
        app.get_license(&Order::new().with("expireTime", bad))
            .expect("000002");
    }
    let instance = app.provision(&Order::new()).instance_id().to_owned();
    app.call(
        "refreshLicense",
        &[
            ("orderId", "RENEW-1"),
            ("instanceId", &instance),
            ("expireTime", "20310231000000"),
        ],
    )
    .expect("000002");
}

#[test]
fn bad_saas_extend_params_are_000002() {
    let app = spawn_app();
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for bad in [
        "not base64 at all!".to_owned(),
        b64("this is not JSON"),
        b64(r#"{"name":"identificationCode","value":"X"}"#),
        b64(r#"[{"value":"X"}]"#),
    ] {
        let order = Order::new().identifier(None).with("saasExtendParams", &bad);
        let answer = app.get_license(&order);
        assert_eq!(answer.code(), "000002", "{bad}: {}", answer.json);
    }
}

#[test]
fn get_license_without_an_identifier_is_000002_when_the_product_binds_to_a_machine() {
    let app = spawn_app();
    for product in [HW_PRODUCT, SYS_PRODUCT, "P-DEFAULT-POLICY"] {
        let answer = app.get_license(&Order::new().product(product).identifier(None));
        assert_eq!(answer.code(), "000002", "{product}: {}", answer.json);
        // saasExtendParams without identificationCode is no better.
        let other = market::extend_params(&[("userName", "huawei123")]);
        let order = Order::new()
            .product(product)
            .identifier(None)
            .with("saasExtendParams", &other);
        app.get_license(&order).expect("000002");
    }
}

#[test]
fn a_bad_hardware_identifier_is_000002() {
    let app = spawn_app();
    for bad in ["A|B|C|D|E", "N/A|NONE|To be filled by O.E.M.|", "|||"] {
        let answer = app.get_license(&Order::new().product(HW_PRODUCT).identifier(Some(bad)));
        assert_eq!(answer.code(), "000002", "{bad}: {}", answer.json);
    }
}

#[test]
fn instance_status_with_a_bad_status_is_000002() {
    let app = spawn_app();
    let instance = app.provision(&Order::new()).instance_id().to_owned();
    for status in ["DELETE", "freeze", "UNFREEZE"] {
        app.call(
            "instanceStatus",
            &[("instanceId", &instance), ("instanceStatus", status)],
        )
        .expect("000002");
    }
}

#[test]
fn operations_on_an_unknown_instance_are_000003() {
    let app = spawn_app();
    let instance = unique("no-such-instance-");
    let renew = [
        ("orderId", "RENEW-1"),
        ("instanceId", instance.as_str()),
        ("expireTime", "20310101000000"),
    ];
    let upgrade = [
        ("orderId", "UPGRADE-1"),
        ("instanceId", instance.as_str()),
        ("skuCode", "sku-2"),
        ("productId", SYS_PRODUCT),
    ];
    let by_instance = [("orderId", "ORDER"), ("instanceId", instance.as_str())];
    let freeze = [
        ("instanceId", instance.as_str()),
        ("instanceStatus", "FREEZE"),
    ];
    let normal = [
        ("instanceId", instance.as_str()),
        ("instanceStatus", "NORMAL"),
    ];
    let table: [(&str, &[(&str, &str)]); 9] = [
        ("refreshLicense", &renew),
        ("refreshInstance", &renew),
        ("expireLicense", &by_instance),
        ("expireInstance", &by_instance),
        ("releaseLicense", &by_instance),
        ("releaseInstance", &by_instance),
        ("upgrade", &upgrade),
        ("instanceStatus", &freeze),
        ("instanceStatus", &normal),
    ];
    for (activity, fields) in table {
        let answer = app.call(activity, fields);
        assert_eq!(answer.code(), "000003", "{activity}: {}", answer.json);
    }
}

/// Sends `query` and checks that nothing was stored.
fn rejected(app: &TestApp, query: &str, code: &str) {
    let before = app.license_count();
    app.send(query).expect(code);
    assert_eq!(
        app.license_count(),
        before,
        "a rejected call stored a license"
    );
}

#[test]
fn a_rejected_get_license_stores_nothing_and_the_order_later_succeeds() {
    let app = spawn_app();
    let order = Order::new().product(HW_PRODUCT).identifier(None);
    let good = order
        .clone()
        .identifier(Some("00:1A:2B:3C:4D:5E|S3Z9NB0K|BSN123|BFEBFBFF00050657"));

    rejected(&app, &get_license_query("wrong-key", &good), "000001");
    rejected(&app, &encode_query(&good.params()), "000001");
    rejected(&app, &get_license_query(&app.key, &order), "000002");
    let bad_hwid = order.clone().identifier(Some("A|B|C|D|E"));
    rejected(&app, &get_license_query(&app.key, &bad_hwid), "000002");
    let bad_time = good.clone().with("expireTime", "20301301000000");
    rejected(&app, &get_license_query(&app.key, &bad_time), "000002");
    assert_eq!(app.license_count(), 0);

    let answer = app.provision(&good);
    let claims = app.verify(answer.license());
    assert_eq!(claims.revision, 1);
    assert_eq!(app.license_count(), 1);
    let again = app.provision(&good);
    assert_eq!(again.license(), answer.license());
}

#[test]
fn an_unreadable_stored_record_is_000005_and_still_signed() {
    // 000005 needs a storage failure; a record corrupted on disk while the app was stopped is
    // the cleanest one to produce.
    let app = spawn_app();
    let order = Order::new();
    let instance = app.provision(&order).instance_id().to_owned();
    let data = app.data_dir.clone();
    let dir = app.stop();
    corrupt_stored_license(&data, &instance);
    let app = try_spawn(Default::default(), dir).expect("restart");
    let answer = app.get_license(&order);
    answer.expect("000005");
    assert_eq!(answer.json["resultMsg"], "internal error, please retry");
    app.call(
        "refreshLicense",
        &[
            ("orderId", "RENEW-1"),
            ("instanceId", &instance),
            ("expireTime", "20310101000000"),
        ],
    )
    .expect("000005");
}
