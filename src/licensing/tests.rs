use chrono::TimeZone;
use koolicense_verify::{Binding, Host, PublicKey, Verifier, MAX_TOKEN_LEN};

use super::policy::{BindingKind, Policy, QuantityRule, MAX_FEATURE_BYTES};
use super::*;

fn signer() -> Signer {
    Signer::generate().expect("keygen")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0)
        .single()
        .expect("time")
}

pub(super) fn new_license(identifier: Option<&str>) -> NewLicense {
    NewLicense {
        origin: Origin::KoomarketGet,
        instance_id: Some("inst-1".into()),
        order_id: Some("CS1906666666ABCDE".into()),
        product_id: "00301-666666-0--0".into(),
        sku_code: Some("sku-1".into()),
        customer_id: Some("68cbc86abc2018ab880d92f36422fa0e".into()),
        customer_name: Some("buyer".into()),
        trial: false,
        test: false,
        charging_mode: Some("1".into()),
        period_type: Some("year".into()),
        period_number: Some("1".into()),
        amount: Some(30),
        expires_at: Some(now() + chrono::Duration::days(365)),
        identifier: identifier.map(Into::into),
    }
}

pub(super) fn verifier(signer: &Signer) -> Verifier {
    Verifier::new([PublicKey::from_bytes(&signer.public_key().to_bytes()).expect("key")])
}

const HWID: &str = "00:1A:2B:3C:4D:5E|S3Z9NB0K123456|BOARD-SERIAL-77|BFEBFBFF000906EA";

#[test]
fn worst_case_license_fits_in_1024_characters() {
    let signer = signer();
    let long = |n: usize, c: char| std::iter::repeat_n(c, n).collect::<String>();
    // Every KooMarket field at its documented maximum, the largest feature list a policy may
    // hold, and the largest hardware binding: four values in every component that counts (the
    // CPU never does), which only a weak binding records (an anchored one holds one board or
    // disk value, plus the anchor field).
    let features: Vec<String> = (0..3).map(|i| format!("{}{i}", long(30, 'f'))).collect();
    let policy = Policy {
        binding: BindingKind::Hardware,
        features: features.clone(),
        allow_weak_binding: true,
        ..Policy::default()
    };
    policy.validate().expect("largest allowed feature list");
    assert_eq!(
        features.iter().map(|f| f.len() + 1).sum::<usize>(),
        MAX_FEATURE_BYTES
    );
    let values = |tag: &str| {
        (0..4)
            .map(|i| format!("{tag}{i}{}", long(20, '9')))
            .collect::<Vec<_>>()
            .join(",")
    };
    let hwid = format!(
        "{}|{}|{}|{}",
        values("A"),
        values("B"),
        values("C"),
        values("D")
    );
    let mut new = new_license(Some(&hwid));
    new.instance_id = Some(long(64, 'i'));
    new.order_id = Some(long(64, 'o'));
    new.product_id = long(64, 'p');
    new.sku_code = Some(long(64, 's'));
    new.customer_id = Some(long(100, 'c'));
    new.trial = true;
    new.test = true;
    new.amount = Some(9_999_999);
    let record = create(new, &policy, &signer, now()).expect("worst case encodes");
    eprintln!("worst-case license: {} characters", record.token.len());
    assert!(
        record.token.len() <= MAX_TOKEN_LEN,
        "worst case is {} characters",
        record.token.len()
    );
    assert!(record.token.is_ascii() && !record.token.contains(char::is_whitespace));
    let claims = verifier(&signer)
        .allow_test_licenses()
        .verify(&record.token, unix(now()))
        .expect("worst case verifies");
    assert_eq!(claims.customer_id.as_deref().map(str::len), Some(100));
    match claims.binding {
        Binding::Hardware(hw) => {
            let counts = hw.hashes.iter().map(Vec::len).collect::<Vec<_>>();
            assert_eq!(counts, [4, 4, 4, 0]);
        }
        other => panic!("expected a hardware binding, got {other:?}"),
    }
}

#[test]
fn hardware_bound_license_round_trips_and_matches_its_machine() {
    let signer = signer();
    let policy = Policy {
        binding: BindingKind::Hardware,
        ..Policy::default()
    };
    let record = create(new_license(Some(HWID)), &policy, &signer, now()).expect("create");
    assert!(!serde_json::to_string(&record)
        .expect("json")
        .contains("S3Z9NB0K123456"));
    let machine = HardwareId::parse(HWID).expect("hwid");
    let host = Host {
        hardware: Some(&machine),
        system_identifier: None,
    };
    let claims = verifier(&signer)
        .verify_on(&record.token, unix(now()), &host)
        .expect("verifies on its machine");
    assert_eq!(claims.quantity, Some(30));
    let other = HardwareId::parse("AABBCCDDEEFF|OTHERDISK|OTHERBOARD|OTHERCPU").expect("hwid");
    let host = Host {
        hardware: Some(&other),
        system_identifier: None,
    };
    assert!(verifier(&signer)
        .verify_on(&record.token, unix(now()), &host)
        .is_err());
}

#[test]
fn system_bound_and_floating_licenses_round_trip() {
    let signer = signer();
    let policy = Policy::default(); // auto
    let record =
        create(new_license(Some("SYS-CODE-0001")), &policy, &signer, now()).expect("create");
    assert_eq!(
        record.binding,
        StoredBinding::System {
            identifier: "SYS-CODE-0001".into()
        }
    );
    let host = Host {
        hardware: None,
        system_identifier: Some("SYS-CODE-0001"),
    };
    verifier(&signer)
        .verify_on(&record.token, unix(now()), &host)
        .expect("verifies with its system identifier");

    let floating = create(new_license(None), &policy, &signer, now()).expect("create");
    assert_eq!(floating.binding, StoredBinding::None);
    verifier(&signer)
        .verify_on(&floating.token, unix(now()), &Host::default())
        .expect("floating verifies anywhere");
}

#[test]
fn a_policy_that_needs_an_identifier_refuses_to_issue_without_one() {
    let policy = Policy {
        binding: BindingKind::Hardware,
        ..Policy::default()
    };
    let err = create(new_license(None), &policy, &signer(), now()).expect_err("must fail");
    assert!(matches!(err, LicensingError::MissingIdentifier("hardware")));
}

#[test]
fn resigning_bumps_the_revision_and_keeps_the_license_id() {
    let signer = signer();
    let mut record = create(new_license(None), &Policy::default(), &signer, now()).expect("create");
    let first = record.token.clone();
    let later = now() + chrono::Duration::hours(1);
    resign(&mut record, &signer, later).expect("resign");
    assert_eq!(record.revision, 2);
    assert_ne!(record.token, first);
    let claims = verifier(&signer)
        .verify(&record.token, unix(later))
        .expect("verify");
    assert_eq!(claims.license_id.to_string(), record.license_id);
    assert_eq!(claims.issued_at, unix(later));
}

#[test]
fn trial_licenses_are_capped_and_get_trial_features() {
    let policy = Policy {
        trial_max_days: 30,
        features: vec!["pro".into(), "export".into()],
        trial_features: vec!["pro".into()],
        quantity: QuantityRule::Fixed { value: 1 },
        ..Policy::default()
    };
    let mut new = new_license(None);
    new.trial = true;
    let record = create(new, &policy, &signer(), now()).expect("create");
    assert_eq!(record.expires_at, Some(now() + chrono::Duration::days(30)));
    assert_eq!(record.features, vec!["pro".to_string()]);
    assert_eq!(record.quantity, Some(1));
}

#[test]
fn same_key_and_claims_sign_to_the_same_token() {
    let signer = signer();
    let record = create(new_license(None), &Policy::default(), &signer, now()).expect("create");
    let mut again = record.clone();
    again.revision -= 1;
    resign(&mut again, &signer, record.issued_at).expect("resign");
    assert_eq!(again.token, record.token);
}

#[test]
fn new_ids_are_unique_time_ordered_uuids() {
    let first = new_id();
    assert_eq!(first.get_version(), Some(uuid::Version::SortRand));
    let ids: std::collections::HashSet<_> = (0..10_000).map(|_| new_id()).collect();
    assert_eq!(ids.len(), 10_000);
    std::thread::sleep(std::time::Duration::from_millis(2));
    // Ids from a later millisecond sort after earlier ones, as bytes and as text.
    let later = new_id();
    assert!(later.as_bytes() > first.as_bytes());
    assert!(later.to_string() > first.to_string());
    assert!(LicenseId::parse(&later.to_string()).is_some());
}
