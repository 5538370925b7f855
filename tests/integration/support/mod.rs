//! Harness pieces shared across the suite: the throwaway PostgreSQL ([`postgres`]), the choice
//! of backend the whole suite runs on (`KOOLICENSE_TEST_BACKEND=postgres` or `=fjall`, else
//! sled), the orders tests send ([`order`]) and direct access to a stopped app's database
//! ([`stopped`]).

pub(crate) mod order;
pub(crate) mod postgres;
pub(crate) mod stopped;

use std::path::{Path, PathBuf};

use koolicense::settings::{Secret, StorageBackend, StorageSettings};

/// Whether the suite runs on `backend` (`KOOLICENSE_TEST_BACKEND`).
fn suite_on(backend: &str) -> bool {
    std::env::var("KOOLICENSE_TEST_BACKEND").is_ok_and(|b| b == backend)
}

/// Whether the suite runs on PostgreSQL (`KOOLICENSE_TEST_BACKEND=postgres`).
pub(crate) fn on_postgres() -> bool {
    suite_on("postgres")
}

/// Whether the suite runs on fjall (`KOOLICENSE_TEST_BACKEND=fjall`).
pub(crate) fn on_fjall() -> bool {
    suite_on("fjall")
}

/// Where the backend of a data directory is recorded at its first use (so a restarted app, and
/// the command line, find its data): the database URL, `sled` or `fjall`.
fn url_file(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.as_os_str().to_owned();
    name.push(".database-url");
    PathBuf::from(name)
}

/// Records the backend of `data_dir` (a database URL, `sled` or `fjall`).
fn record(data_dir: &Path, backend: &str) {
    let file = url_file(data_dir);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).expect("create the parent directory");
    }
    std::fs::write(file, backend).expect("write the backend file");
}

/// Keeps `data_dir` on sled whatever the suite runs on: for tests inherently about sled (its
/// files, the move from sled to PostgreSQL), which say so where they call this.
pub(crate) fn pin_sled(data_dir: &Path) {
    record(data_dir, "sled");
}

/// Keeps `data_dir` on an embedded backend, the suite's own when it is one (fjall), else sled:
/// for tests about the database's files in the data directory (a full disk under them, their
/// permissions, a restore writing them), which say so where they call this.
pub(crate) fn pin_embedded(data_dir: &Path) {
    record(data_dir, if on_fjall() { "fjall" } else { "sled" });
}

/// Runs `data_dir` on fjall whatever the suite runs on (its data moved there).
pub(crate) fn pin_fjall(data_dir: &Path) {
    record(data_dir, "fjall");
}

/// Points `data_dir` at an existing database (a second instance on the same data).
pub(crate) fn use_database(data_dir: &Path, url: &str) {
    record(data_dir, url);
}

/// The backend of `data_dir`: the one recorded for it, else the suite's (recorded now; a
/// PostgreSQL database is created on first use).
pub(crate) fn backend_of(data_dir: &Path) -> StorageBackend {
    match std::fs::read_to_string(url_file(data_dir)).as_deref() {
        Ok("sled") => StorageBackend::Sled,
        Ok("fjall") => StorageBackend::Fjall,
        Ok(_) => StorageBackend::Postgres,
        Err(_) if on_postgres() => {
            let server = postgres::available().unwrap_or_else(|why| {
                panic!("KOOLICENSE_TEST_BACKEND=postgres but no PostgreSQL: {why}")
            });
            record(data_dir, &server.new_database());
            StorageBackend::Postgres
        }
        Err(_) if on_fjall() => {
            record(data_dir, "fjall");
            StorageBackend::Fjall
        }
        Err(_) => StorageBackend::Sled,
    }
}

/// The PostgreSQL database of `data_dir` (created on first use), when the suite runs on it.
pub(crate) fn database_of(data_dir: &Path) -> Option<String> {
    match backend_of(data_dir) {
        StorageBackend::Postgres => {
            Some(std::fs::read_to_string(url_file(data_dir)).expect("read the database URL file"))
        }
        StorageBackend::Sled | StorageBackend::Fjall => None,
    }
}

/// The storage settings of `data_dir` on the suite's backend.
pub(crate) fn storage_of(data_dir: &Path) -> StorageSettings {
    let mut storage = StorageSettings {
        data_dir: data_dir.to_path_buf(),
        cache_capacity_mb: 8,
        backend: backend_of(data_dir),
        ..StorageSettings::default()
    };
    if let Some(url) = database_of(data_dir) {
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
    let backend = |name: &str| ("KOOLICENSE_STORAGE_BACKEND".to_owned(), name.to_owned());
    match (backend_of(data_dir), database_of(data_dir)) {
        (StorageBackend::Postgres, Some(url)) => {
            vec![backend("postgres"), ("KOOLICENSE_DATABASE_URL".into(), url)]
        }
        (StorageBackend::Fjall, _) => vec![backend("fjall")],
        _ => Vec::new(),
    }
}
