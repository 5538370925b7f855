//! Reading (and breaking) a stopped app's database directly, on either backend: what HTTP does
//! not show (a license's lifecycle status) and storage failures a test needs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::is_lock_error;

/// Opens the sled database of a stopped app (see [`build_when_unlocked`] for the wait).
pub(crate) fn open_stopped_db(data_dir: &Path) -> sled::Db {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sled::Config::new()
            .path(data_dir.join("db").join("v1"))
            .open()
        {
            Err(e) if is_lock_error(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result.expect("open the stopped app's database"),
        }
    }
}

/// Overwrites the stored license of `instance` with bytes that are no record, in a stopped
/// service's data directory: the cleanest storage failure (000005) a test can produce.
pub(crate) fn corrupt_stored_license(data_dir: &Path, instance: &str) {
    if let Some(url) = crate::support::database_of(data_dir) {
        let mut client = crate::support::postgres::connect(&url).expect("connect");
        let changed = client
            .execute(
                "UPDATE kv_licenses SET v = 'not a record'::bytea WHERE position($1::bytea in v) > 0",
                &[&instance.as_bytes()],
            )
            .expect("corrupt it");
        assert_eq!(changed, 1, "one record holds the instance");
        return;
    }
    let db = open_stopped_db(data_dir);
    let licenses = db.open_tree("licenses").expect("tree");
    let (key, _) = licenses
        .iter()
        .map(|e| e.expect("read"))
        .find(|(_, v)| String::from_utf8_lossy(v).contains(instance))
        .expect("the record");
    licenses.insert(key, "not a record").expect("corrupt it");
    db.flush().expect("flush");
}

/// The license records of a stopped app's database, as the API shows them. Reads the database
/// directly: the lifecycle status (frozen, released) is not visible over HTTP.
pub(crate) fn stored_licenses(data_dir: &Path) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match koolicense::store_support::stored_licenses(&crate::support::storage_of(data_dir)) {
            Err(e) if is_lock_error(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result.expect("read the stopped app's licenses"),
        }
    }
}

/// The stored record of one instance of a stopped app.
pub(crate) fn stored_license(data_dir: &Path, instance_id: &str) -> Value {
    stored_licenses(data_dir)
        .into_iter()
        .find(|r| r["instance_id"].as_str() == Some(instance_id))
        .unwrap_or_else(|| panic!("no stored license for instance {instance_id}"))
}
