//! Store writes: concurrent writers sharing transactions and durable syncs.

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

#[test]
fn concurrent_writers_each_get_their_whole_batch_applied() {
    const THREADS: usize = 16;
    const PER_THREAD: usize = 40;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 16).expect("open");
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
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path(), 16).expect("open");
        store.write(issued(&license("a"))).expect("write");
        store.close().expect("close");
    }
    let store = Store::open(dir.path(), 16).expect("reopen");
    assert_eq!(
        store.license("a").expect("read").expect("present").token,
        "token-of-a"
    );
    assert_eq!(store.audit_for_license("a").expect("audit").len(), 1);
}

#[test]
fn writers_after_close_fail_instead_of_hanging() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 16).expect("open");
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
            "{result:?}"
        );
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
