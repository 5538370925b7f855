//! `KOOLICENSE_*` environment variables: which exist, which belong to the test suites (never
//! settings), and how each overrides the configuration.

use std::path::PathBuf;

use super::{post, storage, LogFormat, Secret, Settings, SettingsError};

/// Every environment variable the service reads, with the setting it overrides.
const ENV_VARS: &[(&str, &str)] = &[
    ("KOOLICENSE_CONFIG", "path of the TOML configuration file"),
    ("KOOLICENSE_LISTEN", "server.listen"),
    ("KOOLICENSE_WORKERS", "server.workers"),
    ("KOOLICENSE_METRICS_LISTEN", "server.metrics_listen"),
    (
        "KOOLICENSE_TRUSTED_PROXIES",
        "api.trusted_proxies (comma-separated CIDRs)",
    ),
    ("KOOLICENSE_DATA_DIR", "storage.data_dir"),
    ("KOOLICENSE_CACHE_CAPACITY_MB", "storage.cache_capacity_mb"),
    (
        "KOOLICENSE_STORAGE_BACKEND",
        "storage.backend (sled, fjall or postgres)",
    ),
    ("KOOLICENSE_DATABASE_URL", "storage.postgres_url"),
    ("KOOLICENSE_DATABASE_CA_FILE", "storage.postgres_ca_file"),
    (
        "KOOLICENSE_DATABASE_POOL_SIZE",
        "storage.postgres_pool_size",
    ),
    ("KOOLICENSE_SIGNING_KEY_FILE", "signing.key_file"),
    ("KOOLICENSE_KOOMARKET_PATH", "koomarket.path"),
    ("KOOLICENSE_KOOMARKET_KEY", "koomarket.keys (current key)"),
    (
        "KOOLICENSE_KOOMARKET_PREVIOUS_KEYS",
        "koomarket.keys (comma-separated previous keys, still accepted)",
    ),
    (
        "KOOLICENSE_KOOMARKET_TIMESTAMP_WINDOW_SECS",
        "koomarket.timestamp_window_secs",
    ),
    (
        "KOOLICENSE_KOOMARKET_ACCESS_KEY",
        "koomarket.access_keys (current access key, POST interfaces)",
    ),
    (
        "KOOLICENSE_KOOMARKET_PREVIOUS_ACCESS_KEYS",
        "koomarket.access_keys (comma-separated previous access keys, still accepted)",
    ),
    (
        "KOOLICENSE_KOOMARKET_SCHEME_B_READING",
        "koomarket.scheme_b_reading",
    ),
    (
        "KOOLICENSE_KOOMARKET_SCHEME_B_WINDOW_SECS",
        "koomarket.scheme_b_window_secs",
    ),
    (
        "KOOLICENSE_KOOMARKET_STALE_EXPIRE_TOLERANCE_SECS",
        "koomarket.stale_expire_tolerance_secs",
    ),
    (
        "KOOLICENSE_KOOMARKET_REJECTED_CALL_RETENTION_DAYS",
        "koomarket.rejected_call_retention_days",
    ),
    ("KOOLICENSE_MARKETPLACE_AK", "marketplace.access_key_id"),
    ("KOOLICENSE_MARKETPLACE_SK", "marketplace.secret_access_key"),
    ("KOOLICENSE_MARKETPLACE_BASE_URL", "marketplace.base_url"),
    (
        "KOOLICENSE_MARKETPLACE_FALLBACK_BASE_URL",
        "marketplace.fallback_base_url",
    ),
    ("KOOLICENSE_LOG", "log.level (a tracing filter)"),
    ("KOOLICENSE_LOG_FORMAT", "log.format (text or json)"),
];

/// Variables of the test suite and CI (`.ci/run`) that share the prefix but configure nothing:
/// ignored here, so CI can set them for every process it starts. Every `KOOLICENSE_TEST_*`
/// (such as `KOOLICENSE_TEST_DATABASE_URL`) is ignored too.
const TEST_ENV_VARS: &[&str] = &[
    "KOOLICENSE_REQUIRE_ALL",
    "KOOLICENSE_SCREENSHOTS",
    "KOOLICENSE_CHROMIUM",
    "KOOLICENSE_CHROMEDRIVER",
];

fn is_test_variable(name: &str) -> bool {
    TEST_ENV_VARS.contains(&name) || name.starts_with("KOOLICENSE_TEST_")
}

impl Settings {
    pub(super) fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), SettingsError> {
        let mut current_key = None;
        let mut previous_keys = None;
        let mut post_env = post::PostEnv::default();
        for (name, value) in env {
            if !name.starts_with("KOOLICENSE_") || is_test_variable(name) {
                continue;
            }
            if post_env.apply(self, name, value)? || storage::apply_env(self, name, value)? {
                continue;
            }
            let bad = |message: String| SettingsError::Env {
                name: name.clone(),
                message,
            };
            match name.as_str() {
                "KOOLICENSE_CONFIG" => {}
                "KOOLICENSE_LISTEN" => {
                    self.server.listen = value.parse().map_err(|e| bad(format!("{e}")))?;
                }
                "KOOLICENSE_WORKERS" => {
                    self.server.workers = value.parse().map_err(|e| bad(format!("{e}")))?;
                }
                "KOOLICENSE_METRICS_LISTEN" => {
                    self.server.metrics_listen =
                        Some(value.parse().map_err(|e| bad(format!("{e}")))?);
                }
                "KOOLICENSE_TRUSTED_PROXIES" => {
                    self.api.trusted_proxies = value
                        .split(',')
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(|n| n.parse().map_err(|e| bad(format!("{n:?}: {e}"))))
                        .collect::<Result<_, _>>()?;
                }
                "KOOLICENSE_DATA_DIR" => self.storage.data_dir = PathBuf::from(value),
                "KOOLICENSE_CACHE_CAPACITY_MB" => {
                    self.storage.cache_capacity_mb =
                        value.parse().map_err(|e| bad(format!("{e}")))?;
                }
                "KOOLICENSE_SIGNING_KEY_FILE" => {
                    self.signing.key_file = Some(PathBuf::from(value));
                }
                "KOOLICENSE_KOOMARKET_PATH" => self.koomarket.path = value.clone(),
                "KOOLICENSE_KOOMARKET_KEY" => current_key = Some(Secret::new(value.trim())),
                "KOOLICENSE_KOOMARKET_PREVIOUS_KEYS" => {
                    previous_keys = Some(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|k| !k.is_empty())
                            .map(Secret::new)
                            .collect::<Vec<_>>(),
                    );
                }
                "KOOLICENSE_KOOMARKET_TIMESTAMP_WINDOW_SECS" => {
                    self.koomarket.timestamp_window_secs =
                        value.parse().map_err(|e| bad(format!("{e}")))?;
                }
                "KOOLICENSE_LOG" => self.log.level = value.clone(),
                "KOOLICENSE_LOG_FORMAT" => {
                    self.log.format = match value.as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        other => return Err(bad(format!("{other:?} is not text or json"))),
                    };
                }
                _ => {
                    let known: Vec<&str> = ENV_VARS.iter().map(|(n, _)| *n).collect();
                    return Err(bad(format!(
                        "unknown variable; known: {}",
                        known.join(", ")
                    )));
                }
            }
        }
        if current_key.is_some() || previous_keys.is_some() {
            let mut keys: Vec<Secret> = current_key.into_iter().collect();
            match previous_keys {
                Some(previous) => keys.extend(previous),
                // A new current key from the environment keeps the file's keys as previous ones.
                None => keys.append(&mut self.koomarket.keys),
            }
            self.koomarket.keys = keys;
        }
        post_env.finish(self);
        Ok(())
    }
}
