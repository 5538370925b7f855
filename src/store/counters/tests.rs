//! The counters stay what a full recount says: under concurrent writers, replays, status
//! changes and job moves, after a restart, and from events on the edges of a UTC day.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::store::index::tests::record;
use crate::store::market_records::{JobKind, OutboxJob};
use crate::store::WriteBatch;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

fn event(at: DateTime<Utc>, actor: &str, test: bool) -> AuditEvent {
    AuditEvent {
        id: 0,
        at,
        actor: actor.into(),
        action: "getLicense".into(),
        outcome: "issued".into(),
        license_id: None,
        instance_id: None,
        order_id: None,
        business_id: None,
        test,
        detail: None,
    }
}

fn job(id: u64, state: JobState, last_error: Option<&str>) -> OutboxJob {
    let now = Utc::now();
    OutboxJob {
        id,
        key: format!("order/{id}"),
        kind: JobKind::QueryOrder {
            instance_id: format!("i-{id}"),
            order_id: format!("o-{id}"),
            order_line_id: "l".into(),
        },
        state,
        attempts: 0,
        next_attempt_at: now,
        last_error: last_error.map(Into::into),
        created_at: now,
        updated_at: now,
        done_at: None,
    }
}

/// Every counter as stored.
fn stored(store: &Store) -> BTreeMap<Vec<u8>, u64> {
    store
        .meta
        .scan_prefix(PREFIX)
        .map(|e| {
            let (k, v) = e.expect("read");
            (k.to_vec(), read_count(&v))
        })
        .filter(|(_, v)| *v != 0)
        .collect()
}

/// Asserts that the counters are what a recount of the records sets them to.
fn assert_exact(store: &Store) {
    let kept = stored(store);
    store.recount().expect("recount");
    assert_eq!(kept, stored(store), "counters differ from a recount");
}

fn write(store: &Store, batch: WriteBatch) {
    store.write(batch).expect("write");
}

#[test]
fn counters_equal_a_recount_after_concurrent_issues_replays_releases_and_job_moves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    const THREADS: usize = 8;
    const PER_THREAD: usize = 40;
    let barrier = Arc::new(Barrier::new(THREADS));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            s.spawn(move || {
                barrier.wait();
                for i in 0..PER_THREAD {
                    let n = t * PER_THREAD + i;
                    let mut license = record(n, "c");
                    license.created_at -= Duration::days((n % 3) as i64);
                    let actor = if n % 4 == 0 { "token:ops" } else { "koomarket" };
                    let mut issued = event(license.created_at, actor, license.test);
                    issued.license_id = Some(license.license_id.clone());
                    write(
                        &store,
                        WriteBatch {
                            licenses: vec![license.clone()],
                            audit: vec![issued.clone()],
                            jobs: vec![job(n as u64 + 1, JobState::Pending, None)],
                            ..WriteBatch::default()
                        },
                    );
                    // A replay: the same record again, and one more audit event.
                    write(
                        &store,
                        WriteBatch {
                            licenses: vec![license.clone()],
                            audit: vec![issued],
                            ..WriteBatch::default()
                        },
                    );
                    let (state, error) = match n % 3 {
                        0 => (JobState::Done, None),
                        1 => (JobState::Failed, Some("refused")),
                        _ => (JobState::Pending, Some("timeout")),
                    };
                    license.status = match n % 5 {
                        0 => LicenseStatus::Released,
                        1 => LicenseStatus::Suspended,
                        _ => LicenseStatus::Active,
                    };
                    write(
                        &store,
                        WriteBatch {
                            licenses: vec![license],
                            jobs: vec![job(n as u64 + 1, state, error)],
                            ..WriteBatch::default()
                        },
                    );
                }
            });
        }
    });
    let total = (THREADS * PER_THREAD) as u64;
    let all = store.licenses_by_status(true).expect("counts");
    assert_eq!(all.values().sum::<u64>(), total, "a replay adds no license");
    assert_eq!(all["released"], total / 5);
    assert_eq!(all["suspended"], total / 5);
    let without_test = store.licenses_by_status(false).expect("counts");
    assert_eq!(without_test.values().sum::<u64>(), total / 2);
    let (jobs, retrying) = store.jobs_by_state().expect("jobs");
    assert_eq!(jobs.values().sum::<u64>(), total);
    assert_eq!(
        jobs["failed"],
        (0..total).filter(|n| n % 3 == 1).count() as u64
    );
    assert_eq!(retrying, jobs["pending"]);
    let today = Utc::now().date_naive();
    let days = store
        .daily_counts(today - Duration::days(2), today, true)
        .expect("days");
    let issued: u64 = days.values().map(|d| d.licenses_issued).sum();
    let calls: u64 = days.values().map(|d| d.marketplace_events).sum();
    assert_eq!(issued, total);
    assert_eq!(
        calls,
        2 * (total - total / 4),
        "every recorded call, replays too"
    );
    assert_exact(&store);

    store.close().expect("close");
    drop(store);
    let store = Store::open(dir.path(), 8).expect("reopen");
    assert_eq!(store.licenses_by_status(true).expect("counts"), all);
    assert_exact(&store);
}

#[test]
fn marketplace_calls_are_counted_on_their_utc_day_by_test_flag_and_actor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    let events = [
        ("2026-03-07T23:59:59Z", "koomarket", false),
        ("2026-03-08T00:00:00Z", "koomarket", false),
        ("2026-03-10T07:00:00Z", "koomarket", false),
        ("2026-03-10T07:00:00Z", "koomarket", true),
        ("2026-03-10T07:00:00Z", "token:abc", false),
        ("2026-03-11T00:00:00Z", "koomarket", false),
    ];
    write(
        &store,
        WriteBatch {
            audit: events
                .iter()
                .map(|(t, actor, test)| event(at(t), actor, *test))
                .collect(),
            ..WriteBatch::default()
        },
    );
    let window = |include_test| -> Vec<(String, u64)> {
        let first = at("2026-03-08T00:00:00Z").date_naive();
        let last = at("2026-03-10T00:00:00Z").date_naive();
        store
            .daily_counts(first, last, include_test)
            .expect("days")
            .into_iter()
            .map(|(d, c)| (d.to_string(), c.marketplace_events))
            .collect()
    };
    let day = |d: &str, n| (d.to_owned(), n);
    assert_eq!(
        window(false),
        [
            day("2026-03-08", 1),
            day("2026-03-09", 0),
            day("2026-03-10", 1)
        ]
    );
    assert_eq!(window(true)[2], day("2026-03-10", 2));
    assert_exact(&store);
}

#[test]
fn every_status_and_job_state_is_reported_even_when_nothing_has_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    let names: Vec<_> = store
        .licenses_by_status(false)
        .expect("counts")
        .into_iter()
        .collect();
    assert_eq!(
        names,
        [
            ("active", 0),
            ("frozen", 0),
            ("released", 0),
            ("revoked", 0),
            ("suspended", 0)
        ]
    );
    let (jobs, retrying) = store.jobs_by_state().expect("jobs");
    assert_eq!(jobs.len(), 3);
    assert_eq!((jobs.values().sum::<u64>(), retrying), (0, 0));
}

#[test]
fn a_recount_replaces_wrong_counters_and_changes_nothing_when_run_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8).expect("open");
    write(
        &store,
        WriteBatch {
            licenses: (0..4).map(|n| record(n, "c")).collect(),
            ..WriteBatch::default()
        },
    );
    let right = stored(&store);
    let stale = Kind::Licenses.key(&[super::super::index::status_byte(LicenseStatus::Revoked), 0]);
    store
        .meta
        .insert(&stale, 9u64.to_be_bytes())
        .expect("stale");
    store.recount().expect("recount");
    assert_eq!(stored(&store), right);
    store.recount().expect("again");
    assert_eq!(stored(&store), right);
}
