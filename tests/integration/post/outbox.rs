//! The outbox: uploads retried after failures and timeouts, pending jobs surviving a restart,
//! failed jobs visible and retried by the merchant, the fallback domain, and getLicenseAsync
//! before the order's details are known.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::fake_market::FakeMarket;
use super::online::{get_license, new_instance, start, wait_order_details, MACHINE_A};
use super::support::{api, closed_port, config, create_token, wait_until, App};

fn jobs(port: u16, token: &str, state: &str) -> Vec<Value> {
    let (status, page) = api(
        port,
        "GET",
        &format!("/v1/outbox?state={state}"),
        Some(token),
        None,
    );
    assert_eq!(status, 200, "{page}");
    page["jobs"].as_array().cloned().unwrap_or_default()
}

fn job(port: u16, token: &str, state: &str, key: &str) -> Option<Value> {
    jobs(port, token, state)
        .into_iter()
        .find(|j| j["key"] == key)
}

#[test]
fn an_upload_is_retried_after_a_timeout_and_failures_until_acknowledged() {
    let env = start("");
    let port = env.app.port;
    let instance = new_instance(port, "CS-RETRY-1");
    wait_order_details(&env, &instance);
    {
        let mut s = env.market.state.lock();
        s.hang_next = 1;
        s.fail_uploads = 3;
    }
    assert_eq!(
        get_license(port, &instance, "EV-R-1", Some(MACHINE_A)),
        "000000"
    );
    let done = wait_until(Duration::from_secs(15), || {
        job(port, &env.token, "done", "upload/EV-R-1").is_some()
    });
    assert!(done, "the upload never succeeded");
    let job = job(port, &env.token, "done", "upload/EV-R-1").expect("job");
    assert_eq!(job["attempts"], 5, "{job}");
    assert!(job["last_error"].is_null());
    let s = env.market.state.lock();
    assert_eq!(s.uploads_for("EV-R-1").len(), 1);
    assert_eq!(s.bad_signatures, 0);
}

#[test]
fn a_pending_upload_goes_out_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let market = FakeMarket::start();
    let token = create_token(dir.path());
    let toml = config(dir.path(), market.port, "");
    let app = App::start(dir.path(), &toml);
    let instance = new_instance(app.port, "CS-RESTART-1");
    let key = format!("order/{instance}");
    assert!(wait_until(Duration::from_secs(10), || job(
        app.port, &token, "done", &key
    )
    .is_some()));
    market.state.lock().fail_uploads = u32::MAX;
    assert_eq!(
        get_license(app.port, &instance, "EV-S-1", Some(MACHINE_A)),
        "000000"
    );
    let failing = wait_until(Duration::from_secs(10), || {
        job(app.port, &token, "pending", "upload/EV-S-1")
            .is_some_and(|j| j["attempts"].as_u64() >= Some(2) && j["last_error"].is_string())
    });
    assert!(failing, "the upload should be pending with errors");
    app.stop();

    market.state.lock().fail_uploads = 0;
    let app = App::start(dir.path(), &toml);
    let delivered = wait_until(Duration::from_secs(10), || {
        job(app.port, &token, "done", "upload/EV-S-1").is_some()
    });
    assert!(
        delivered,
        "the pending upload was not sent after the restart"
    );
    assert_eq!(market.state.lock().uploads_for("EV-S-1").len(), 1);
    app.stop();
}

#[test]
fn a_failed_job_stays_visible_and_the_merchant_can_retry_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let market = FakeMarket::start();
    let token = create_token(dir.path());
    let toml = config(dir.path(), market.port, "").replace("max_attempts = 50", "max_attempts = 2");
    let app = App::start(dir.path(), &toml);
    let port = app.port;
    let instance = new_instance(port, "CS-FAIL-1");
    assert!(wait_until(Duration::from_secs(10), || {
        job(port, &token, "done", &format!("order/{instance}")).is_some()
    }));
    market.state.lock().fail_uploads = 2;
    assert_eq!(
        get_license(port, &instance, "EV-F-1", Some(MACHINE_A)),
        "000000"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        job(port, &token, "failed", "upload/EV-F-1").is_some()
    }));
    let failed = job(port, &token, "failed", "upload/EV-F-1").expect("failed job");
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("92020001"),
        "{failed}"
    );
    assert!(market.state.lock().uploads_for("EV-F-1").is_empty());

    let id = failed["id"].as_u64().expect("id");
    let retry = format!("/v1/outbox/{id}/retry");
    assert_eq!(api(port, "POST", &retry, None, None).0, 401);
    let (status, body) = api(port, "POST", &retry, Some(&token), None);
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("pending")),
        "{body}"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        job(port, &token, "done", "upload/EV-F-1").is_some()
    }));
    let (status, body) = api(port, "POST", &retry, Some(&token), None);
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));
    assert_eq!(
        api(port, "POST", "/v1/outbox/999999/retry", Some(&token), None).0,
        404
    );
    assert_eq!(
        api(port, "GET", "/v1/outbox?state=stuck", Some(&token), None).0,
        400
    );
    assert_eq!(market.state.lock().uploads_for("EV-F-1").len(), 1);
    app.stop();
}

#[test]
fn the_fallback_domain_is_used_when_the_primary_cannot_be_reached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let market = FakeMarket::start();
    let token = create_token(dir.path());
    let toml = config(dir.path(), closed_port(), "").replace(
        "fallback_base_url = \"\"",
        &format!("fallback_base_url = \"http://127.0.0.1:{}\"", market.port),
    );
    let app = App::start(dir.path(), &toml);
    let instance = new_instance(app.port, "CS-FALLBACK-1");
    assert!(wait_until(Duration::from_secs(10), || {
        job(app.port, &token, "done", &format!("order/{instance}")).is_some()
    }));
    assert_eq!(market.state.lock().order_queries.len(), 1);
    app.stop();
}

#[test]
fn get_license_async_before_the_order_details_answers_000004_until_the_license_is_issued() {
    let env = start("");
    let port = env.app.port;
    env.market.state.lock().fail_queries = u32::MAX;
    let instance = new_instance(port, "CS-EARLY-1");
    assert!(wait_until(Duration::from_secs(10), || {
        !env.market.state.lock().order_queries.is_empty()
    }));
    // 资源异步开通: the request is kept; retries of the same eventId answer 000004 too.
    for _ in 0..2 {
        assert_eq!(
            get_license(port, &instance, "EV-E-1", Some(MACHINE_A)),
            "000004"
        );
    }
    env.market.state.lock().fail_queries = 0;
    let issued = wait_until(Duration::from_secs(10), || {
        get_license(port, &instance, "EV-E-1", Some(MACHINE_A)) == "000000"
    });
    assert!(issued);
}

#[test]
fn without_credentials_nothing_is_sent_and_jobs_wait_for_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let market = FakeMarket::start();
    let token = create_token(dir.path());
    let with = config(dir.path(), market.port, "");
    let without = with
        .lines()
        .filter(|l| !l.starts_with("access_key_id") && !l.starts_with("secret_access_key"))
        .collect::<Vec<_>>()
        .join("\n");
    let app = App::start(dir.path(), &without);
    let instance = new_instance(app.port, "CS-NOCREDS-1");
    let key = format!("order/{instance}");
    assert!(wait_until(Duration::from_secs(10), || {
        job(app.port, &token, "pending", &key).is_some_and(|j| {
            j["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("not configured"))
        })
    }));
    let pending = job(app.port, &token, "pending", &key).expect("pending");
    assert_eq!(
        pending["attempts"], 0,
        "nothing was sent, so nothing was attempted"
    );
    let body = serde_json::json!({"authorization_code": "PL-X", "hardware_identifier": MACHINE_A});
    let (status, answer) = api(app.port, "POST", "/v1/activate", None, Some(&body));
    assert_eq!(
        (status, answer["code"].as_str()),
        (503, Some("marketplace_unavailable"))
    );
    app.stop();
    assert!(market.state.lock().order_queries.is_empty());

    let app = App::start(dir.path(), &with);
    assert!(wait_until(Duration::from_secs(10), || job(
        app.port, &token, "done", &key
    )
    .is_some()));
    app.stop();
}

/// Two instances on one database (PostgreSQL: `ha` puts `dir_a` on one) and a slow
/// marketplace that fails the first uploads, so both workers see every job due, again and
/// again: each upload is acknowledged exactly once.
pub(crate) fn a_job_is_sent_once_by_two_instances(
    dir_a: tempfile::TempDir,
    share_database: fn(&Path, &Path),
) {
    let dir_b = tempfile::tempdir().expect("tempdir");
    let market = FakeMarket::start();
    let token = create_token(dir_a.path());
    let a = App::start(dir_a.path(), &config(dir_a.path(), market.port, ""));
    share_database(&dir_a.path().join("data"), &dir_b.path().join("data"));
    let key = koolicense::startup::dev_signing_key_path(&dir_a.path().join("data"));
    let signing = format!("[signing]\nkey_file = \"{}\"\n", key.display());
    let b = App::start(dir_b.path(), &config(dir_b.path(), market.port, &signing));
    let instance = new_instance(a.port, "CS-TWO-1");
    assert!(wait_until(Duration::from_secs(15), || job(
        a.port,
        &token,
        "done",
        &format!("order/{instance}")
    )
    .is_some()));
    {
        let mut s = market.state.lock();
        s.delay_ms = 100;
        s.fail_uploads = 6;
    }
    let events: Vec<String> = (0..6).map(|i| format!("EV-TWO-{i}")).collect();
    for (i, event) in events.iter().enumerate() {
        let port = if i % 2 == 0 { a.port } else { b.port };
        assert_eq!(
            get_license(port, &instance, event, Some(MACHINE_A)),
            "000000"
        );
    }
    let all_done = wait_until(Duration::from_secs(30), || {
        events
            .iter()
            .all(|e| job(a.port, &token, "done", &format!("upload/{e}")).is_some())
    });
    assert!(all_done, "every upload is acknowledged");
    let s = market.state.lock();
    for event in &events {
        assert_eq!(s.uploads_for(event).len(), 1, "{event} sent once");
    }
}
