use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("koolicense.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn defaults_apply_without_file_env_or_flags() {
    let s = Settings::load(None, &[], &Overrides::default()).expect("load");
    assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.storage.data_dir, PathBuf::from("./data"));
    assert_eq!(s.storage.cache_capacity_mb, 64);
    assert_eq!(s.koomarket.path, "/koomarket/license");
}

#[test]
fn layers_apply_in_order_file_env_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        "[server]\nlisten = \"127.0.0.1:9000\"\n[storage]\ndata_dir = \"/file\"\ncache_capacity_mb = 8\n",
    );
    let e = env(&[
        ("KOOLICENSE_DATA_DIR", "/env"),
        ("KOOLICENSE_LISTEN", "127.0.0.1:9001"),
    ]);
    let flags = Overrides {
        listen: Some("127.0.0.1:9002".parse().expect("addr")),
        ..Overrides::default()
    };
    let s = Settings::load(Some(&path), &e, &flags).expect("load");
    assert_eq!(s.server.listen.to_string(), "127.0.0.1:9002");
    assert_eq!(s.storage.data_dir, PathBuf::from("/env"));
    assert_eq!(s.storage.cache_capacity_mb, 8);
}

#[test]
fn unknown_keys_in_the_file_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        "[server]\nlisten = \"127.0.0.1:9000\"\nlisten_port = 1\n",
    );
    let err = Settings::load(Some(&path), &[], &Overrides::default()).expect_err("must fail");
    assert!(err.to_string().contains("listen_port"), "{err}");
}

#[test]
fn unknown_koolicense_env_vars_are_errors() {
    let err = Settings::load(
        None,
        &env(&[("KOOLICENSE_LISTN", "x")]),
        &Overrides::default(),
    )
    .expect_err("must fail");
    assert!(err.to_string().contains("KOOLICENSE_LISTN"), "{err}");
}

#[test]
fn the_test_suites_variables_are_not_settings_and_never_refused() {
    let e = env(&[
        ("KOOLICENSE_REQUIRE_ALL", "1"),
        ("KOOLICENSE_SCREENSHOTS", "1"),
        ("KOOLICENSE_TEST_DATABASE_URL", "postgres://x"),
    ]);
    let s = Settings::load(None, &e, &Overrides::default()).expect("load");
    assert_eq!(
        s,
        Settings::load(None, &[], &Overrides::default()).expect("load")
    );
}

#[test]
fn marketplace_keys_from_env_put_the_current_key_first() {
    let e = env(&[
        ("KOOLICENSE_KOOMARKET_KEY", "new-key"),
        ("KOOLICENSE_KOOMARKET_PREVIOUS_KEYS", "old-1, old-2"),
    ]);
    let s = Settings::load(None, &e, &Overrides::default()).expect("load");
    let keys: Vec<&str> = s.koomarket.keys.iter().map(Secret::expose).collect();
    assert_eq!(keys, ["new-key", "old-1", "old-2"]);
}

#[test]
fn debug_output_never_shows_secrets() {
    let e = env(&[("KOOLICENSE_KOOMARKET_KEY", "super-secret-key-value")]);
    let s = Settings::load(None, &e, &Overrides::default()).expect("load");
    let shown = format!("{s:?}");
    assert!(!shown.contains("super-secret-key-value"));
    assert!(shown.contains("redacted"));
}

#[test]
fn the_example_config_parses_and_validates() {
    let s: Settings = toml::from_str(EXAMPLE_CONFIG).expect("example parses");
    s.validate().expect("example validates");
    assert!(!s.products.is_empty());
}

#[test]
fn product_policies_are_validated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        "[[product]]\nproduct_id = \"P\"\nmin_matching_components = 5\n",
    );
    let err = Settings::load(Some(&path), &[], &Overrides::default()).expect_err("must fail");
    assert!(err.to_string().contains("min_matching_components"), "{err}");
}

#[test]
fn trusted_proxies_and_the_metrics_address_come_from_file_or_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        "[server]\nmetrics_listen = \"127.0.0.1:9464\"\n[api]\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
    );
    let s = Settings::load(Some(&path), &[], &Overrides::default()).expect("load");
    assert_eq!(
        s.server.metrics_listen,
        Some("127.0.0.1:9464".parse().expect("addr"))
    );
    assert_eq!(s.api.effective_trusted_proxies().len(), 1);
    let e = env(&[
        ("KOOLICENSE_TRUSTED_PROXIES", "192.168.0.0/16, ::1/128"),
        ("KOOLICENSE_METRICS_LISTEN", "127.0.0.1:9999"),
    ]);
    let s = Settings::load(Some(&path), &e, &Overrides::default()).expect("load");
    assert_eq!(s.api.trusted_proxies.len(), 2);
    assert_eq!(s.server.metrics_listen.map(|a| a.port()), Some(9999));
    let bad = env(&[("KOOLICENSE_TRUSTED_PROXIES", "10.0.0.0/33")]);
    assert!(Settings::load(None, &bad, &Overrides::default()).is_err());
    let bad = write(&dir, "[api]\ntrusted_proxies = [\"not-a-cidr\"]\n");
    assert!(Settings::load(Some(&bad), &[], &Overrides::default()).is_err());
}

#[test]
fn the_deprecated_forwarded_for_switch_trusts_only_this_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "[api]\ntrust_forwarded_for = true\n");
    let s = Settings::load(Some(&path), &[], &Overrides::default()).expect("still accepted");
    let nets = s.api.effective_trusted_proxies();
    assert!(nets.iter().all(|n| n.addr().is_loopback()), "{nets:?}");
    assert_eq!(nets.len(), 2);
}

#[test]
fn the_postgres_backend_is_chosen_from_the_environment_and_needs_a_url() {
    let s = Settings::load(
        None,
        &env(&[
            ("KOOLICENSE_STORAGE_BACKEND", "postgres"),
            (
                "KOOLICENSE_DATABASE_URL",
                "postgres://k@db.internal/koolicense",
            ),
            ("KOOLICENSE_DATABASE_POOL_SIZE", "3"),
        ]),
        &Overrides::default(),
    )
    .expect("load");
    assert_eq!(s.storage.backend, StorageBackend::Postgres);
    assert_eq!(s.storage.postgres_pool_size, 3);
    let err = Settings::load(
        None,
        &env(&[("KOOLICENSE_STORAGE_BACKEND", "postgres")]),
        &Overrides::default(),
    )
    .expect_err("no URL");
    assert!(err.to_string().contains("postgres_url"), "{err}");
    let err = Settings::load(
        None,
        &env(&[("KOOLICENSE_STORAGE_BACKEND", "mysql")]),
        &Overrides::default(),
    )
    .expect_err("unknown backend");
    assert!(err.to_string().contains("mysql"), "{err}");
    let default = Settings::load(None, &[], &Overrides::default()).expect("load");
    assert_eq!(
        default.storage.backend,
        StorageBackend::Sled,
        "sled stays the default"
    );
    let s = Settings::load(
        None,
        &env(&[("KOOLICENSE_STORAGE_BACKEND", "fjall")]),
        &Overrides::default(),
    )
    .expect("fjall needs nothing else");
    assert_eq!(s.storage.backend, StorageBackend::Fjall);
}

#[test]
fn rejected_calls_are_kept_at_least_a_month() {
    let load = |days: &str| {
        Settings::load(
            None,
            &env(&[("KOOLICENSE_KOOMARKET_REJECTED_CALL_RETENTION_DAYS", days)]),
            &Overrides::default(),
        )
    };
    assert_eq!(
        load("400")
            .expect("load")
            .koomarket
            .rejected_call_retention_days,
        400
    );
    let err = load("31").expect_err("less than a month");
    assert!(err.to_string().contains("at least 32"), "{err}");
    assert!(load("-1").is_err());
}

#[test]
fn the_database_password_never_appears_in_debug_output_logs_or_errors() {
    const PASSWORD: &str = "pw-Zq81-never-shown";
    for url in [
        format!("postgres://koolicense:{PASSWORD}@127.0.0.1:1/koolicense"),
        format!("postgresql://127.0.0.1:1/koolicense?user=k&password={PASSWORD}"),
        format!("host=127.0.0.1 port=1 user=k password={PASSWORD} dbname=koolicense"),
    ] {
        let s = Settings::load(
            None,
            &env(&[
                ("KOOLICENSE_STORAGE_BACKEND", "postgres"),
                ("KOOLICENSE_DATABASE_URL", &url),
            ]),
            &Overrides::default(),
        )
        .expect("load");
        let debug = format!("{s:?} {s:#?}");
        assert!(!debug.contains(PASSWORD), "{debug}");
        let redacted = crate::store::kv::pg::redact(&url);
        assert!(!redacted.contains(PASSWORD), "{redacted}");
        assert!(redacted.contains("127.0.0.1"), "{redacted}");
        // Nothing listens on port 1: opening fails, and says where without the password.
        let error = crate::startup::open_store(&s, Default::default())
            .map(drop)
            .expect_err("nothing listens on port 1");
        let message = format!("{error:#} {error:?}");
        assert!(!message.contains(PASSWORD), "{message}");
        assert!(message.contains("127.0.0.1"), "{message}");
    }
}
