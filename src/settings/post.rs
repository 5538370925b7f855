//! Settings of the POST interfaces (online license, License 2.0 authorization codes: the
//! `koomarket.access_keys` / `scheme_b_*` keys) and of the marketplace open-API client
//! (`[marketplace]`): types, their environment variables and their validation. Kept apart from
//! `settings.rs` so the GET interface's settings stay readable.

use serde::Deserialize;

use super::{Secret, Settings, SettingsError};

/// Which reading of the scheme B signature to accept (spec §2.5, §10 item 1: UNRESOLVED, so
/// both by default; the setting narrows it once the seller-console debugger settled it).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SchemeBReadingSetting {
    /// Formula B1: `inner = hex(HMAC-SHA256(accessKey, body))` (License 2.0 请求认证说明).
    KeyedInner,
    /// The fallback reading of formula B2: `inner = hex(SHA-256(body))`.
    PlainSha256Inner,
    /// Accept either (the default).
    #[default]
    Either,
}

/// `[marketplace]`: the marketplace open APIs the service calls (license upload, order query,
/// authorization-code activation and query), signed with APIG AK/SK.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MarketplaceSettings {
    /// Base URL of the open APIs (https; http only for a loopback host, for tests).
    pub base_url: String,
    /// Tried when `base_url` cannot be reached at all (connection error); empty = none.
    pub fallback_base_url: String,
    /// Huawei Cloud access key id (AK); not printed either. Without AK/SK no call is made:
    /// outbox jobs wait and activation answers `marketplace_unavailable`.
    pub access_key_id: Option<Secret>,
    /// Huawei Cloud secret access key (SK); never logged.
    pub secret_access_key: Option<Secret>,
    /// Timeout of one HTTP call (connect, send and read), in seconds.
    pub timeout_secs: u64,
    /// First retry delay of an outbox job in milliseconds; doubled per attempt, ±50 % jitter.
    pub retry_base_ms: u64,
    /// Longest delay between two attempts of an outbox job, in seconds.
    pub retry_max_secs: u64,
    /// Attempts before an outbox job is marked `failed` (it stays visible and can be retried).
    pub max_attempts: u32,
    /// Query an authorization code's status at the marketplace at most this often (the spec
    /// expects one query on each day of use).
    pub code_refresh_interval_secs: u64,
    /// Threads of the outbound pool: marketplace calls made for an inbound request (code
    /// activation and status queries) at the same time. Each waits up to `timeout_secs`.
    pub outbound_threads: usize,
    /// Calls waiting for an outbound thread; one more is refused at once (`503 busy`).
    pub outbound_queue: usize,
}

/// Most outbound threads: each is an OS thread waiting on the network.
const MAX_OUTBOUND_THREADS: usize = 256;
/// Longest outbound queue: a waiting call holds its request's connection open.
const MAX_OUTBOUND_QUEUE: usize = 65_536;

impl Default for MarketplaceSettings {
    fn default() -> Self {
        MarketplaceSettings {
            base_url: "https://mkt.myhuaweicloud.com".into(),
            fallback_base_url: "https://mkt.myhuaweicloud.cn".into(),
            access_key_id: None,
            secret_access_key: None,
            timeout_secs: 10,
            retry_base_ms: 2000,
            retry_max_secs: 3600,
            max_attempts: 20,
            code_refresh_interval_secs: 86_400,
            outbound_threads: 8,
            outbound_queue: 256,
        }
    }
}

fn split_keys(value: &str) -> Vec<Secret> {
    value
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(Secret::new)
        .collect()
}

/// Collects the POST-interface and marketplace environment variables while `apply_env` walks
/// the environment.
#[derive(Default)]
pub(super) struct PostEnv {
    access_key: Option<Secret>,
    previous_access_keys: Option<Vec<Secret>>,
}

impl PostEnv {
    /// Applies `name` if it is one of ours; `Ok(false)` if it is not.
    pub(super) fn apply(
        &mut self,
        settings: &mut Settings,
        name: &str,
        value: &str,
    ) -> Result<bool, SettingsError> {
        let bad = |message: String| SettingsError::Env {
            name: name.to_string(),
            message,
        };
        let number = |v: &str| v.trim().parse::<u64>().map_err(|e| bad(format!("{e}")));
        let market = &mut settings.marketplace;
        match name {
            "KOOLICENSE_KOOMARKET_ACCESS_KEY" => self.access_key = Some(Secret::new(value.trim())),
            "KOOLICENSE_KOOMARKET_PREVIOUS_ACCESS_KEYS" => {
                self.previous_access_keys = Some(split_keys(value));
            }
            "KOOLICENSE_KOOMARKET_SCHEME_B_READING" => {
                settings.koomarket.scheme_b_reading = match value.trim() {
                    "keyed_inner" => SchemeBReadingSetting::KeyedInner,
                    "plain_sha256_inner" => SchemeBReadingSetting::PlainSha256Inner,
                    "either" => SchemeBReadingSetting::Either,
                    other => {
                        return Err(bad(format!(
                            "{other:?} is not keyed_inner, plain_sha256_inner or either"
                        )))
                    }
                };
            }
            "KOOLICENSE_KOOMARKET_SCHEME_B_WINDOW_SECS" => {
                settings.koomarket.scheme_b_window_secs = number(value)?;
            }
            "KOOLICENSE_KOOMARKET_STALE_EXPIRE_TOLERANCE_SECS" => {
                settings.koomarket.stale_expire_tolerance_secs = number(value)?;
            }
            "KOOLICENSE_KOOMARKET_REJECTED_CALL_RETENTION_DAYS" => {
                settings.koomarket.rejected_call_retention_days = value
                    .trim()
                    .parse::<u32>()
                    .map_err(|e| bad(format!("{e}")))?;
            }
            "KOOLICENSE_MARKETPLACE_AK" => market.access_key_id = Some(Secret::new(value.trim())),
            "KOOLICENSE_MARKETPLACE_SK" => {
                market.secret_access_key = Some(Secret::new(value.trim()));
            }
            "KOOLICENSE_MARKETPLACE_BASE_URL" => market.base_url = value.trim().to_string(),
            "KOOLICENSE_MARKETPLACE_FALLBACK_BASE_URL" => {
                market.fallback_base_url = value.trim().to_string();
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Puts the access keys in place: the current one first, then the previous ones (from the
    /// environment, or else the file's keys, as for the GET interface's keys).
    pub(super) fn finish(self, settings: &mut Settings) {
        if self.access_key.is_none() && self.previous_access_keys.is_none() {
            return;
        }
        let mut keys: Vec<Secret> = self.access_key.into_iter().collect();
        match self.previous_access_keys {
            Some(previous) => keys.extend(previous),
            None => keys.append(&mut settings.koomarket.access_keys),
        }
        settings.koomarket.access_keys = keys;
    }
}

/// Whether `url` is `https://…`, or `http://` to a loopback host (the test marketplace).
pub(crate) fn allowed_base_url(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("https://") {
        return !rest.is_empty();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Range checks of the POST-interface and marketplace settings.
pub(super) fn validate(settings: &Settings) -> Result<(), SettingsError> {
    let invalid = SettingsError::Invalid;
    let km = &settings.koomarket;
    if km.access_keys.iter().any(|k| k.expose().is_empty()) {
        return Err(invalid(
            "koomarket.access_keys may not contain an empty key".into(),
        ));
    }
    if km.scheme_b_window_secs == 0 {
        return Err(invalid(
            "koomarket.scheme_b_window_secs must be at least 1".into(),
        ));
    }
    let m = &settings.marketplace;
    for (name, url) in [
        ("base_url", &m.base_url),
        ("fallback_base_url", &m.fallback_base_url),
    ] {
        let empty_fallback = name == "fallback_base_url" && url.is_empty();
        if !empty_fallback && !allowed_base_url(url) {
            return Err(invalid(format!(
                "marketplace.{name} {url:?} must be https:// (http:// only for a loopback host)"
            )));
        }
    }
    let ak = m.access_key_id.as_ref().map_or("", Secret::expose);
    let sk = m.secret_access_key.as_ref().map_or("", Secret::expose);
    if ak.is_empty() != sk.is_empty() {
        return Err(invalid(
            "marketplace.access_key_id and marketplace.secret_access_key go together".into(),
        ));
    }
    if m.timeout_secs == 0 || m.retry_base_ms == 0 || m.retry_max_secs == 0 {
        return Err(invalid(
            "marketplace timeout_secs, retry_base_ms and retry_max_secs must be at least 1".into(),
        ));
    }
    if m.max_attempts == 0 || m.code_refresh_interval_secs == 0 {
        return Err(invalid(
            "marketplace max_attempts and code_refresh_interval_secs must be at least 1".into(),
        ));
    }
    if !(1..=MAX_OUTBOUND_THREADS).contains(&m.outbound_threads)
        || !(1..=MAX_OUTBOUND_QUEUE).contains(&m.outbound_queue)
    {
        return Err(invalid(format!(
            "marketplace.outbound_threads must be 1..={MAX_OUTBOUND_THREADS} and \
             marketplace.outbound_queue 1..={MAX_OUTBOUND_QUEUE}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Overrides;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_point_at_the_marketplace_with_the_documented_fallback() {
        let s = Settings::load(None, &[], &Overrides::default()).expect("load");
        assert_eq!(s.marketplace.base_url, "https://mkt.myhuaweicloud.com");
        assert_eq!(
            s.marketplace.fallback_base_url,
            "https://mkt.myhuaweicloud.cn"
        );
        assert_eq!(s.koomarket.scheme_b_window_secs, 60);
        // Both readings until the seller-console debugger confirms one (spec §10 item 1).
        assert_eq!(s.koomarket.scheme_b_reading, SchemeBReadingSetting::Either);
        assert_eq!(s.koomarket.stale_expire_tolerance_secs, 86_400);
        assert_eq!(s.koomarket.rejected_call_retention_days, 90);
        assert!(s.marketplace.access_key_id.is_none());
    }

    #[test]
    fn access_keys_and_marketplace_credentials_come_from_the_environment() {
        let e = env(&[
            ("KOOLICENSE_KOOMARKET_ACCESS_KEY", "ak-new"),
            ("KOOLICENSE_KOOMARKET_PREVIOUS_ACCESS_KEYS", "ak-old"),
            ("KOOLICENSE_KOOMARKET_SCHEME_B_READING", "keyed_inner"),
            ("KOOLICENSE_MARKETPLACE_AK", "AKID-not-shown"),
            ("KOOLICENSE_MARKETPLACE_SK", "very-secret-sk"),
            ("KOOLICENSE_MARKETPLACE_BASE_URL", "http://127.0.0.1:9"),
        ]);
        let s = Settings::load(None, &e, &Overrides::default()).expect("load");
        let keys: Vec<&str> = s.koomarket.access_keys.iter().map(Secret::expose).collect();
        assert_eq!(keys, ["ak-new", "ak-old"]);
        assert_eq!(
            s.koomarket.scheme_b_reading,
            SchemeBReadingSetting::KeyedInner
        );
        assert_eq!(
            s.marketplace.access_key_id.as_ref().map(Secret::expose),
            Some("AKID-not-shown")
        );
        assert_eq!(s.marketplace.base_url, "http://127.0.0.1:9");
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret-sk") && !shown.contains("AKID-not-shown"));
    }

    #[test]
    fn plain_http_is_only_allowed_to_loopback_and_credentials_go_in_pairs() {
        for (url, ok) in [
            ("https://mkt.myhuaweicloud.com", true),
            ("http://127.0.0.1:8080", true),
            ("http://localhost:1/x", true),
            ("http://[::1]:80", true),
            ("http://mkt.myhuaweicloud.com", false),
            ("http://10.0.0.1", false),
            ("ftp://x", false),
        ] {
            assert_eq!(allowed_base_url(url), ok, "{url}");
        }
        let e = env(&[("KOOLICENSE_MARKETPLACE_BASE_URL", "http://example.com")]);
        assert!(Settings::load(None, &e, &Overrides::default()).is_err());
        let e = env(&[("KOOLICENSE_MARKETPLACE_AK", "AKID")]);
        assert!(Settings::load(None, &e, &Overrides::default()).is_err());
        let e = env(&[("KOOLICENSE_KOOMARKET_SCHEME_B_READING", "guess")]);
        assert!(Settings::load(None, &e, &Overrides::default()).is_err());
    }

    #[test]
    fn the_outbound_pool_is_sized_by_settings_within_bounds() {
        let load = |toml: &str| {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("koolicense.toml");
            std::fs::write(&path, toml).expect("write");
            Settings::load(Some(&path), &[], &Overrides::default())
        };
        let s = load("").expect("load");
        assert_eq!(
            (s.marketplace.outbound_threads, s.marketplace.outbound_queue),
            (8, 256)
        );
        let s = load("[marketplace]\noutbound_threads = 2\noutbound_queue = 1\n").expect("load");
        assert_eq!(
            (s.marketplace.outbound_threads, s.marketplace.outbound_queue),
            (2, 1)
        );
        for bad in [
            "[marketplace]\noutbound_threads = 0\n",
            "[marketplace]\noutbound_queue = 0\n",
            "[marketplace]\noutbound_threads = 100000\n",
        ] {
            assert!(load(bad).is_err(), "{bad}");
        }
    }
}
