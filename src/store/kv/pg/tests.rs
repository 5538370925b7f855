//! The rules several instances rely on, at the store, against a throwaway PostgreSQL (the
//! integration harness's; skipped loudly without server binaries): two stores on one database
//! stand for two instances.

#[path = "../../../../tests/integration/support/postgres.rs"]
mod harness;

use std::time::Duration;

use super::Connection;
use crate::settings::Secret;
use crate::store::kv::ReadFault;
use crate::store::market_records::{JobKind, OutboxJob};
use crate::store::{Store, WriteBatch};

/// Two stores on one fresh database, or `None` (said loudly) without a server.
fn two_instances(test: &str) -> Option<(Store, Store)> {
    let server = harness::or_skip(test)?;
    let connection = Connection {
        url: Secret::new(server.new_database()),
        pool_size: 2,
        ca_file: None,
    };
    let open = || Store::open_postgres(&connection, ReadFault::default()).expect("open");
    Some((open(), open()))
}

fn idempotency(key: &str, value: &str) -> WriteBatch {
    WriteBatch {
        idempotency: vec![(key.to_owned(), value.as_bytes().to_vec())],
        ..WriteBatch::default()
    }
}

#[test]
fn an_idempotency_entry_is_written_once_and_another_answer_never_replaces_it() {
    let Some((a, b)) = two_instances("idempotency entries written once") else {
        return;
    };
    a.write(idempotency("km/order/O-1", "license-1"))
        .expect("first");
    b.write(idempotency("km/order/O-1", "license-1"))
        .expect("the same answer again is harmless");
    assert!(
        b.write(idempotency("km/order/O-1", "license-2")).is_err(),
        "another answer for an applied call is refused"
    );
    assert!(b.failure().reason().is_some(), "and fails that store");
    assert_eq!(
        a.idempotency("km/order/O-1").expect("read"),
        Some(b"license-1".to_vec())
    );
}

#[test]
fn a_nonce_is_accepted_by_one_instance_only() {
    let Some((a, b)) = two_instances("a shared nonce cache") else {
        return;
    };
    let window = 60_000;
    assert!(a.remember_nonce("n-1", 1_000, 1_000, window).expect("a"));
    assert!(!b.remember_nonce("n-1", 1_000, 1_000, window).expect("b"));
    assert!(!a
        .remember_nonce("n-1", 1_000, 2_000, window)
        .expect("a again"));
    // Once outside the window the entry may be replaced, once.
    let later = 1_000 + 2 * window as i64;
    assert!(b
        .remember_nonce("n-1", later, later, window)
        .expect("expired"));
    assert!(!a
        .remember_nonce("n-1", later, later, window)
        .expect("replay"));
}

#[test]
fn a_pending_job_is_claimed_by_one_instance_until_released_or_its_lease_lapses() {
    let Some((a, b)) = two_instances("outbox claims") else {
        return;
    };
    let job = OutboxJob::pending(
        a.next_job_id().expect("id"),
        "order/I-1".into(),
        JobKind::QueryOrder {
            instance_id: "I-1".into(),
            order_id: "O-1".into(),
            order_line_id: "O-1-000001".into(),
        },
        chrono::Utc::now(),
    );
    a.write(WriteBatch {
        jobs: vec![job.clone()],
        ..WriteBatch::default()
    })
    .expect("job");
    let lease = Duration::from_secs(60);
    assert!(a.claim_job(job.id, lease).expect("a claims"));
    assert!(!b.claim_job(job.id, lease).expect("b waits"));
    a.release_job(job.id).expect("release");
    assert!(b
        .claim_job(job.id, Duration::from_millis(1))
        .expect("b claims"));
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        a.claim_job(job.id, lease).expect("lapsed"),
        "a claim whose lease lapsed is taken over"
    );
}

#[test]
fn sslmode_require_connects_over_tls_or_not_at_all() {
    let Some(server) = harness::or_skip("TLS required") else {
        return;
    };
    // The throwaway server has no TLS: a session that requires it is refused, never plaintext.
    let url = format!("{} sslmode=require", server.new_database());
    let open = |ca_file: Option<&str>| {
        let connection = Connection {
            url: Secret::new(url.clone()),
            pool_size: 1,
            ca_file: ca_file.map(Into::into),
        };
        Store::open_postgres(&connection, ReadFault::default())
            .map(drop)
            .expect_err("no TLS, no session")
            .to_string()
    };
    let refused = open(None);
    assert!(refused.to_lowercase().contains("tls"), "{refused}");
    let missing = open(Some("/nonexistent/ca.pem"));
    assert!(missing.contains("cannot read the CA file"), "{missing}");
}
