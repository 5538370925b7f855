//! The stored forms: tokens, times, and the pinned bytes of schema 2.

use super::*;
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus, Origin, StoredBinding};

#[test]
fn a_canonical_token_is_kept_as_its_blob_and_comes_back_as_the_same_text() {
    let text = "kl1.AS_aYgQ3xEMPARCrOCyL-cREG6lWkr86aaP0AgQAAAABAyQwMTNiNmY5Mi0xZjllLTRl";
    assert!(matches!(Token::new(text), Token::Blob(_)));
    assert_eq!(Token::new(text).text(), text);
    for odd in ["kl1.not base64!", "kl1.AB=", "no-prefix", "kl1.AR"] {
        assert_eq!(Token::new(odd).text(), odd, "{odd}");
    }
}

#[test]
fn times_keep_every_nanosecond() {
    let t = DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("time");
    assert_eq!(Time::from(t).restore("t").expect("restore"), t);
}

/// A record with every field set, a hardware binding included.
fn full_license() -> LicenseRecord {
    let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 123_456_789).expect("time");
    LicenseRecord {
        license_id: "01234567-89ab-cdef-f00f-102aff007e80".into(),
        revision: 3,
        status: LicenseStatus::Suspended,
        status_reason: Some("unpaid".into()),
        revoked_below: 2,
        status_signed_at: Some(at(5)),
        origin: Origin::KoomarketGet,
        instance_id: Some("inst-1".into()),
        order_id: Some("CS00000000000000000001".into()),
        product_id: "00301-666666-0--0".into(),
        previous_product_ids: vec!["00301-555555-0--0".into()],
        sku_code: Some("sku-1".into()),
        customer_id: Some("cust-1".into()),
        customer_name: Some("客户".into()),
        trial: true,
        test: false,
        charging_mode: Some("1".into()),
        period_type: Some("year".into()),
        period_number: Some("1".into()),
        amount: Some(3),
        quantity: Some(5),
        features: vec!["pro".into(), "export".into()],
        binding: StoredBinding::Hardware {
            min_match: 3,
            salt: "salt".into(),
            hashes: [
                vec!["m1".into(), "m2".into()],
                vec!["s1".into()],
                vec![],
                vec!["c1".into()],
            ],
            anchor: Some(1),
        },
        not_before: at(0),
        expires_at: Some(at(86_400)),
        created_at: at(1),
        updated_at: at(2),
        issued_at: at(3),
        kid: "kid-1".into(),
        token: "kl1.AS_aYgQ3xEMPARCrOCyL-cREG6lWkr86aaP0AgQAAAABAyQwMTNiNmY5Mi0xZjllLTRl".into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_stored_forms_are_byte_for_byte_those_of_schema_2() {
    // Pinned bytes: a change here makes records written before it unreadable.
    let license = full_license();
    let bytes = encode_license(&license);
    assert_eq!(hex(&bytes), LICENSE_V2, "{}", hex(&bytes));
    let back = decode_license(&bytes).expect("decode");
    assert_eq!(encode_license(&back), bytes);
    let mut text_token = full_license();
    text_token.token = "not-a-canonical-token".into();
    let bytes = encode_license(&text_token);
    assert_eq!(
        decode_license(&bytes).expect("decode").token,
        text_token.token
    );

    let event = AuditEvent {
        id: 42,
        at: license.created_at,
        actor: "koomarket".into(),
        action: "getLicense".into(),
        outcome: "issued".into(),
        license_id: Some(license.license_id.clone()),
        instance_id: None,
        order_id: license.order_id.clone(),
        business_id: Some("biz".into()),
        test: true,
        detail: Some("detail".into()),
    };
    let bytes = encode_audit(&event);
    assert_eq!(hex(&bytes), AUDIT_V2, "{}", hex(&bytes));
    assert_eq!(encode_audit(&decode_audit(&bytes).expect("decode")), bytes);
}

/// `full_license()` as schema 2 stores it.
const LICENSE_V2: &str = concat!(
    "022430313233343536372d383961622d636465662d663030662d31303261666630303765383003020106756e",
    "7061696402018ac49fd50c959aef3a000106696e73742d310116435330303030303030303030303030303030",
    "303030311130303330312d3636363636362d302d2d30011130303330312d3535353535352d302d2d30010573",
    "6b752d310106637573742d310106e5aea2e688b7010001013101047965617201013101030105020370726f06",
    "6578706f727402030473616c7402026d31026d32010273310001026331010180c49fd50c959aef3a01808aaa",
    "d50c959aef3a82c49fd50c959aef3a84c49fd50c959aef3a86c49fd50c959aef3a056b69642d310033012fda",
    "620437c4430f0110ab382c8bf9c4441ba95692bf3a69a3f4020400000001032430313362366639322d316639",
    "652d3465",
);
/// The audit event of the test as schema 2 stores it.
const AUDIT_V2: &str = concat!(
    "022a82c49fd50c959aef3a096b6f6f6d61726b65740a6765744c6963656e7365066973737565640124303132",
    "33343536372d383961622d636465662d663030662d3130326166663030376538300001164353303030303030",
    "3030303030303030303030303031010362697a01010664657461696c",
);
