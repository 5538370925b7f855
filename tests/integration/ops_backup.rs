//! Online backup and offline restore, through the command line as an operator runs them.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::api::{spawn_api_app, spawn_api_app_with};
use crate::helpers::{new_dir, try_spawn, Config, Order};

fn koolicense(args: &[&str], paths: &[&Path]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_koolicense"));
    command.args(args);
    for path in paths {
        command.arg(path);
    }
    command.env_remove("KOOLICENSE_API_TOKEN");
    command.output().expect("run koolicense")
}

/// A restore writes an embedded database: the suite's own when it is one (fjall), else sled
/// (PostgreSQL is backed up with its own tools).
fn embedded_only() -> Config {
    Config {
        embedded_only: true,
        ..Config::default()
    }
}

/// `koolicense restore` into `data_dir`, as the backend recorded for it (an embedded one).
fn restore(file: &Path, data_dir: &Path) -> Output {
    crate::support::pin_embedded(data_dir);
    let mut command = Command::new(env!("CARGO_BIN_EXE_koolicense"));
    command
        .args(["restore", "--from"])
        .arg(file)
        .arg("--data-dir")
        .arg(data_dir)
        .envs(crate::support::storage_env(data_dir));
    command.output().expect("run koolicense restore")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

#[test]
fn a_backup_taken_under_load_restores_every_order_acknowledged_before_it_began() {
    let api = spawn_api_app_with(embedded_only());
    let app = &api.app;
    let acknowledged: Mutex<Vec<(Order, String, String)>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let backup_dir = new_dir();
    let file = backup_dir.path().join("koolicense.backup");
    let (before, during) = std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let order = Order::new().with("expireTime", "20300101000000");
                    let answer = app.get_license(&order);
                    answer.expect("000000");
                    let (instance, license) =
                        (answer.instance_id().to_owned(), answer.license().to_owned());
                    acknowledged
                        .lock()
                        .expect("lock")
                        .push((order, instance, license));
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while acknowledged.lock().expect("lock").len() < 40 {
            assert!(Instant::now() < deadline, "the load did not get going");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Everything in the list now was acknowledged before the backup began.
        let before = acknowledged.lock().expect("lock").clone();
        let output = koolicense(
            &[
                "backup",
                "--url",
                &app.base_url(),
                "--token",
                &api.write,
                "--out",
            ],
            &[&file],
        );
        let during = acknowledged.lock().expect("lock").len() - before.len();
        stop.store(true, Ordering::Relaxed);
        assert!(
            output.status.success(),
            "backup failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        (before, during)
    });
    eprintln!(
        "{} orders acknowledged before the backup, {during} while it ran",
        before.len()
    );
    let original = app.data_dir.clone();
    let _original_dir = api.app.stop();

    let restored_dir = new_dir();
    let restored = restored_dir.path().join("data");
    let output = koolicense(&["restore", "--from"], &[&file]);
    assert!(!output.status.success(), "--data-dir is required");
    let output = restore(&file, &restored);
    assert!(
        output.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The development signing key lives beside the database, not in it: carry it over.
    copy_dir(&original.join("keys"), &restored.join("keys"));
    let again = restore(&file, &restored);
    assert!(!again.status.success(), "a non-empty directory is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let app = try_spawn(embedded_only(), restored_dir).expect("the restored service starts");
    for (order, instance, license) in &before {
        let answer = app.get_license(order);
        answer.expect("000000");
        assert_eq!(answer.instance_id(), instance);
        assert_eq!(answer.license(), license, "byte-identical license");
    }
}

#[test]
fn a_damaged_backup_is_refused_and_a_read_token_cannot_take_one() {
    let api = spawn_api_app();
    api.app.provision(&Order::new());
    let denied = api.get("/v1/backup", &api.read);
    assert_eq!(denied.status, 403, "{}", denied.text);
    let dir = new_dir();
    let file = dir.path().join("b");
    let output = koolicense(
        &[
            "backup",
            "--url",
            &api.app.base_url(),
            "--token",
            &api.write,
            "--out",
        ],
        &[&file],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut bytes = std::fs::read(&file).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&file, &bytes).expect("write");
    let output = restore(&file, &dir.path().join("restored"));
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("damaged"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_restore_configured_for_postgresql_is_refused_with_the_way_there() {
    let dir = new_dir();
    let data_dir = dir.path().join("restored");
    let output = Command::new(env!("CARGO_BIN_EXE_koolicense"))
        .args(["restore", "--from"])
        .arg(dir.path().join("any.backup"))
        .arg("--data-dir")
        .arg(&data_dir)
        .env("KOOLICENSE_STORAGE_BACKEND", "postgres")
        .env(
            "KOOLICENSE_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .output()
        .expect("run koolicense restore");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("koolicense migrate"), "{stderr}");
    assert!(!data_dir.exists(), "nothing is written");
}
