//! Two instances on one PostgreSQL database, whatever backend the rest of the suite runs on
//! (without a server each test says loudly that it skips; `KOOLICENSE_REQUIRE_ALL=1` makes that
//! a failure): duplicates split across both yield one instance and one
//! license; `kill -9` of one instance in the middle of a burst loses nothing it acknowledged
//! and the other answers the marketplace's retries byte-identically; both publish one key set.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::binary::Server;
use crate::durability::{client, get_license};
use crate::helpers::{new_dir, try_spawn, Config, Order, TestApp};
use crate::support;

/// Puts `data_dir` on a fresh PostgreSQL database; `None` (said loudly) without a server.
fn on_postgres(test: &str, data_dir: &Path) -> Option<()> {
    let server = support::postgres::or_skip(test)?;
    support::use_database(data_dir, &server.new_database());
    Some(())
}

/// Points a new data directory at `first`'s database.
fn share_database(first: &Path, second: &Path) {
    let url = support::database_of(first).expect("a database");
    support::use_database(second, &url);
}

/// A second app on `first`'s database, signing with `first`'s key.
fn second_instance(first: &TestApp) -> TestApp {
    let dir = new_dir();
    share_database(&first.data_dir, &dir.path().join("data"));
    let config = Config {
        signing_key_file: Some(dev_key(&first.data_dir)),
        ..Config::default()
    };
    try_spawn(config, dir).expect("the second instance starts")
}

fn dev_key(data_dir: &Path) -> PathBuf {
    koolicense::startup::dev_signing_key_path(data_dir)
}

#[test]
fn forty_duplicates_of_one_order_split_across_two_instances_yield_one_license() {
    let dir = new_dir();
    if on_postgres("two instances, forty duplicates", &dir.path().join("data")).is_none() {
        return;
    }
    let a = try_spawn(Config::default(), dir).expect("the first instance starts");
    let b = second_instance(&a);
    assert_eq!(a.keys(), b.keys(), "both publish the same key set");
    let order = Order::new();
    let answers: Vec<(String, String)> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..40)
            .map(|i| {
                let (app, order) = (if i % 2 == 0 { &a } else { &b }, &order);
                s.spawn(move || {
                    let answer = app.get_license(order);
                    answer.expect("000000");
                    (answer.instance_id().to_owned(), answer.license().to_owned())
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().expect("call")).collect()
    });
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "one instance and byte-identical licenses from both"
    );
    assert_eq!(a.license_count(), 1);
    assert_eq!(b.license_count(), 1);
    a.verify(&answers[0].1);
}

const CLIENTS: usize = 8;
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1500);
const CLIENT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn killing_one_of_two_instances_mid_burst_loses_nothing_and_the_other_answers_the_retries() {
    let (dir_a, dir_b) = (new_dir(), new_dir());
    let (data_a, data_b) = (dir_a.path().join("data"), dir_b.path().join("data"));
    if on_postgres("two instances, kill -9 of one", &data_a).is_none() {
        return;
    }
    let mut a = Server::start(&data_a, dir_a.path().join("a.log"), &[]);
    share_database(&data_a, &data_b);
    let key = dev_key(&data_a);
    let key = key.to_str().expect("utf-8 path");
    let b = Server::start(
        &data_b,
        dir_b.path().join("b.log"),
        &[("KOOLICENSE_SIGNING_KEY_FILE", key)],
    );
    let (url_a, url_b) = (a.market_url(), b.market_url());
    let acknowledged: Mutex<Vec<(Order, String, String)>> = Mutex::new(Vec::new());
    let unanswered: Mutex<Vec<Order>> = Mutex::new(Vec::new());
    let killed = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for client_no in 0..CLIENTS {
            let url = if client_no % 2 == 0 { &url_a } else { &url_b };
            let (acknowledged, unanswered, killed) = (&acknowledged, &unanswered, &killed);
            s.spawn(move || {
                let agent = client();
                let mut n = 0;
                while started.elapsed() < CLIENT_LIMIT {
                    n += 1;
                    let mut order = Order::new();
                    order.order_id = format!("HA-{client_no}-{n}");
                    order.identifier = Some(format!("SYSCODE-{client_no}-{n}"));
                    match get_license(&agent, url, &order) {
                        Ok((instance, license)) => {
                            acknowledged
                                .lock()
                                .expect("lock")
                                .push((order, instance, license));
                        }
                        Err(_) if killed.load(Ordering::SeqCst) => {
                            unanswered.lock().expect("lock").push(order);
                            break;
                        }
                        Err(e) => panic!("call failed before the kill: {e}"),
                    }
                    if killed.load(Ordering::SeqCst) && client_no % 2 == 1 && n % 50 == 0 {
                        break;
                    }
                }
            });
        }
        std::thread::sleep(LOAD_BEFORE_KILL);
        killed.store(true, Ordering::SeqCst);
        a.kill();
    });
    let acknowledged = acknowledged.into_inner().expect("lock");
    let unanswered = unanswered.into_inner().expect("lock");
    eprintln!(
        "two instances: {} acknowledged, {} cut off by the kill",
        acknowledged.len(),
        unanswered.len()
    );
    assert!(
        acknowledged.len() >= CLIENTS,
        "too little load before the kill"
    );
    // The marketplace retries everything at the survivor.
    let agent = client();
    for (order, instance, license) in &acknowledged {
        let (again_instance, again) = get_license(&agent, &url_b, order).expect("000000");
        assert_eq!(
            (&again_instance, &again),
            (instance, license),
            "order {}",
            order.order_id
        );
    }
    for order in &unanswered {
        get_license(&agent, &url_b, order).expect("an unanswered order is issued at the retry");
    }
}

#[test]
fn the_outbox_sends_a_job_once_with_two_instances_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    if on_postgres("two instances, outbox", &dir.path().join("data")).is_none() {
        return;
    }
    crate::post::outbox::a_job_is_sent_once_by_two_instances(dir, share_database);
}
