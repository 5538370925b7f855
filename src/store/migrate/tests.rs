//! The migration from schema 1, on databases written as the code of commit a710f7f wrote them
//! (same trees, keys and values; see its `Store::write`): JSON records without the fields added
//! since, every token of a license in the token history, audit postings in `audit-by-license`,
//! no schema version.

use std::collections::BTreeMap;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::store::encoding;
use crate::store::records::{AuditEvent, LicenseRecord, LicenseStatus, Origin, StoredBinding};
use crate::store::{AuditFilter, LicenseFilter};

/// Opens the store, waiting while the previous handle's threads still hold sled's file lock
/// (they let go shortly after the handle is dropped; a loaded machine made that visible).
fn open(data_dir: &Path) -> Result<Store> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(data_dir, 8) {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, nanos)
        .single()
        .expect("time")
}

/// A canonical one-line token (as the signer writes) or, for `legacy`, any other text.
fn token(seed: u8, legacy: bool) -> String {
    if legacy {
        return format!("-----BEGIN KOOLICENSE LICENSE-----\nAQ{seed}\n-----END");
    }
    let blob: Vec<u8> = (0..330u16).map(|i| (i as u8).wrapping_mul(seed)).collect();
    format!("kl1.{}", URL_SAFE_NO_PAD.encode(blob))
}

fn license(n: u8) -> LicenseRecord {
    let created = at(i64::from(n) * 60, 123_456_789);
    LicenseRecord {
        license_id: format!("018c0000-0000-7000-8000-0000000000{n:02x}"),
        revision: 1,
        status: LicenseStatus::Active,
        status_reason: None,
        revoked_below: 0,
        status_signed_at: None,
        origin: Origin::KoomarketGet,
        instance_id: Some(format!("inst-{n}")),
        order_id: Some(format!("CS{n:015}")),
        product_id: "00301-666666-0--0".into(),
        previous_product_ids: Vec::new(),
        sku_code: Some("sku-1".into()),
        customer_id: Some(format!("customer-{}", n % 3)),
        customer_name: Some("买家 buyer".into()),
        trial: n % 4 == 1,
        test: false,
        charging_mode: Some("1".into()),
        period_type: Some("year".into()),
        period_number: Some("1".into()),
        amount: Some(30),
        quantity: None,
        features: vec!["pro".into()],
        binding: match n % 3 {
            0 => StoredBinding::None,
            1 => StoredBinding::System {
                identifier: format!("SYSID-{n}"),
            },
            _ => StoredBinding::Hardware {
                min_match: 3,
                salt: "00ff".repeat(8),
                hashes: [
                    vec!["ab".repeat(32)],
                    vec!["cd".repeat(32), "ef".repeat(32)],
                    vec![],
                    vec!["01".repeat(32)],
                ],
                anchor: None,
            },
        },
        not_before: created,
        expires_at: (n % 5 != 0).then(|| created + Duration::days(365)),
        created_at: created,
        updated_at: created,
        issued_at: created,
        kid: "0123456789abcdef".into(),
        token: token(n, n == 7),
    }
}

/// What the schema-1 code stored for a license: `serde_json::to_vec` of the record as it was
/// then, the same fields in the same order without `status_signed_at` (added later; an
/// `anchor`-less binding serialises as it did then).
fn schema1_json(record: &LicenseRecord) -> Vec<u8> {
    assert!(
        record.status_signed_at.is_none(),
        "schema 1 had no such field"
    );
    let text = serde_json::to_string(record).expect("json");
    let field = "\"status_signed_at\":null,";
    assert!(text.contains(field), "{text}");
    text.replacen(field, "", 1).into_bytes()
}

struct Fixture {
    /// License id → (record as schema 1 answered it, every token by revision).
    licenses: BTreeMap<String, (LicenseRecord, Vec<(u32, String)>)>,
    audit: Vec<AuditEvent>,
}

/// Writes a schema-1 database of `count` licenses under `data_dir`: some reissued (two
/// tokens), some revoked, suspended or released, two audit events per license.
fn write_schema1(data_dir: &Path, count: u8) -> Fixture {
    // No background flusher: it would hold the database's file lock for up to its period after
    // the fixture is dropped, and the store opened next would find it locked.
    let db = sled::Config::new()
        .path(data_dir.join("db").join("v1"))
        .flush_every_ms(None)
        .open()
        .expect("sled");
    let tree = |name: &str| db.open_tree(name).expect("tree");
    let (licenses, tokens, instances, idempotency, audit, audit_by_license, meta) = (
        tree("licenses"),
        tree("license-tokens"),
        tree("licenses-by-instance"),
        tree("idempotency"),
        tree("audit"),
        tree("audit-by-license"),
        tree("meta"),
    );
    meta.insert("active-kid", "0123456789abcdef").expect("kid");
    meta.insert("revocation-sequence", &5u64.to_be_bytes())
        .expect("sequence");
    let mut fixture = Fixture {
        licenses: BTreeMap::new(),
        audit: Vec::new(),
    };
    let mut next_event = 10u64;
    for n in 0..count {
        let mut record = license(n);
        let mut history: Vec<(u32, String)> = vec![(1, record.token.clone())];
        if n % 4 == 2 {
            record.revision = 2;
            record.revoked_below = 2;
            record.token = token(n.wrapping_add(100), false);
            record.issued_at = record.created_at + Duration::days(1);
            history.push((2, record.token.clone()));
        }
        record.status = match n % 6 {
            3 => LicenseStatus::Revoked,
            4 => LicenseStatus::Suspended,
            5 => LicenseStatus::Released,
            _ => LicenseStatus::Active,
        };
        let id = record.license_id.clone();
        licenses
            .insert(id.as_bytes(), schema1_json(&record))
            .expect("license");
        for (revision, text) in &history {
            let mut key = format!("{id}/").into_bytes();
            key.extend_from_slice(&revision.to_be_bytes());
            tokens.insert(key, text.as_bytes()).expect("token");
        }
        let instance = record.instance_id.clone().expect("instance");
        instances.insert(instance, id.as_bytes()).expect("instance");
        let order = record.order_id.clone().expect("order");
        idempotency
            .insert(format!("km/order/{order}"), id.as_bytes())
            .expect("idempotency");
        for (actor, outcome) in [("koomarket", "issued"), ("token:ops", "suspended")] {
            let event = AuditEvent {
                id: next_event,
                at: record.created_at,
                actor: actor.into(),
                action: "getLicense".into(),
                outcome: outcome.into(),
                license_id: Some(id.clone()),
                instance_id: record.instance_id.clone(),
                order_id: record.order_id.clone(),
                business_id: Some(format!("B{n}")),
                test: false,
                detail: (n % 2 == 0).then(|| "detail".into()),
            };
            audit
                .insert(
                    next_event.to_be_bytes(),
                    serde_json::to_vec(&event).expect("json"),
                )
                .expect("audit");
            let mut key = format!("{id}/").into_bytes();
            key.extend_from_slice(&next_event.to_be_bytes());
            audit_by_license.insert(key, &[]).expect("posting");
            fixture.audit.push(event);
            next_event += 1;
        }
        fixture.licenses.insert(id, (record, history));
    }
    db.flush().expect("flush");
    fixture
}

/// Everything schema 1 answered is answered the same, from the new form.
fn assert_same_answers(store: &Store, fixture: &Fixture) {
    for (id, (record, history)) in &fixture.licenses {
        let read = store.license(id).expect("read").expect("present");
        assert_eq!(&read, record, "{id}");
        assert_eq!(
            serde_json::to_string(&read).expect("json"),
            serde_json::to_string(record).expect("json"),
            "the API shows {id} byte for byte as before"
        );
        assert_eq!(&store.token_history(id).expect("history"), history, "{id}");
        let instance = record.instance_id.as_deref().expect("instance");
        let by_instance = store.license_by_instance(instance).expect("instance");
        assert_eq!(by_instance.as_ref().map(|r| &r.token), Some(&record.token));
        let order = record.order_id.as_deref().expect("order");
        let idem = store
            .idempotency(&format!("km/order/{order}"))
            .expect("idem");
        assert_eq!(idem.as_deref(), Some(id.as_bytes()));
        let listed = store
            .list_licenses(
                &LicenseFilter {
                    order_id: Some(order.into()),
                    ..LicenseFilter::default()
                },
                None,
                10,
            )
            .expect("list");
        assert_eq!(
            listed.items,
            std::slice::from_ref(record),
            "by order {order}"
        );
        let events: Vec<_> = fixture
            .audit
            .iter()
            .filter(|e| e.license_id.as_deref() == Some(id.as_str()))
            .cloned()
            .collect();
        assert_eq!(store.audit_for_license(id).expect("audit"), events);
    }
    let customer = |c: &str| {
        let page = store
            .list_licenses(
                &LicenseFilter {
                    customer_id: Some(c.into()),
                    ..LicenseFilter::default()
                },
                None,
                100,
            )
            .expect("list");
        page.items.len()
    };
    let expected = |c: &str| {
        fixture
            .licenses
            .values()
            .filter(|(r, _)| r.customer_id.as_deref() == Some(c))
            .count()
    };
    for c in ["customer-0", "customer-1", "customer-2"] {
        assert_eq!(customer(c), expected(c), "{c}");
    }
    let by_actor = store
        .query_audit(
            &AuditFilter {
                actor: Some("token:ops".into()),
                ..AuditFilter::default()
            },
            0,
            1000,
        )
        .expect("audit");
    let ops: Vec<_> = fixture
        .audit
        .iter()
        .filter(|e| e.actor == "token:ops")
        .cloned()
        .collect();
    assert_eq!(by_actor.events, ops);
    let mut revocable = Vec::new();
    store
        .for_each_revocable(|r| {
            revocable.push(r.license_id);
            true
        })
        .expect("revocable");
    let want: Vec<_> = fixture
        .licenses
        .values()
        .filter(|(r, _)| crate::store::index::may_be_listed(r))
        .map(|(r, _)| r.license_id.clone())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(revocable, want);
    assert_eq!(store.revocation_sequence().expect("sequence"), 5);
}

/// Every license and audit event is in the binary form, and no token is stored twice.
fn assert_lean(store: &Store) {
    for entry in store.licenses.iter() {
        let (_, value) = entry.expect("read");
        assert!(!encoding::is_json(&value));
    }
    for entry in store.audit.iter() {
        let (_, value) = entry.expect("read");
        assert!(!encoding::is_json(&value));
    }
    for entry in store.tokens.iter() {
        let (key, value) = entry.expect("read");
        let id = String::from_utf8_lossy(&key[..key.len() - 5]).into_owned();
        let current = store.license(&id).expect("read").expect("license");
        assert_ne!(
            value.as_ref(),
            current.token.as_bytes(),
            "current token kept twice"
        );
    }
    let names: Vec<_> = store.db.tree_names();
    assert!(!names.iter().any(|n| n == "audit-by-license"));
}

/// The counters say what the fixture holds.
fn assert_counted(store: &Store, fixture: &Fixture) {
    let mut by_status = BTreeMap::new();
    for (record, _) in fixture.licenses.values() {
        *by_status.entry(record.status.as_str()).or_insert(0u64) += 1;
    }
    let counted = store.licenses_by_status(false).expect("counts");
    let counted: BTreeMap<_, _> = counted.into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(counted, by_status);
    let day = at(0, 0).date_naive();
    let days = store.daily_counts(day, day, false).expect("days");
    let calls = fixture
        .audit
        .iter()
        .filter(|e| e.actor == "koomarket")
        .count();
    assert_eq!(days[&day].licenses_issued, fixture.licenses.len() as u64);
    assert_eq!(days[&day].marketplace_events, calls as u64);
}

#[test]
fn a_schema_1_database_is_migrated_once_at_open_and_answers_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = write_schema1(dir.path(), 24);
    let store = open(dir.path()).expect("open migrates");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_same_answers(&store, &fixture);
    assert_lean(&store);
    assert_counted(&store, &fixture);
    store.close().expect("close");
    drop(store);

    // A second start finds the version and rewrites nothing.
    let store = open(dir.path()).expect("reopen");
    let before: Vec<_> = store.index.iter().keys().map(|k| k.expect("key")).collect();
    assert_same_answers(&store, &fixture);
    assert_eq!(store.index.len().expect("count"), before.len());
}

#[test]
fn a_migration_interrupted_half_way_completes_at_the_next_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = write_schema1(dir.path(), 12);
    let store = open(dir.path()).expect("open migrates");
    // Undo part of it, as a crash before the version was recorded would leave it: some records
    // back in JSON with their current token in the history, no version.
    for (record, history) in fixture.licenses.values().take(5) {
        let id = record.license_id.as_bytes();
        store
            .licenses
            .insert(id, schema1_json(record))
            .expect("json again");
        let (revision, token) = history.last().expect("current");
        let mut key = format!("{}/", record.license_id).into_bytes();
        key.extend_from_slice(&revision.to_be_bytes());
        store.tokens.insert(key, token.as_bytes()).expect("token");
    }
    store.meta.remove(VERSION_KEY).expect("no version");
    store.close().expect("close");
    drop(store);

    let store = open(dir.path()).expect("resumes");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_same_answers(&store, &fixture);
    assert_lean(&store);
    assert_counted(&store, &fixture);
}

/// Turns a database this code wrote back into what schema 2 wrote: no counters, and released
/// licenses with their product and sku postings.
fn back_to_schema2(store: &Store, released: &[LicenseRecord]) {
    for key in store.meta.scan_prefix(b"count/").keys() {
        store.meta.remove(key.expect("key")).expect("no counter");
    }
    for record in released {
        let id = crate::store::index::compact_id(&record.license_id);
        for (kind, value) in [
            (crate::store::index::Kind::Product, &record.product_id),
            (
                crate::store::index::Kind::Sku,
                record.sku_code.as_ref().expect("sku"),
            ),
        ] {
            let key = [
                crate::store::index::prefix(kind, value.as_bytes()),
                id.clone(),
            ]
            .concat();
            store.index.insert(key, []).expect("posting");
        }
    }
    store
        .meta
        .insert(VERSION_KEY, 2u32.to_be_bytes())
        .expect("version 2");
}

#[test]
fn a_schema_2_database_gets_its_counters_and_loses_the_postings_of_released_licenses_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).expect("open");
    let mut records: Vec<_> = (0..12u8).map(license).collect();
    for r in records.iter_mut().skip(3).step_by(4) {
        r.status = LicenseStatus::Released;
    }
    let released: Vec<_> = records
        .iter()
        .filter(|r| r.status == LicenseStatus::Released)
        .cloned()
        .collect();
    assert_eq!(released.len(), 3);
    store
        .write(crate::store::WriteBatch {
            licenses: records.clone(),
            ..crate::store::WriteBatch::default()
        })
        .expect("write");
    let index_before: Vec<_> = store.index.iter().keys().map(|k| k.expect("key")).collect();
    let counts = store.licenses_by_status(true).expect("counts");
    assert_eq!(counts["released"], 3);
    back_to_schema2(&store, &released);
    // Half a recount, as a crash during the migration would leave it.
    store
        .meta
        .insert(b"count/x", 7u64.to_be_bytes())
        .expect("stray counter");
    store.close().expect("close");
    drop(store);

    let store = open(dir.path()).expect("migrates");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(store.licenses_by_status(true).expect("counts"), counts);
    let index_after: Vec<_> = store.index.iter().keys().map(|k| k.expect("key")).collect();
    assert_eq!(index_after, index_before, "released postings pruned");
    assert!(store.meta.get(b"count/x").expect("read").is_none());
    let by_product = store
        .list_licenses(
            &LicenseFilter {
                product_id: Some(records[0].product_id.clone()),
                ..LicenseFilter::default()
            },
            None,
            100,
        )
        .expect("list");
    assert_eq!(by_product.items, records);
}

#[test]
fn a_database_of_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path()).expect("open");
    store
        .meta
        .insert(VERSION_KEY, (SCHEMA_VERSION + 1).to_be_bytes())
        .expect("newer");
    store.close().expect("close");
    drop(store);
    let error = open(dir.path()).expect_err("refused");
    assert!(error.to_string().contains("newer"), "{error}");
}
