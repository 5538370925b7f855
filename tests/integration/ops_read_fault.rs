//! Fail-stop on a failed READ, on the backend the suite runs on: the first read error fails
//! storage as a failed write does. The service reports it at `/readyz` (503 with the reason),
//! acknowledges nothing from then on (not even a retry it could answer from what it read
//! before), and exits non-zero so that it is restarted. The fault is injected
//! (`StartOptions::read_fault`); on PostgreSQL (whatever backend the suite runs on, skipped
//! loudly without a server) a real one is made too: the licenses table vanishes under a
//! running binary.

use std::time::{Duration, Instant};

use koolicense::store_support::ReadFault;

use crate::binary::Server;
use crate::durability::{client, get_license};
use crate::helpers::{new_dir, spawn_app_with, Config, Order, TestApp};
use crate::support;

/// `/readyz` must answer 503 with the storage failure as its reason.
fn assert_unready(app: &TestApp) {
    let (status, body) = app.get_json("/readyz");
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "storage_failed", "{body}");
}

#[test]
fn a_failed_read_makes_the_service_unready_acknowledges_nothing_and_stops_it() {
    let fault = ReadFault::default();
    let app = spawn_app_with(Config {
        read_fault: fault.clone(),
        ..Config::default()
    });
    let order = Order::new();
    app.provision(&order);
    fault.arm();
    app.get_license(&Order::new()).expect("000005");
    assert_unready(&app);
    // The retry of an acknowledged order is not acknowledged again either.
    app.get_license(&order).expect("000005");
    let error = app
        .wait_for_exit()
        .expect_err("the service stops with an error");
    assert!(error.contains("storage failed"), "{error}");
}

#[test]
fn on_postgres_a_table_lost_under_a_running_binary_stops_it_non_zero_and_loses_nothing() {
    let dir = new_dir();
    let data_dir = dir.path().join("data");
    let Some(server) = support::postgres::or_skip("a table lost under a running binary") else {
        return;
    };
    support::use_database(&data_dir, &server.new_database());
    let log = dir.path().join("server.log");
    let mut server = Server::start(&data_dir, log.clone(), &[]);
    let agent = client();
    let order = Order::new();
    let acknowledged = get_license(&agent, &server.market_url(), &order).expect("000000");
    let url = support::database_of(&data_dir).expect("a database");
    let mut db = support::postgres::connect(&url).expect("connect");
    db.batch_execute("ALTER TABLE kv_licenses RENAME TO kv_licenses_away")
        .expect("take the table away");
    let failed = get_license(&agent, &server.market_url(), &Order::new())
        .expect_err("a failed read is never a success");
    assert!(failed.contains("000005"), "{failed}");
    let retried = get_license(&agent, &server.market_url(), &order)
        .expect_err("nothing is acknowledged after the failure");
    assert!(retried.contains("000005"), "{retried}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the service did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "exit status {status}");
    db.batch_execute("ALTER TABLE kv_licenses_away RENAME TO kv_licenses")
        .expect("give the table back");
    let server = Server::start(&data_dir, log, &[]);
    let again = get_license(&agent, &server.market_url(), &order).expect("000000");
    assert_eq!(
        again, acknowledged,
        "the acknowledged license is answered byte-identically"
    );
}
