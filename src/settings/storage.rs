//! `[storage]`'s choice of backend: sled under `data_dir` (the default) or PostgreSQL at
//! `postgres_url` (several instances on one database), its environment variables, and the
//! checks. The URL is a [`Secret`]: its password never reaches a log, an error or `Debug`.

use serde::Deserialize;

use super::{Secret, Settings, SettingsError};

/// Which database holds the records.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// sled, embedded, under `storage.data_dir` (one process).
    #[default]
    Sled,
    /// PostgreSQL at `storage.postgres_url` (any number of instances).
    Postgres,
    /// fjall, embedded, under `storage.data_dir` (one process; a log-structured merge tree).
    Fjall,
}

impl std::str::FromStr for StorageBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sled" => Ok(StorageBackend::Sled),
            "postgres" => Ok(StorageBackend::Postgres),
            "fjall" => Ok(StorageBackend::Fjall),
            other => Err(format!("{other:?} is not sled, fjall or postgres")),
        }
    }
}

/// Default connections per instance.
pub(super) const DEFAULT_POOL_SIZE: usize = 8;

/// Applies a storage variable; `Ok(false)` when `name` is not one.
pub(super) fn apply_env(
    settings: &mut Settings,
    name: &str,
    value: &str,
) -> Result<bool, SettingsError> {
    let bad = |message: String| SettingsError::Env {
        name: name.to_owned(),
        message,
    };
    let storage = &mut settings.storage;
    match name {
        "KOOLICENSE_STORAGE_BACKEND" => storage.backend = value.parse().map_err(bad)?,
        "KOOLICENSE_DATABASE_URL" => storage.postgres_url = Some(Secret::new(value.trim())),
        "KOOLICENSE_DATABASE_CA_FILE" => storage.postgres_ca_file = Some(value.into()),
        "KOOLICENSE_DATABASE_POOL_SIZE" => {
            storage.postgres_pool_size = value.parse().map_err(|e| bad(format!("{e}")))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The storage settings' checks.
pub(super) fn validate(settings: &Settings) -> Result<(), String> {
    let storage = &settings.storage;
    if storage.backend == StorageBackend::Postgres
        && storage
            .postgres_url
            .as_ref()
            .is_none_or(|u| u.expose().is_empty())
    {
        return Err("storage.backend = \"postgres\" needs storage.postgres_url \
                    (or KOOLICENSE_DATABASE_URL)"
            .into());
    }
    if storage.postgres_pool_size == 0 {
        return Err("storage.postgres_pool_size must be at least 1".into());
    }
    Ok(())
}
