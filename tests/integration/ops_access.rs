//! Access as an attacker would probe it: forged `X-Forwarded-For`, forged tokens naming a real
//! token's id, hammered probes, and the permissions of the data directory.

use crate::api::{assert_error, spawn_api_app_with, ApiApp};
use crate::helpers::{new_dir, spawn_app_with, try_spawn, Config};

fn get_with(api: &ApiApp, path: &str, header: (&str, &str)) -> u16 {
    let url = format!("{}{path}", api.app.base_url());
    match api.app.agent().get(&url).set(header.0, header.1).call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r.status(),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

#[test]
fn a_client_cannot_choose_its_rate_limit_bucket_with_x_forwarded_for() {
    let api = spawn_api_app_with(Config {
        rate_limits: Some((1000, 1000, 1, 3)),
        ..Config::default()
    });
    let statuses: Vec<u16> = (0..8)
        .map(|i| {
            get_with(
                &api,
                "/v1/keys",
                ("X-Forwarded-For", &format!("10.9.8.{i}")),
            )
        })
        .collect();
    assert!(
        statuses.contains(&429),
        "the peer is no trusted proxy, so its header is ignored: {statuses:?}"
    );
}

#[test]
fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let api = spawn_api_app_with(Config {
        rate_limits: Some((1000, 1000, 1, 3)),
        trusted_proxies: vec!["127.0.0.0/8".into()],
        ..Config::default()
    });
    for i in 0..8 {
        // The client forged the left hop; the proxy appended the real one.
        let chain = format!("6.6.6.6, 203.0.113.{i}");
        assert_eq!(get_with(&api, "/v1/keys", ("X-Forwarded-For", &chain)), 200);
    }
    let same: Vec<u16> = (0..8)
        .map(|i| {
            let chain = format!("10.0.0.{i}, 198.51.100.7");
            get_with(&api, "/v1/keys", ("X-Forwarded-For", &chain))
        })
        .collect();
    assert!(
        same.contains(&429),
        "one real client, whatever it forges on the left: {same:?}"
    );
}

#[test]
fn a_forged_token_naming_a_real_token_id_does_not_drain_its_bucket() {
    let api = spawn_api_app_with(Config {
        rate_limits: Some((1, 3, 10_000, 10_000)),
        ..Config::default()
    });
    let id = api.read.split('_').nth(1).expect("token id");
    let forged = format!("klt_{id}_forgedsecretforgedsecret");
    for _ in 0..10 {
        assert_error(&api.get("/v1/licenses", &forged), 401, "unauthorized");
    }
    assert_eq!(
        api.get("/v1/licenses", &api.read).status,
        200,
        "the real token's bucket is untouched"
    );
}

#[test]
fn probes_are_rate_limited_and_answer_without_data() {
    let app = spawn_app_with(Config {
        rate_limits: Some((1000, 1000, 1, 3)),
        ..Config::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let (status, body) = app.get_json("/readyz");
        statuses.push(status);
        if status == 200 {
            assert_eq!(body, serde_json::json!({"status": "ready"}));
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_every_file_in_it_are_private_to_the_service() {
    use std::os::unix::fs::PermissionsExt;
    // About the database's files in the data directory: an embedded backend (fjall when the
    // suite runs on it, else sled) whatever backend the suite runs on.
    let app = spawn_app_with(Config {
        embedded_only: true,
        ..Config::default()
    });
    app.provision(&crate::helpers::Order::new());
    let data_dir = app.data_dir.clone();
    let _dir = app.stop();
    let mut stack = vec![data_dir];
    let mut files = 0;
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            stack.extend(
                std::fs::read_dir(&path)
                    .expect("read dir")
                    .map(|e| e.expect("entry").path()),
            );
        } else {
            files += 1;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        }
    }
    assert!(files > 3, "the database and keys were checked");
}

#[cfg(unix)]
#[test]
fn start_refuses_a_data_directory_others_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = new_dir();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("mkdir");
    std::fs::write(dir.path().join("harness.token"), "unused").expect("token file");
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let error = match try_spawn(Config::default(), dir.clone()) {
        Ok(_) => panic!("the app started on a world-writable data directory"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("group or others can write"), "{error}");
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    let app = try_spawn(Config::default(), dir).expect("a private directory is accepted");
    let mode = std::fs::metadata(&app.data_dir)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "tightened at start");
}
