//! `koolicense migrate --from-sled DIR (--database-url URL | --to-fjall DIR)`: a stopped sled
//! service's data moved into an empty PostgreSQL database, or into fjall beside it, answers every
//! order byte-identically; a target that is not empty is refused. The PostgreSQL case needs a
//! server (skipped loudly without one).

use std::path::Path;
use std::process::Command;

use crate::helpers::{new_dir, try_spawn, Config, Order};
use crate::support;

fn migrate(from: &Path, target: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_koolicense"))
        .arg("migrate")
        .arg("--from-sled")
        .arg(from)
        .args(target)
        .env_remove("KOOLICENSE_DATABASE_URL")
        .output()
        .expect("run koolicense migrate")
}

/// Fills a sled service, moves it with `target`'s arguments, checks the refusal of a second
/// copy, then restarts the same data directory on the target (`use_target` points it there)
/// and compares every answer.
fn moved_data_answers_byte_identically(
    target: impl Fn(&Path) -> Vec<String>,
    use_target: impl FnOnce(&Path),
) {
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

    let args = target(&data_dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = migrate(&data_dir, &args);
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

    let again = migrate(&data_dir, &args);
    assert!(
        !again.status.success(),
        "a database that is not empty is refused"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The same data directory (its keys), now on the target.
    use_target(&data_dir);
    let app = try_spawn(Config::default(), dir).expect("the service starts on the target");
    for (order, license) in orders.iter().zip(&answers).skip(1) {
        assert_eq!(app.provision(order).license(), license.as_str());
    }
    assert_eq!(app.license_count(), 12);
    let fresh = app.provision(&Order::new());
    app.verify(fresh.license());
}

#[test]
fn a_sled_database_moved_to_postgres_answers_every_order_byte_identically() {
    let Some(server) = support::postgres::or_skip("migrate --from-sled") else {
        return;
    };
    let url = server.new_database();
    moved_data_answers_byte_identically(
        |_| vec!["--database-url".into(), url.clone()],
        |data_dir| support::use_database(data_dir, &url),
    );
}

#[test]
fn a_sled_database_moved_to_fjall_answers_every_order_byte_identically() {
    moved_data_answers_byte_identically(
        |data_dir| vec!["--to-fjall".into(), data_dir.display().to_string()],
        support::pin_fjall,
    );
}

#[test]
fn a_migration_without_a_target_is_refused_with_a_reason() {
    let output = migrate(&new_dir().path().join("data"), &[]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("name one target"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
