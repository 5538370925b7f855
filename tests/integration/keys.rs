//! The license signing key guard: a database keeps signing with the key it started with unless
//! a rotation is asked for, and private keys readable by others are refused.

use std::path::PathBuf;

use koolicense::signing::Signer;
use serde_json::Value;

use crate::helpers::{new_dir, try_spawn, Config, Order};

/// Writes a fresh key pair `<name>.key.pem` / `<name>.pub.pem` under `dir`; returns the private
/// key path and the kid.
fn key_file(dir: &std::path::Path, name: &str) -> (PathBuf, String) {
    let signer = Signer::generate().expect("keygen");
    let (private, _) = signer.write_pair(dir, Some(name)).expect("write key");
    (private, signer.kid().to_string())
}

#[test]
fn a_different_signing_key_is_refused_until_rotation_is_asked_for() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (key_a, kid_a) = key_file(keys.path(), "a");
    let (key_b, kid_b) = key_file(keys.path(), "b");
    let with = |key: &PathBuf, rotate_key: bool| Config {
        signing_key_file: Some(key.clone()),
        rotate_key,
        ..Config::default()
    };

    let app = try_spawn(with(&key_a, false), new_dir()).expect("starts with key A");
    assert_eq!(app.active_kid(), kid_a);
    let old_order = Order::new();
    let old_license = app.provision(&old_order).license().to_owned();
    let dir = app.stop();

    let err = match try_spawn(with(&key_b, false), dir.clone()) {
        Ok(_) => panic!("a different key must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("--rotate-key"), "{err}");
    assert!(err.contains(&kid_a) && err.contains(&kid_b), "{err}");

    let app = try_spawn(with(&key_b, true), dir).expect("starts with --rotate-key");
    let keys = app.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let find = |kid: &str| -> &Value {
        keys.iter()
            .find(|k| k["kid"] == kid)
            .unwrap_or_else(|| panic!("{kid} not published"))
    };
    assert_eq!(find(&kid_b)["active"], Value::Bool(true));
    assert_eq!(find(&kid_a)["active"], Value::Bool(false));
    assert!(find(&kid_a)["retired_at"].is_string());
    assert!(find(&kid_b)["retired_at"].is_null());

    // The old license stays valid and is still the one for its order; new ones use key B.
    let verifier = app.verifier();
    verifier
        .verify_now(&old_license)
        .expect("old license verifies");
    assert_eq!(app.provision(&old_order).license(), old_license);
    let new_license = app.provision(&Order::new()).license().to_owned();
    verifier
        .verify_now(&new_license)
        .expect("new license verifies");
    let kid = koolicense_verify::inspect(&new_license)
        .expect("decodes")
        .kid;
    assert_eq!(kid.to_string(), kid_b);
    let dir = app.stop();

    // Once rotated, key B is simply the recorded key.
    let app = try_spawn(with(&key_b, false), dir).expect("starts with key B");
    assert_eq!(app.active_kid(), kid_b);
}

#[test]
fn rotating_back_to_an_earlier_key_makes_it_active_and_no_longer_retired() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (key_a, kid_a) = key_file(keys.path(), "a");
    let (key_b, kid_b) = key_file(keys.path(), "b");
    let with = |key: &PathBuf| Config {
        signing_key_file: Some(key.clone()),
        rotate_key: true,
        ..Config::default()
    };
    let dir = try_spawn(with(&key_a), new_dir()).expect("A").stop();
    let dir = try_spawn(with(&key_b), dir).expect("A to B").stop();
    let app = try_spawn(with(&key_a), dir).expect("B back to A");
    let keys = app.keys();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let find = |kid: &str| -> &Value {
        keys.iter()
            .find(|k| k["kid"] == kid)
            .unwrap_or_else(|| panic!("{kid} not published"))
    };
    assert_eq!(find(&kid_a)["active"], Value::Bool(true));
    assert!(find(&kid_a)["retired_at"].is_null(), "{keys:?}");
    assert_eq!(find(&kid_b)["active"], Value::Bool(false));
    assert!(find(&kid_b)["retired_at"].is_string(), "{keys:?}");
}

#[cfg(unix)]
#[test]
fn a_signing_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let keys = tempfile::tempdir().expect("tempdir");
    let (key, _) = key_file(keys.path(), "loose");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let config = Config {
        signing_key_file: Some(key),
        ..Config::default()
    };
    let err = match try_spawn(config, new_dir()) {
        Ok(_) => panic!("a 0644 key must be refused"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("644") && err.contains("chmod 600"), "{err}");
}
