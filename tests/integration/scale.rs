//! The scale benchmark's database and queries at 10,000 licenses, on each embedded engine:
//! every lookup, the revocation list and the export give the right answers after a reopen
//! (`cargo bench --bench scale` times the same at a million).

use koolicense::settings::StorageBackend;
use koolicense::store_support::{customer_of, listed_of, order_of, ScaleDb};

/// Fills 10,000 licenses on `engine` with two writers, reopens, and checks every answer.
fn ten_thousand_licenses_answer_right_after_a_reopen_on(engine: StorageBackend) {
    const COUNT: usize = 10_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let open = || ScaleDb::open_on(engine, &data, dir.path(), 8);
    let db = open().expect("open");
    std::thread::scope(|s| {
        let first = s.spawn(|| db.fill(0, COUNT / 2, COUNT));
        db.fill(COUNT / 2, COUNT, COUNT).expect("fill");
        first.join().expect("writer").expect("fill");
    });
    db.close().expect("close");
    let engine_dir = match engine {
        StorageBackend::Fjall => "fjall",
        _ => "db",
    };
    assert!(
        data.join(engine_dir).is_dir(),
        "the licenses are in {engine_dir}/"
    );

    let db = open().expect("reopen");
    for i in [0, 1, 999, 5_000, COUNT - 1] {
        let customer = db.by_customer(&customer_of(i, COUNT)).expect("lookup");
        assert_eq!(customer.len(), 10, "ten licenses per customer");
        let order = db.by_order(&order_of(i)).expect("lookup");
        assert_eq!(order.len(), 1, "one license per order");
        assert!(
            customer.contains(&order[0]),
            "license {i} is its customer's"
        );
    }
    assert!(db.by_order("CS-no-such-order").expect("lookup").is_empty());
    let (entries, _) = db.revocation_list(chrono::Utc::now()).expect("list");
    assert_eq!(entries, listed_of(COUNT));
    assert_eq!(entries, COUNT / 20);
    let mut lines = Vec::new();
    assert_eq!(db.export(&mut lines).expect("export"), COUNT);
    assert_eq!(lines.iter().filter(|&&b| b == b'\n').count(), COUNT);
    db.close().expect("close");
}

#[test]
fn ten_thousand_licenses_on_sled_are_found_by_customer_and_order_listed_and_exported() {
    ten_thousand_licenses_answer_right_after_a_reopen_on(StorageBackend::Sled);
}

#[test]
fn ten_thousand_licenses_on_fjall_are_found_by_customer_and_order_listed_and_exported() {
    ten_thousand_licenses_answer_right_after_a_reopen_on(StorageBackend::Fjall);
}
