//! Store writes: concurrent writers sharing transactions and durable syncs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use chrono::Utc;

use super::records::{AuditEvent, LicenseRecord, LicenseStatus, Origin, StoredBinding};
use super::*;

fn license(id: &str) -> LicenseRecord {
    let now = Utc::now();
    LicenseRecord {
        license_id: id.to_owned(),
        revision: 1,
        status: LicenseStatus::Active,
        status_reason: None,
        revoked_below: 0,
        status_signed_at: None,
        origin: Origin::KoomarketGet,
        instance_id: Some(format!("inst-{id}")),
        order_id: Some(format!("order-{id}")),
        product_id: "00301-666666-0--0".into(),
        previous_product_ids: Vec::new(),
        sku_code: None,
        customer_id: None,
        customer_name: None,
        trial: false,
        test: false,
        charging_mode: None,
        period_type: None,
        period_number: None,
        amount: None,
        quantity: None,
        features: Vec::new(),
        binding: StoredBinding::None,
        not_before: now,
        expires_at: None,
        created_at: now,
        updated_at: now,
        issued_at: now,
        kid: "kid".into(),
        token: format!("token-of-{id}"),
    }
}

fn issued(record: &LicenseRecord) -> WriteBatch {
    WriteBatch {
        idempotency: vec![(
            format!("km/order/order-{}", record.license_id),
            record.license_id.clone().into_bytes(),
        )],
        audit: vec![AuditEvent {
            id: 0,
            at: record.created_at,
            actor: "test".into(),
            action: "getLicense".into(),
            outcome: "issued".into(),
            license_id: Some(record.license_id.clone()),
            instance_id: record.instance_id.clone(),
            order_id: record.order_id.clone(),
            business_id: None,
            test: false,
            detail: None,
        }],
        licenses: vec![record.clone()],
        ..WriteBatch::default()
    }
}

/// Opens (or creates) a store under a directory.
type Open = fn(&Path) -> Result<Store>;

/// The embedded backends the tests of the write path run on: sled and fjall.
const EMBEDDED: [(&str, Open); 2] = [
    ("sled", |dir| Store::open(dir, 16)),
    ("fjall", |dir| {
        Store::open_fjall(dir, 16, kv::ReadFault::default())
    }),
];

#[test]
fn concurrent_writers_each_get_their_whole_batch_applied() {
    for (backend, open) in EMBEDDED {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path()).expect(backend);
        concurrent_writers_on(&store);
    }
}

fn concurrent_writers_on(store: &Store) {
    const THREADS: usize = 16;
    const PER_THREAD: usize = 40;
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..PER_THREAD {
                    let record = license(&format!("{t:02}-{i:03}"));
                    let written = store.write(issued(&record)).expect("write");
                    assert_eq!(written.len(), 1);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("writer panicked");
    }
    assert_eq!(store.license_count(), THREADS * PER_THREAD);
    let mut audit_ids = Vec::new();
    for t in 0..THREADS {
        for i in 0..PER_THREAD {
            let id = format!("{t:02}-{i:03}");
            let record = store.license(&id).expect("read").expect("present");
            assert_eq!(record, license_like(&record, &id));
            let by_instance = store.license_by_instance(&format!("inst-{id}"));
            assert_eq!(by_instance.expect("read").expect("indexed").license_id, id);
            let idem = store.idempotency(&format!("km/order/order-{id}"));
            assert_eq!(idem.expect("read"), Some(id.clone().into_bytes()));
            let history = store.token_history(&id).expect("history");
            assert_eq!(history, vec![(1, format!("token-of-{id}"))]);
            let events = store.audit_for_license(&id).expect("audit");
            assert_eq!(events.len(), 1);
            audit_ids.push(events[0].id);
        }
    }
    audit_ids.sort_unstable();
    audit_ids.dedup();
    assert_eq!(
        audit_ids.len(),
        THREADS * PER_THREAD,
        "audit ids are unique"
    );
}

/// The stored record equals the written one except for fields the store does not change.
fn license_like(stored: &LicenseRecord, id: &str) -> LicenseRecord {
    LicenseRecord {
        not_before: stored.not_before,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
        issued_at: stored.issued_at,
        ..license(id)
    }
}

#[test]
fn writes_survive_reopening() {
    for (backend, open) in EMBEDDED {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = open(dir.path()).expect(backend);
            store.write(issued(&license("a"))).expect("write");
            store.close().expect("close");
        }
        let store = open(dir.path()).expect(backend);
        assert_eq!(
            store.license("a").expect("read").expect("present").token,
            "token-of-a",
            "{backend}"
        );
        assert_eq!(store.audit_for_license("a").expect("audit").len(), 1);
    }
}

#[test]
fn the_first_event_of_a_fresh_database_is_listed_by_its_license_and_its_actor() {
    for (backend, open) in EMBEDDED {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path()).expect(backend);
        store.write(issued(&license("first"))).expect("write");
        for filter in [
            AuditFilter {
                license_id: Some("first".into()),
                ..AuditFilter::default()
            },
            AuditFilter {
                actor: Some("test".into()),
                ..AuditFilter::default()
            },
            AuditFilter::default(),
        ] {
            let page = store.query_audit(&filter, 0, 10).expect("query");
            assert_eq!(page.events.len(), 1, "{backend}: {filter:?}");
            assert_ne!(page.events[0].id, 0, "{backend}: 0 is no id");
        }
    }
}

#[test]
fn writers_after_close_fail_instead_of_hanging() {
    for (backend, open) in EMBEDDED {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path()).expect(backend);
        store.close().expect("close");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || store.write(issued(&license(&format!("late-{i}")))))
            })
            .collect();
        for thread in threads {
            let result = thread.join().expect("writer panicked");
            assert!(
                matches!(result, Err(StoreError::Commit(CommitError::Closed))),
                "{backend}: {result:?}"
            );
        }
    }
}

#[test]
fn every_writer_that_changes_revocations_advances_the_sequence_even_when_grouped() {
    const THREADS: usize = 12;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 16).expect("open");
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut batch = issued(&license(&format!("rev-{t}")));
                batch.revocation_changed = t % 2 == 0;
                barrier.wait();
                store.write(batch).expect("write");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    assert_eq!(
        store.revocation_sequence().expect("sequence"),
        (THREADS / 2) as u64
    );
}

/// A durable flush that works until `broken` is set, optionally waiting for `hold` first, and
/// counts its calls.
struct Faulty {
    inner: SledFlusher,
    broken: Arc<std::sync::atomic::AtomicBool>,
    calls: Arc<AtomicU64>,
    hold: Option<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>,
}

impl commit::Flusher for Faulty {
    fn flush(&self) -> std::io::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(hold) = &self.hold {
            let _ = hold.lock().map(|r| r.recv());
        }
        if self.broken.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("No space left on device (injected)"));
        }
        self.inner.flush()
    }
}

type Switches = (Arc<std::sync::atomic::AtomicBool>, Arc<AtomicU64>);

fn faulty_store(dir: &Path, hold: Option<std::sync::mpsc::Receiver<()>>) -> (Store, Switches) {
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let (b, c) = (Arc::clone(&broken), Arc::clone(&calls));
    // Created (schema version written and synced) by a healthy store first, so that opening the
    // faulty one flushes nothing: every flush the test counts or holds is a write's.
    let created = Store::open(dir, 8).expect("create");
    created.close().expect("close");
    drop(created);
    let store = Store::open_with(dir, 8, move |inner| Faulty {
        inner,
        broken: b,
        calls: c,
        hold: hold.map(std::sync::Mutex::new),
    })
    .expect("open");
    (store, (broken, calls))
}

#[test]
fn the_first_failed_flush_fails_the_store_for_good_without_flushing_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, (broken, calls)) = faulty_store(dir.path(), None);
    store.write(issued(&license("a"))).expect("a healthy write");
    broken.store(true, Ordering::SeqCst);
    let error = store
        .write(issued(&license("b")))
        .expect_err("the flush fails");
    assert!(matches!(error, StoreError::Commit(_)), "{error}");
    assert!(store
        .failure()
        .reason()
        .is_some_and(|r| r.contains("No space left")));
    // b's transaction was applied but never made durable: a retry must not find it.
    for key in ["km/order/order-b", "km/order/order-a"] {
        assert!(
            matches!(store.idempotency(key), Err(StoreError::Failed(_))),
            "{key}: nothing is answered after the failure"
        );
    }
    let flushes = calls.load(Ordering::SeqCst);
    for i in 0..200 {
        let refused = store.write(issued(&license(&format!("c{i}"))));
        assert!(matches!(refused, Err(StoreError::Failed(_))));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        flushes,
        "refused at once: no flush, no transaction, nothing queued"
    );
}

#[test]
fn a_retry_finding_an_unsynced_entry_waits_for_its_sync_and_fails_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, hold) = std::sync::mpsc::channel();
    let (store, (broken, _)) = faulty_store(dir.path(), Some(hold));
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || store.write(issued(&license("b"))))
    };
    // The transaction is applied (readable) while its flush is held.
    while store
        .idempotency
        .get(b"km/order/order-b")
        .expect("read")
        .is_none()
    {
        std::thread::yield_now();
    }
    let retry = {
        let store = store.clone();
        std::thread::spawn(move || store.idempotency("km/order/order-b"))
    };
    broken.store(true, Ordering::SeqCst);
    // Both the writer's flush and the retry's own wait on the held flush; release them.
    drop(release);
    assert!(writer.join().expect("writer").is_err());
    assert!(
        retry.join().expect("retry").is_err(),
        "the retry is not answered from a write whose sync failed"
    );
}

#[test]
fn an_orders_license_is_found_by_its_legacy_entry_or_by_its_posting_and_only_of_getlicense() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    // Written as before schema 3: with an idempotency entry.
    let legacy = license("legacy");
    store.write(issued(&legacy)).expect("write");
    // Written as getLicense writes now: the order's posting is the entry.
    let mut posted = license("posted");
    posted.order_id = Some("shared-order".into());
    let mut offline = license("offline-0");
    offline.origin = Origin::Offline;
    offline.order_id = Some("shared-order".into());
    store
        .write(WriteBatch {
            licenses: vec![offline, posted.clone()],
            ..WriteBatch::default()
        })
        .expect("write");
    let found = |order: &str| {
        store
            .order_license(order)
            .expect("read")
            .map(|r| r.license_id)
    };
    assert_eq!(found("order-legacy"), Some("legacy".into()));
    assert_eq!(
        found("shared-order"),
        Some("posted".into()),
        "not the offline license"
    );
    assert_eq!(found("order-none"), None);
}

#[test]
fn an_instance_named_after_its_license_needs_no_index_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    let mut named = license("0190a000-0000-7000-8000-000000000001");
    named.instance_id = Some(named.license_id.clone());
    let indexed = license("0190a000-0000-7000-8000-000000000002");
    store
        .write(WriteBatch {
            licenses: vec![named.clone(), indexed.clone()],
            ..WriteBatch::default()
        })
        .expect("write");
    assert_eq!(
        store.instances.len().expect("len"),
        1,
        "only the other instance is indexed"
    );
    for record in [&named, &indexed] {
        let instance = record.instance_id.as_deref().expect("instance");
        let found = store.license_by_instance(instance).expect("read");
        assert_eq!(found.as_ref(), Some(record));
    }
    // A license id is no instance id unless its record says so.
    let other = store
        .license_by_instance(&indexed.license_id)
        .expect("read");
    assert_eq!(other, None);
}
