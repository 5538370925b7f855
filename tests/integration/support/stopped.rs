//! Reading (and breaking) a stopped app's database directly, on any backend: what HTTP does not
//! show (a license's lifecycle status) and storage failures a test needs.

use std::path::Path;
use std::time::{Duration, Instant};

use koolicense::settings::StorageBackend;
use serde_json::Value;

use crate::helpers::is_lock_error;

/// Runs `open` until it no longer fails on the lock a stopped app's last worker thread may hold
/// a moment after the server reported the stop (bounded).
fn when_unlocked<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match open() {
            Err(e) if is_lock_error(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => {
                return result.unwrap_or_else(|e| panic!("open the stopped app's database: {e}"))
            }
        }
    }
}

/// Opens the sled database of a stopped app.
fn open_stopped_sled(data_dir: &Path) -> sled::Db {
    when_unlocked(|| {
        sled::Config::new()
            .path(data_dir.join("db").join("v1"))
            .open()
    })
}

/// Opens the fjall database of a stopped app.
fn open_stopped_fjall(data_dir: &Path) -> fjall::Database {
    when_unlocked(|| fjall::Database::builder(data_dir.join("fjall")).open())
}

/// Returns once a stopped app has let go of its embedded database (at once on PostgreSQL).
pub(crate) fn wait_until_released(data_dir: &Path) {
    match crate::support::backend_of(data_dir) {
        StorageBackend::Sled => drop(open_stopped_sled(data_dir)),
        StorageBackend::Fjall => drop(open_stopped_fjall(data_dir)),
        StorageBackend::Postgres => {}
    }
}

/// Overwrites the stored license of `instance` with bytes that are no record, in a stopped
/// service's data directory: the cleanest storage failure (000005) a test can produce.
pub(crate) fn corrupt_stored_license(data_dir: &Path, instance: &str) {
    let holds = |v: &[u8]| String::from_utf8_lossy(v).contains(instance);
    match crate::support::backend_of(data_dir) {
        StorageBackend::Postgres => {
            let url = crate::support::database_of(data_dir).expect("a database");
            let mut client = crate::support::postgres::connect(&url).expect("connect");
            let changed = client
                .execute(
                    "UPDATE kv_licenses SET v = 'not a record'::bytea WHERE position($1::bytea in v) > 0",
                    &[&instance.as_bytes()],
                )
                .expect("corrupt it");
            assert_eq!(changed, 1, "one record holds the instance");
        }
        StorageBackend::Sled => {
            let db = open_stopped_sled(data_dir);
            let licenses = db.open_tree("licenses").expect("tree");
            let (key, _) = licenses
                .iter()
                .map(|e| e.expect("read"))
                .find(|(_, v)| holds(v))
                .expect("the record");
            licenses.insert(key, "not a record").expect("corrupt it");
            db.flush().expect("flush");
        }
        StorageBackend::Fjall => {
            let db = open_stopped_fjall(data_dir);
            let licenses = db
                .keyspace("licenses", fjall::KeyspaceCreateOptions::default)
                .expect("keyspace");
            let key = licenses
                .iter()
                .map(|entry| entry.into_inner().expect("read"))
                .find(|(_, v)| holds(v))
                .map(|(k, _)| k)
                .expect("the record");
            licenses.insert(key, "not a record").expect("corrupt it");
            db.persist(fjall::PersistMode::SyncAll).expect("sync");
        }
    }
}

/// The license records of a stopped app's database, as the API shows them. Reads the database
/// directly: the lifecycle status (frozen, released) is not visible over HTTP.
pub(crate) fn stored_licenses(data_dir: &Path) -> Vec<Value> {
    let storage = crate::support::storage_of(data_dir);
    when_unlocked(|| koolicense::store_support::stored_licenses(&storage))
}

/// The stored record of one instance of a stopped app.
pub(crate) fn stored_license(data_dir: &Path, instance_id: &str) -> Value {
    stored_licenses(data_dir)
        .into_iter()
        .find(|r| r["instance_id"].as_str() == Some(instance_id))
        .unwrap_or_else(|| panic!("no stored license for instance {instance_id}"))
}
