//! `koolicense migrate --from-sled DIR --database-url URL`: a stopped sled service's data moved
//! into an empty PostgreSQL database answers every order byte-identically; a database that is
//! not empty is refused. Needs a PostgreSQL server (skipped loudly without one).

use std::process::Command;

use crate::helpers::{new_dir, try_spawn, Config, Order};
use crate::support;

fn migrate(from: &std::path::Path, url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_koolicense"))
        .arg("migrate")
        .arg("--from-sled")
        .arg(from)
        .args(["--database-url", url])
        .env_remove("KOOLICENSE_DATABASE_URL")
        .output()
        .expect("run koolicense migrate")
}

#[test]
fn a_sled_database_moved_to_postgres_answers_every_order_byte_identically() {
    let Some(server) = support::postgres::or_skip("migrate --from-sled") else {
        return;
    };
    let sled_only = Config {
        sled_only: true,
        ..Config::default()
    };
    let app = try_spawn(sled_only, new_dir()).expect("the sled service starts");
    let orders: Vec<Order> = (0..12).map(|_| Order::new()).collect();
    let answers: Vec<String> = orders
        .iter()
        .map(|o| app.provision(o).license().to_owned())
        .collect();
    let released = app.get_license(&orders[0]).instance_id().to_owned();
    app.call("releaseLicense", &[("instanceId", &released)])
        .expect("000000");
    let data_dir = app.data_dir.clone();
    let dir = app.stop();

    let url = server.new_database();
    let output = migrate(&data_dir, &url);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("12 licenses are byte-identical"),
        "{stdout}"
    );

    let again = migrate(&data_dir, &url);
    assert!(
        !again.status.success(),
        "a database that is not empty is refused"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The same data directory (its keys), now on PostgreSQL.
    support::use_database(&data_dir, &url);
    let app = try_spawn(Config::default(), dir).expect("the service starts on PostgreSQL");
    for (order, license) in orders.iter().zip(&answers).skip(1) {
        assert_eq!(app.provision(order).license(), license.as_str());
    }
    assert_eq!(app.license_count(), 12);
    let fresh = app.provision(&Order::new());
    app.verify(fresh.license());
}
