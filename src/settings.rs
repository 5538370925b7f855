//! Configuration: built-in defaults, then a TOML file, then `KOOLICENSE_*` environment
//! variables, then command-line flags. Strict: unknown keys and unknown `KOOLICENSE_*` variables
//! are errors. Secrets are wrapped so `Debug` never prints them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::licensing::policy::{Policies, Policy};

mod env;
mod post;
mod revocation;
mod seats;
mod storage;
pub(crate) use post::allowed_base_url;
pub use post::{MarketplaceSettings, SchemeBReadingSetting};
pub use revocation::RevocationSettings;
pub use seats::SeatSettings;
pub use storage::StorageBackend;

/// A secret string: never printed by `Debug`, zeroed on drop.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// HTTP server.
    pub server: ServerSettings,
    /// Storage: sled (default) or PostgreSQL.
    pub storage: StorageSettings,
    /// License signing key.
    pub signing: SigningSettings,
    /// The KooMarket production interface.
    pub koomarket: KoomarketSettings,
    /// Logging.
    pub log: LogSettings,
    /// The merchant API.
    pub api: ApiSettings,
    /// The marketplace open-API client.
    pub marketplace: MarketplaceSettings,
    /// The signed revocation list.
    pub revocation: RevocationSettings,
    /// Deactivation of seats.
    pub seats: SeatSettings,
    /// Policy for products without a `[[product]]` entry.
    pub(crate) default_policy: Policy,
    /// Per-product policies.
    #[serde(rename = "product")]
    pub(crate) products: Vec<Policy>,
}

/// `[server]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Worker threads (0 = one per core).
    pub workers: usize,
    /// Seconds given to in-flight requests at shutdown.
    pub shutdown_timeout_secs: u64,
    /// An internal address serving only `GET /metrics`, without a token (unset: metrics only at
    /// `GET /metrics` on `listen`, for a read-scoped token).
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            shutdown_timeout_secs: 30,
            metrics_listen: None,
        }
    }
}

/// `[storage]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// Directory holding the database, generated development keys and other state.
    pub data_dir: PathBuf,
    /// sled page-cache size in MiB (sled's own default of 1 GiB is too much for a small VM).
    pub cache_capacity_mb: u64,
    /// `sled` (embedded, one process) or `postgres` (several instances on one database).
    pub backend: StorageBackend,
    /// The PostgreSQL database (`postgres://user:password@host:5432/db`) when `backend` is
    /// `postgres`.
    pub postgres_url: Option<Secret>,
    /// PostgreSQL connections per instance (besides a few holding the per-key locks).
    pub postgres_pool_size: usize,
    /// Extra CA certificates (PEM) to verify the database's certificate when the URL says
    /// `sslmode=require` (a managed database's own CA); the Mozilla roots are always trusted.
    pub postgres_ca_file: Option<PathBuf>,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            data_dir: PathBuf::from("./data"),
            cache_capacity_mb: 64,
            backend: StorageBackend::Sled,
            postgres_url: None,
            postgres_pool_size: storage::DEFAULT_POOL_SIZE,
            postgres_ca_file: None,
        }
    }
}

/// `[signing]`
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SigningSettings {
    /// PKCS#8 PEM Ed25519 private key (mode 0600). Empty: a development key is generated under
    /// `<data_dir>/keys/` on first run.
    pub key_file: Option<PathBuf>,
}

/// Least retention of rejected calls: a whole month, so this month's failed orders can be
/// counted from them.
pub const MIN_REJECTED_CALL_RETENTION_DAYS: u32 = 32;

/// `[koomarket]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KoomarketSettings {
    /// Path of the production interface.
    pub path: String,
    /// Marketplace keys (Key值), current first; older ones stay accepted during rotation. Empty: a
    /// development key is generated under `<data_dir>/` on first run.
    pub keys: Vec<Secret>,
    /// Reject GET calls whose `timeStamp` is further than this from now (0 = off; the
    /// marketplace documents no window, so it is off by default).
    pub timestamp_window_secs: u64,
    /// Access keys (访问密钥) of the POST interfaces (scheme B), current first. Empty: a
    /// development access key is generated under `<data_dir>/` on first run.
    pub access_keys: Vec<Secret>,
    /// Which reading of the scheme B signature is accepted (UNRESOLVED in the spec: both by
    /// default).
    pub scheme_b_reading: SchemeBReadingSetting,
    /// Accepted distance of a POST call's `timestamp` from now, in seconds (documented: 60).
    pub scheme_b_window_secs: u64,
    /// An `expireLicense`/`expireInstance` arriving while a renewal has put the expiry further
    /// than this in the future is stale: answered `000000`, audited, nothing frozen.
    pub stale_expire_tolerance_secs: u64,
    /// Rejected calls are kept this many days, then removed (at least 32: the count of this
    /// month's failed orders reads them).
    pub rejected_call_retention_days: u32,
}

impl Default for KoomarketSettings {
    fn default() -> Self {
        KoomarketSettings {
            path: "/koomarket/license".into(),
            keys: Vec::new(),
            timestamp_window_secs: 0,
            access_keys: Vec::new(),
            scheme_b_reading: SchemeBReadingSetting::Either,
            scheme_b_window_secs: 60,
            stale_expire_tolerance_secs: 86_400,
            rejected_call_retention_days: 90,
        }
    }
}

/// `[api]`: the merchant API's rate limits.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Sustained requests per second per API token.
    pub token_rate_per_second: u32,
    /// Burst per API token.
    pub token_burst: u32,
    /// Sustained requests per second per client address (every `/v1` request).
    pub address_rate_per_second: u32,
    /// Burst per client address.
    pub address_burst: u32,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` is believed: for a request from one of
    /// them, the client is the rightmost hop that is not itself a trusted proxy.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Deprecated: `true` now means `trusted_proxies = ["127.0.0.0/8", "::1/128"]` (a proxy on
    /// this host), with a warning at start. It used to believe any client's own header.
    pub trust_forwarded_for: bool,
}

impl ApiSettings {
    /// The effective trusted proxies (including the deprecated switch's loopback ranges).
    pub(crate) fn effective_trusted_proxies(&self) -> Vec<ipnet::IpNet> {
        let mut nets = self.trusted_proxies.clone();
        if self.trust_forwarded_for {
            nets.extend(
                ["127.0.0.0/8", "::1/128"]
                    .iter()
                    .filter_map(|n| n.parse::<ipnet::IpNet>().ok()),
            );
        }
        nets
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            token_rate_per_second: 20,
            token_burst: 40,
            address_rate_per_second: 50,
            address_burst: 100,
            trusted_proxies: Vec::new(),
            trust_forwarded_for: false,
        }
    }
}

/// `[log]`
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A tracing filter such as `info` or `koolicense=debug,actix_web=info`.
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Command-line overrides (the last layer).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen`
    pub listen: Option<SocketAddr>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--signing-key`
    pub key_file: Option<PathBuf>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid (syntax, unknown key, wrong type).
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An environment variable is unknown or has an invalid value.
    #[error("environment variable {name}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads defaults < file < environment < flags. `file` comes from `--config`, else from
    /// `KOOLICENSE_CONFIG`; without either, only defaults, environment and flags apply.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Settings, SettingsError> {
        let env_file = env
            .iter()
            .find(|(k, _)| k == "KOOLICENSE_CONFIG")
            .map(|(_, v)| PathBuf::from(v));
        let mut settings = match file.map(Path::to_path_buf).or(env_file) {
            Some(path) => Settings::from_file(&path)?,
            None => Settings::default(),
        };
        settings.apply_env(env)?;
        if let Some(listen) = overrides.listen {
            settings.server.listen = listen;
        }
        if let Some(dir) = &overrides.data_dir {
            settings.storage.data_dir = dir.clone();
        }
        if let Some(key) = &overrides.key_file {
            settings.signing.key_file = Some(key.clone());
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Parses a TOML file (no other layers).
    pub fn from_file(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| SettingsError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let invalid = SettingsError::Invalid;
        if !self.koomarket.path.starts_with('/') || self.koomarket.path.starts_with("/v1") {
            return Err(invalid(format!(
                "koomarket.path {:?} must start with / and not collide with /v1",
                self.koomarket.path
            )));
        }
        if self.koomarket.keys.iter().any(|k| k.expose().is_empty()) {
            return Err(invalid(
                "koomarket.keys may not contain an empty key".into(),
            ));
        }
        let api = &self.api;
        if [
            api.token_rate_per_second,
            api.token_burst,
            api.address_rate_per_second,
            api.address_burst,
        ]
        .contains(&0)
        {
            return Err(invalid(
                "api rate limits and bursts must be at least 1".into(),
            ));
        }
        if self.koomarket.rejected_call_retention_days < MIN_REJECTED_CALL_RETENTION_DAYS {
            return Err(invalid(format!(
                "koomarket.rejected_call_retention_days must be at least \
                 {MIN_REJECTED_CALL_RETENTION_DAYS} (this month's failed orders are counted from them)"
            )));
        }
        if self.storage.cache_capacity_mb == 0 {
            return Err(invalid(
                "storage.cache_capacity_mb must be at least 1".into(),
            ));
        }
        storage::validate(self).map_err(invalid)?;
        post::validate(self)?;
        self.revocation.validate().map_err(invalid)?;
        self.seats.validate().map_err(invalid)?;
        self.policies().validate().map_err(invalid)
    }

    /// The product policies.
    pub(crate) fn policies(&self) -> Policies {
        Policies {
            default: self.default_policy.clone(),
            products: self.products.clone(),
        }
    }
}

/// The annotated example configuration shipped with the service (`koolicense config example`).
pub const EXAMPLE_CONFIG: &str = include_str!("../deploy/koolicense.example.toml");

#[cfg(test)]
mod tests;
