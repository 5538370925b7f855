//! Postings follow their records: a change moves them in the same write, listings page through
//! them stably, and a page never reads more than its budget.

use super::*;
use crate::store::merchant::EXAMINED_PER_PAGE;
use crate::store::records::{Origin, StoredBinding};
use crate::store::{LicenseFilter, Store, WriteBatch};

pub(in crate::store) fn record(n: usize, customer: &str) -> LicenseRecord {
    let now = chrono::Utc::now();
    LicenseRecord {
        license_id: format!("018c0000-0000-7000-8000-{n:012}"),
        revision: 1,
        status: LicenseStatus::Active,
        status_reason: None,
        revoked_below: 0,
        status_signed_at: None,
        origin: Origin::Offline,
        instance_id: None,
        order_id: Some(format!("order-{n}")),
        product_id: "p".into(),
        previous_product_ids: Vec::new(),
        sku_code: None,
        customer_id: Some(customer.into()),
        customer_name: None,
        trial: false,
        test: n % 2 == 1,
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
        token: format!("token-{n}-1"),
    }
}

fn put(store: &Store, records: Vec<LicenseRecord>) {
    store
        .write(WriteBatch {
            licenses: records,
            ..WriteBatch::default()
        })
        .expect("write");
}

fn ids(store: &Store, filter: &LicenseFilter) -> Vec<String> {
    let page = store.list_licenses(filter, None, 500).expect("list");
    page.items.into_iter().map(|r| r.license_id).collect()
}

#[test]
fn a_status_change_and_a_reissue_move_the_postings_and_keep_the_old_token_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    let mut license = record(1, "c1");
    put(&store, vec![license.clone()]);
    let by_status = |s| LicenseFilter {
        status: Some(s),
        include_test: true,
        ..LicenseFilter::default()
    };
    assert_eq!(ids(&store, &by_status(LicenseStatus::Active)).len(), 1);

    license.status = LicenseStatus::Suspended;
    license.customer_id = Some("c2".into());
    put(&store, vec![license.clone()]);
    assert!(ids(&store, &by_status(LicenseStatus::Active)).is_empty());
    assert_eq!(ids(&store, &by_status(LicenseStatus::Suspended)).len(), 1);
    let customer = |c: &str| LicenseFilter {
        customer_id: Some(c.into()),
        include_test: true,
        ..LicenseFilter::default()
    };
    assert!(
        ids(&store, &customer("c1")).is_empty(),
        "old posting removed"
    );
    assert_eq!(ids(&store, &customer("c2")).len(), 1);
    let mut revocable = 0;
    store
        .for_each_revocable(|_| {
            revocable += 1;
            true
        })
        .expect("revocable");
    assert_eq!(revocable, 1);

    license.status = LicenseStatus::Active;
    license.revision = 2;
    license.token = "token-1-2".into();
    put(&store, vec![license.clone()]);
    assert_eq!(
        store.token_history(&license.license_id).expect("history"),
        [(1, "token-1-1".into()), (2, "token-1-2".into())]
    );
    assert_eq!(
        store.tokens.len().expect("count"),
        1,
        "the current token lives in its record only"
    );
    store
        .for_each_revocable(|r| panic!("{} is no longer revocable", r.license_id))
        .expect("revocable");
}

#[test]
fn pages_read_a_bounded_number_of_entries_and_their_cursors_cover_every_match_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    // One customer with many test licenses between a few real ones: a default listing skips
    // test traffic, so most postings it reads do not match.
    let total = EXAMINED_PER_PAGE * 2 + 10;
    let records: Vec<_> = (0..total)
        .map(|n| {
            let mut r = record(n, "big");
            r.test = !(n % 1000 == 0 || n + 1 == total);
            r
        })
        .collect();
    let want: Vec<_> = records
        .iter()
        .filter(|r| !r.test)
        .map(|r| r.license_id.clone())
        .collect();
    for chunk in records.chunks(500) {
        put(&store, chunk.to_vec());
    }
    for filter in [
        LicenseFilter {
            customer_id: Some("big".into()),
            ..LicenseFilter::default()
        },
        LicenseFilter::default(),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = store
                .list_licenses(&filter, cursor.as_deref(), 2)
                .expect("page");
            assert!(page.items.len() <= 2);
            seen.extend(page.items.into_iter().map(|r| r.license_id));
            pages += 1;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, want, "{filter:?}");
        assert!(pages >= total / EXAMINED_PER_PAGE, "bounded pages: {pages}");
    }
}

#[test]
fn one_values_postings_are_never_a_prefix_of_anothers() {
    let short = prefix(Kind::Customer, b"ab");
    let long = posting(Kind::Customer, b"abc", b"id");
    assert!(!long.starts_with(&short));
    assert!(posting(Kind::Customer, b"ab", b"id").starts_with(&short));
}

#[test]
fn a_prefix_end_is_above_every_key_with_the_prefix() {
    assert_eq!(prefix_end(b"a\xff\xff"), Some(b"b".to_vec()));
    assert_eq!(prefix_end(b"\xff"), None);
    let p = prefix(Kind::Order, b"o-1");
    let end = prefix_end(&p).expect("end");
    assert!(posting(Kind::Order, b"o-1", b"\xff\xff").as_slice() < end.as_slice());
}

#[test]
fn a_compact_id_sorts_as_its_text_and_comes_back_unchanged() {
    let a = "018c0000-0000-7000-8000-00000000000a";
    let b = "018c0000-0000-7000-8000-0000000000b0";
    assert_eq!(compact_id(a).len(), 17);
    assert!(compact_id(a) < compact_id(b));
    for id in [
        a,
        b,
        "018C0000-0000-7000-8000-00000000000A",
        "not-a-uuid",
        "",
    ] {
        assert_eq!(expand_id(&compact_id(id)), id);
    }
}

#[test]
fn a_revocable_posting_follows_the_expiry_and_revoked_below_of_its_license() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    let mut license = record(7, "c");
    license.status = LicenseStatus::Suspended;
    put(&store, vec![license.clone()]);
    license.expires_at = Some(chrono::DateTime::from_timestamp(2_000_000_000, 0).expect("time"));
    license.revoked_below = 1;
    put(&store, vec![license.clone()]);
    let mut seen = Vec::new();
    store
        .for_each_revocable(|r| {
            seen.push(r);
            true
        })
        .expect("revocable");
    assert_eq!(
        seen,
        [Revocable {
            license_id: license.license_id.clone(),
            status: LicenseStatus::Suspended,
            revoked_below: 1,
            expires_at: Some(2_000_000_000),
        }]
    );
}

#[test]
fn a_released_license_drops_its_product_and_sku_postings_and_every_listing_still_finds_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    let records: Vec<_> = (0..5)
        .map(|n| {
            let mut r = record(n, "c");
            r.sku_code = Some("s".into());
            r.test = false;
            r
        })
        .collect();
    put(&store, records.clone());
    let postings = |kind: Kind| store.index.scan_prefix([kind.byte()]).count();
    let before = (postings(Kind::Product), postings(Kind::Sku));
    let mut released = records[2].clone();
    released.status = LicenseStatus::Released;
    put(&store, vec![released.clone()]);

    let own = |kind: Kind, value: &[u8]| {
        store
            .index
            .get(posting(kind, value, &compact_id(&released.license_id)))
            .expect("read")
            .is_some()
    };
    assert!(!own(Kind::Product, b"p") && !own(Kind::Sku, b"s"), "pruned");
    assert!(own(Kind::Customer, b"c") && own(Kind::Order, b"order-2"));
    assert!(own(Kind::Status, &[status_byte(LicenseStatus::Released)]));
    assert_eq!(
        (postings(Kind::Product), postings(Kind::Sku)),
        (before.0 - 1, before.1 - 1)
    );

    let all: Vec<_> = records.iter().map(|r| r.license_id.clone()).collect();
    let filter = |f: fn(&mut LicenseFilter)| {
        let mut filter = LicenseFilter::default();
        f(&mut filter);
        ids(&store, &filter)
    };
    assert_eq!(
        filter(|f| f.product_id = Some("p".into())),
        all,
        "in creation order"
    );
    assert_eq!(filter(|f| f.sku_code = Some("s".into())), all);
    assert_eq!(filter(|f| f.customer_id = Some("c".into())), all);
    assert_eq!(
        filter(|f| f.order_id = Some("order-2".into())),
        [released.license_id.clone()]
    );
    let only_released = |f: &mut LicenseFilter| {
        f.product_id = Some("p".into());
        f.status = Some(LicenseStatus::Released);
    };
    assert_eq!(filter(only_released), [released.license_id.clone()]);
    let mut active = all.clone();
    active.remove(2);
    let only_active = |f: &mut LicenseFilter| {
        f.sku_code = Some("s".into());
        f.status = Some(LicenseStatus::Active);
    };
    assert_eq!(filter(only_active), active);
    assert!(filter(|f| f.product_id = Some("other".into())).is_empty());

    // A page boundary inside the merged lists: every license once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let product = LicenseFilter {
            product_id: Some("p".into()),
            ..LicenseFilter::default()
        };
        let page = store
            .list_licenses(&product, cursor.as_deref(), 1)
            .expect("page");
        seen.extend(page.items.into_iter().map(|r| r.license_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, all);
}
