//! Harness pieces shared across the suite: the throwaway PostgreSQL ([`postgres`]), the choice
//! of backend the whole suite runs on (`KOOLICENSE_TEST_BACKEND=postgres`, else sled), the
//! orders tests send ([`order`]) and direct access to a stopped app's database ([`stopped`]).

pub(crate) mod order;
pub(crate) mod postgres;
pub(crate) mod stopped;

use std::path::{Path, PathBuf};

use koolicense::settings::{Secret, StorageBackend, StorageSettings};

/// Whether the suite runs on PostgreSQL (`KOOLICENSE_TEST_BACKEND=postgres`).
pub(crate) fn on_postgres() -> bool {
    std::env::var("KOOLICENSE_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// Where the backend of a data directory is recorded at its first use (so a restarted app, and
/// the command line, find its data): the database URL, or `sled`.
fn url_file(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.as_os_str().to_owned();
    name.push(".database-url");
    PathBuf::from(name)
}

/// Keeps `data_dir` on sled whatever the suite runs on: for tests inherently about sled (its
/// files, a full disk under it, its backup format), which say so where they call this.
pub(crate) fn pin_sled(data_dir: &Path) {
    let file = url_file(data_dir);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).expect("create the parent directory");
    }
    std::fs::write(file, "sled").expect("write the backend file");
}

/// Runs `data_dir` on fjall whatever the suite runs on (its data moved there).
pub(crate) fn pin_fjall(data_dir: &Path) {
    let file = url_file(data_dir);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).expect("create the parent directory");
    }
    std::fs::write(file, "fjall").expect("write the backend file");
}

/// Points `data_dir` at an existing database (a second instance on the same data).
pub(crate) fn use_database(data_dir: &Path, url: &str) {
    let file = url_file(data_dir);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).expect("create the parent directory");
    }
    std::fs::write(file, url).expect("write the database URL file");
}

/// The PostgreSQL database of `data_dir` (created on first use), when the suite runs on it.
pub(crate) fn database_of(data_dir: &Path) -> Option<String> {
    let file = url_file(data_dir);
    if let Ok(url) = std::fs::read_to_string(&file) {
        return (url != "sled" && url != "fjall").then_some(url);
    }
    if !on_postgres() {
        return None;
    }
    let server = postgres::available()
        .unwrap_or_else(|why| panic!("KOOLICENSE_TEST_BACKEND=postgres but no PostgreSQL: {why}"));
    let url = server.new_database();
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).expect("create the parent directory");
    }
    std::fs::write(&file, &url).expect("write the database URL file");
    Some(url)
}

/// The storage settings of `data_dir` on the suite's backend.
pub(crate) fn storage_of(data_dir: &Path) -> StorageSettings {
    let mut storage = StorageSettings {
        data_dir: data_dir.to_path_buf(),
        cache_capacity_mb: 8,
        ..StorageSettings::default()
    };
    if std::fs::read_to_string(url_file(data_dir)).is_ok_and(|b| b == "fjall") {
        storage.backend = StorageBackend::Fjall;
    } else if let Some(url) = database_of(data_dir) {
        storage.backend = StorageBackend::Postgres;
        storage.postgres_url = Some(Secret::new(url));
    }
    storage
}

/// Points `settings` at its data directory's database on the suite's backend.
pub(crate) fn apply(settings: &mut koolicense::settings::Settings) {
    let storage = storage_of(&settings.storage.data_dir);
    settings.storage.backend = storage.backend;
    settings.storage.postgres_url = storage.postgres_url;
    settings.storage.postgres_pool_size = storage.postgres_pool_size;
}

/// The environment that points the binary at `data_dir`'s database on the suite's backend.
pub(crate) fn storage_env(data_dir: &Path) -> Vec<(String, String)> {
    match database_of(data_dir) {
        Some(url) => vec![
            ("KOOLICENSE_STORAGE_BACKEND".into(), "postgres".into()),
            ("KOOLICENSE_DATABASE_URL".into(), url),
        ],
        None => Vec::new(),
    }
}
