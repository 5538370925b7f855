//! The scale benchmark's database on fjall at 10,000 licenses (the integration suite runs the
//! same on sled): after a reopen every lookup, the revocation list and the export answer right.

use super::*;

#[test]
fn ten_thousand_licenses_on_fjall_are_found_listed_and_exported_after_a_reopen() {
    const COUNT: usize = 10_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let open = || ScaleDb::open_on(StorageBackend::Fjall, &data, dir.path(), CACHE_MB);
    let db = open().expect("open");
    std::thread::scope(|s| {
        let first = s.spawn(|| db.fill(0, COUNT / 2, COUNT));
        db.fill(COUNT / 2, COUNT, COUNT).expect("fill");
        first.join().expect("writer").expect("fill");
    });
    db.close().expect("close");
    assert!(
        data.join(crate::store::FJALL_DIR).is_dir(),
        "the licenses are in fjall's directory"
    );

    let db = open().expect("reopen");
    for i in [0, 7, 4_321, COUNT - 1] {
        let customer = db.by_customer(&customer_of(i, COUNT)).expect("lookup");
        let order = db.by_order(&order_of(i)).expect("lookup");
        assert_eq!((customer.len(), order.len()), (10, 1), "license {i}");
        assert!(
            customer.contains(&order[0]),
            "license {i} is its customer's"
        );
    }
    assert!(db
        .by_customer("no-such-customer")
        .expect("lookup")
        .is_empty());
    let (entries, _) = db.revocation_list(Utc::now()).expect("list");
    assert_eq!(entries, listed_of(COUNT));
    let mut lines = Vec::new();
    assert_eq!(db.export(&mut lines).expect("export"), COUNT);
    assert_eq!(lines.iter().filter(|&&b| b == b'\n').count(), COUNT);
    db.close().expect("close");
}
