//! Helpers of the POST-interface tests: the service on 127.0.0.1:0 in a temporary directory
//! (restartable on the same data), an independent scheme B signer (hmac/sha2/hex directly, not
//! the service's code), and small HTTP helpers. Every wait is a bounded loop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use koolicense::settings::{Overrides, Settings};
use koolicense::startup::StartOptions;
use serde_json::Value;
use sha2::Sha256;

/// The access key (访问密钥) configured in every test service.
pub(crate) const ACCESS_KEY: &str = "test-access-key-0001";
/// The marketplace AK/SK the service signs with and the fake marketplace checks.
pub(crate) const AK: &str = "AKTESTKOOLICENSE";
pub(crate) const SK: &str = "sk-test-secret-0001";

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Formula B1 (spec §2.5.1), written independently of the service.
pub(crate) fn sign_b(key: &str, nonce: &str, timestamp: &str, body: &[u8]) -> String {
    let inner = hex::encode(hmac_sha256(key.as_bytes(), body));
    let canonical = format!("{key}{nonce}{timestamp}{inner}");
    hex::encode(hmac_sha256(key.as_bytes(), canonical.as_bytes()))
}

/// The spec's fallback reading (plain SHA-256 inner digest).
pub(crate) fn sign_b_plain(key: &str, nonce: &str, timestamp: &str, body: &[u8]) -> String {
    use sha2::Digest;
    let inner = hex::encode(Sha256::digest(body));
    let canonical = format!("{key}{nonce}{timestamp}{inner}");
    hex::encode(hmac_sha256(key.as_bytes(), canonical.as_bytes()))
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build()
}

/// An HTTP answer: status, body, `Body-Sign` header.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) text: String,
    pub(crate) body_sign: Option<String>,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub(crate) fn code(&self) -> String {
        self.json()["resultCode"].as_str().unwrap_or("").to_string()
    }
}

fn reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = response.status();
    let body_sign = response.header("Body-Sign").map(str::to_string);
    let text = response.into_string().expect("body");
    Reply {
        status,
        text,
        body_sign,
    }
}

/// POSTs `body` to the production path with exactly this query string.
pub(crate) fn post_raw(port: u16, query: &str, body: &str) -> Reply {
    let url = format!("http://127.0.0.1:{port}/koomarket/license?{query}");
    reply(
        agent()
            .post(&url)
            .set("Content-Type", "application/json;charset=utf8")
            .send_bytes(body.as_bytes()),
    )
}

/// POSTs `body` signed with `key` (fresh nonce, current millisecond timestamp).
pub(crate) fn post_signed_with(port: u16, key: &str, body: &str) -> Reply {
    let (n, ts) = (nonce(), now_ms().to_string());
    let sig = sign_b(key, &n, &ts, body.as_bytes());
    post_raw(
        port,
        &format!("signature={sig}&timestamp={ts}&nonce={n}"),
        body,
    )
}

/// A correctly signed POST call; returns the answer body.
pub(crate) fn call(port: u16, body: &Value) -> Value {
    let reply = post_signed_with(port, ACCESS_KEY, &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

/// The `resultCode` of a correctly signed POST call.
pub(crate) fn code_of(port: u16, body: &Value) -> String {
    call(port, body)["resultCode"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// A `/v1` request (`token` as bearer when given).
pub(crate) fn api(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = agent().request(method, &format!("http://127.0.0.1:{port}{path}"));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let r = reply(match body {
        Some(b) => request.send_json(b.clone()),
        None => request.call(),
    });
    let json = serde_json::from_str(&r.text).unwrap_or(Value::Null);
    (r.status, json)
}

/// The body of an anonymous `GET`, exactly as sent (a signed document is checked byte for byte).
pub(crate) fn get_text(port: u16, path: &str) -> String {
    reply(
        agent()
            .get(&format!("http://127.0.0.1:{port}{path}"))
            .call(),
    )
    .text
}

/// Polls `check` every 25 ms until it holds or `limit` passes; returns whether it held.
pub(crate) fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    check()
}

/// A free loopback port nobody listens on (for an unreachable marketplace).
pub(crate) fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

/// Configuration of a test service; `extra` is appended to the generated TOML.
pub(crate) fn config(dir: &Path, market_port: u16, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
workers = 2
shutdown_timeout_secs = 1
[storage]
data_dir = "{data}"
cache_capacity_mb = 8
[api]
address_rate_per_second = 1000
address_burst = 1000
token_rate_per_second = 1000
token_burst = 1000
[koomarket]
access_keys = ["{ACCESS_KEY}"]
[marketplace]
base_url = "http://127.0.0.1:{market_port}"
fallback_base_url = ""
access_key_id = "{AK}"
secret_access_key = "{SK}"
timeout_secs = 1
retry_base_ms = 40
retry_max_secs = 1
max_attempts = 50
[[product]]
product_id = "P-HW"
binding = "hardware"
min_matching_components = 2
features = ["pro"]
[[product]]
product_id = "P-FLOAT"
binding = "none"
{extra}
"#,
        data = dir.join("data").display(),
    )
}

/// A running service.
pub(crate) struct App {
    pub(crate) port: u16,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl App {
    /// Starts the service with `toml` as its configuration file, inside `dir`.
    pub(crate) fn start(dir: &Path, toml: &str) -> App {
        let path: PathBuf = dir.join("koolicense.toml");
        std::fs::write(&path, toml).expect("write config");
        let mut settings =
            Settings::load(Some(&path), &[], &Overrides::default()).expect("settings");
        crate::support::apply(&mut settings);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                // A restarted app waits for its predecessor's last thread to let go of sled.
                let app = match crate::helpers::build_when_unlocked(
                    settings,
                    StartOptions::default(),
                    listener,
                ) {
                    Ok(app) => app,
                    Err(e) => panic!("cannot build the app: {e:#}"),
                };
                tx.send(app.handle()).expect("send handle");
                app.run_until_stopped().await.expect("serve");
            });
        });
        let handle = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the service started");
        App {
            port,
            handle,
            thread: Some(thread),
        }
    }

    /// Stops the service and waits until its storage is closed (it can be started again).
    pub(crate) fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            let handle = self.handle.clone();
            actix_web::rt::System::new().block_on(handle.stop(true));
            thread.join().expect("service thread");
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.shutdown();
        }
    }
}

/// Creates a write-scoped API token in a not yet running service's data directory.
pub(crate) fn create_token(dir: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_koolicense"))
        .args([
            "token",
            "create",
            "--name",
            "tests",
            "--scope",
            "write",
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .envs(crate::support::storage_env(&dir.join("data")))
        .env_remove("KOOLICENSE_CONFIG")
        .output()
        .expect("run koolicense token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}
