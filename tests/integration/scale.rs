//! The scale benchmark's database and queries at 10,000 licenses: every lookup, the revocation
//! list and the export give the right answers after a reopen (`cargo bench --bench scale` times
//! the same at a million).

use koolicense::store_support::{customer_of, listed_of, order_of, ScaleDb};

#[test]
fn ten_thousand_licenses_are_found_by_customer_and_order_listed_and_exported_after_a_reopen() {
    const COUNT: usize = 10_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let db = ScaleDb::open(&data, dir.path()).expect("open");
    std::thread::scope(|s| {
        let first = s.spawn(|| db.fill(0, COUNT / 2, COUNT));
        db.fill(COUNT / 2, COUNT, COUNT).expect("fill");
        first.join().expect("writer").expect("fill");
    });
    db.close().expect("close");

    let db = ScaleDb::open(&data, dir.path()).expect("reopen");
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
