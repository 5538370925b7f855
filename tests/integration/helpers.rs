//! Test harness: the real application on 127.0.0.1:0 in its own temporary directory, served by a
//! background thread with its own actix System, and a client that checks the marketplace
//! contract (HTTP 200, JSON, a valid `Body-Sign`) on every answer.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use koolicense::clock::Clock;
use koolicense::settings::{Overrides, Secret, Settings};
use koolicense::startup::{Application, StartOptions};
use koolicense::store_support::ReadFault;
use koolicense_verify::{Claims, PublicKey, Verifier};
use serde_json::Value;
use tempfile::TempDir;

pub(crate) use crate::answer::{check_contract, Answer, RawAnswer};
use crate::market::{self, KEY};
pub(crate) use crate::support::order::{unique, Order};
pub(crate) use crate::support::stopped::{
    corrupt_stored_license, stored_license, wait_until_released,
};

/// Product ids of the policies every test app has.
pub(crate) const HW_PRODUCT: &str = "P-HW";
/// A product bound to the marketplace's system identifier.
pub(crate) const SYS_PRODUCT: &str = "P-SYS";
/// A floating product (no binding).
pub(crate) const FLOAT_PRODUCT: &str = "P-FLOAT";
/// A floating-license product: the quantity is concurrent seats, held by leases (15 minutes,
/// borrowing up to a day).
pub(crate) const SEATS_PRODUCT: &str = "P-SEATS";

/// Policies written to the configuration file of every test app.
const POLICIES: &str = r#"
[[product]]
product_id = "P-HW"
binding = "hardware"
min_matching_components = 2

[[product]]
product_id = "P-SYS"
binding = "system"

[[product]]
product_id = "P-FLOAT"
binding = "none"

[[product]]
product_id = "P-SEATS"
binding = "none"
model = "floating"
max_borrow_secs = 86400
"#;

/// Longest a server may take to start or to stop.
const START_STOP_LIMIT: Duration = Duration::from_secs(20);

/// How a test app is configured.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// Marketplace keys, current first.
    pub(crate) keys: Vec<String>,
    /// `koomarket.timestamp_window_secs`.
    pub(crate) timestamp_window_secs: u64,
    /// `signing.key_file`; `None` = the development key in the data directory.
    pub(crate) signing_key_file: Option<PathBuf>,
    /// `StartOptions::rotate_key`.
    pub(crate) rotate_key: bool,
    /// `[api]` rate limits: (per-token rate, burst, per-address rate, burst).
    pub(crate) rate_limits: Option<(u32, u32, u32, u32)>,
    /// `api.trusted_proxies`.
    pub(crate) trusted_proxies: Vec<String>,
    /// `server.metrics_listen`.
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// The clock of leases and deactivations (a test advances it instead of waiting).
    pub(crate) clock: Clock,
    /// Stay on sled whatever backend the suite runs on (tests about sled itself).
    pub(crate) sled_only: bool,
    /// Stay on an embedded backend (fjall when the suite runs on it, else sled): tests about
    /// the database's files in the data directory.
    pub(crate) embedded_only: bool,
    /// `StartOptions::read_fault`.
    pub(crate) read_fault: ReadFault,
    /// `seats.lapse_sweep_interval_secs` (0 here by default: a test's lapses are found by the
    /// checkouts it makes, unless it asks for the sweep).
    pub(crate) lapse_sweep_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keys: vec![KEY.to_owned()],
            timestamp_window_secs: 0,
            signing_key_file: None,
            rotate_key: false,
            rate_limits: None,
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            clock: Clock::default(),
            sled_only: false,
            embedded_only: false,
            read_fault: ReadFault::default(),
            lapse_sweep_secs: 0,
        }
    }
}

/// A running application.
pub(crate) struct TestApp {
    /// The bound address.
    pub(crate) addr: SocketAddr,
    /// The data directory (inside `dir`).
    pub(crate) data_dir: PathBuf,
    /// The marketplace key requests are signed with by default (and answers checked with).
    pub(crate) key: String,
    /// The configuration it was started with.
    pub(crate) config: Config,
    dir: Arc<TempDir>,
    handle: Option<ServerHandle>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
    agent: Option<ureq::Agent>,
}

/// Starts an app with the default configuration in a fresh directory.
pub(crate) fn spawn_app() -> TestApp {
    spawn_app_with(Config::default())
}

/// Starts an app with `config` in a fresh directory.
pub(crate) fn spawn_app_with(config: Config) -> TestApp {
    try_spawn(config, new_dir()).expect("the app starts")
}

/// A fresh temporary directory for an app.
pub(crate) fn new_dir() -> Arc<TempDir> {
    Arc::new(tempfile::tempdir().expect("temporary directory"))
}

/// The settings of a test app: the policies above from a real configuration file, then the
/// programmatic overrides.
pub(crate) fn settings(config: &Config, dir: &Path) -> Settings {
    let file = dir.join("koolicense.toml");
    std::fs::write(&file, POLICIES).expect("write the configuration file");
    let overrides = Overrides {
        listen: None,
        data_dir: Some(dir.join("data")),
        key_file: config.signing_key_file.clone(),
    };
    let mut settings = Settings::load(Some(&file), &[], &overrides).expect("settings load");
    settings.koomarket.keys = config.keys.iter().map(Secret::new).collect();
    settings.koomarket.timestamp_window_secs = config.timestamp_window_secs;
    settings.seats.lapse_sweep_interval_secs = config.lapse_sweep_secs;
    settings.server.workers = 2;
    settings.server.shutdown_timeout_secs = 2;
    settings.storage.cache_capacity_mb = 8;
    // Tests make many /v1 calls from one address; limits are tested with explicit settings.
    let (token_rate, token_burst, address_rate, address_burst) = config
        .rate_limits
        .unwrap_or((10_000, 10_000, 10_000, 10_000));
    settings.api.token_rate_per_second = token_rate;
    settings.api.token_burst = token_burst;
    settings.api.address_rate_per_second = address_rate;
    settings.api.address_burst = address_burst;
    settings.api.trusted_proxies = config
        .trusted_proxies
        .iter()
        .map(|n| n.parse().expect("a CIDR"))
        .collect();
    settings.server.metrics_listen = config.metrics_listen;
    crate::support::apply(&mut settings);
    settings
}

/// Records the backend `config` keeps `data_dir` on, if it pins one.
pub(crate) fn pin(config: &Config, data_dir: &Path) {
    if config.sled_only {
        crate::support::pin_sled(data_dir);
    } else if config.embedded_only {
        crate::support::pin_embedded(data_dir);
    }
}

/// Starts an app on `dir` (which may hold the data of an earlier, stopped app).
pub(crate) fn try_spawn(config: Config, dir: Arc<TempDir>) -> anyhow::Result<TestApp> {
    pin(&config, &dir.path().join("data"));
    let token_file = dir.path().join("harness.token");
    if !token_file.exists() {
        // A read token of the harness's own, for counting licenses (readiness publishes none).
        let token =
            crate::api::create_token_offline(&dir.path().join("data"), "harness", &["read"]);
        std::fs::write(&token_file, token)?;
    }
    let settings = settings(&config, dir.path());
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let options = StartOptions {
        rotate_key: config.rotate_key,
        clock: config.clock.clone(),
        read_fault: config.read_fault.clone(),
    };
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("test-app-{}", addr.port()))
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match build_when_unlocked(settings, options, listener) {
                    Ok(app) => {
                        let _ = tx.send(Ok(app.handle()));
                        app.run_until_stopped().await
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        Ok(())
                    }
                }
            })
        })?;
    let handle = match rx.recv_timeout(START_STOP_LIMIT) {
        Ok(Ok(started)) => started,
        Ok(Err(e)) => {
            let _ = thread.join();
            return Err(e);
        }
        Err(e) => anyhow::bail!("the app did not start: {e}"),
    };
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build();
    Ok(TestApp {
        addr,
        data_dir: dir.path().join("data"),
        key: config.keys.first().cloned().unwrap_or_default(),
        config,
        dir,
        handle: Some(handle),
        thread: Some(thread),
        agent: Some(agent),
    })
}

/// Whether an error is sled or fjall refusing a database another handle still holds.
pub(crate) fn is_lock_error(error: &dyn std::fmt::Display) -> bool {
    let text = format!("{error:#}");
    text.contains("could not acquire lock") || text.contains("FjallError: Locked")
}

/// A stopped app's last worker thread may drop its database handle just after the server
/// reported the stop, so reopening waits (bounded) for sled's lock instead of failing.
pub(crate) fn build_when_unlocked(
    settings: Settings,
    options: StartOptions,
    listener: TcpListener,
) -> anyhow::Result<Application> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = listener.try_clone()?;
        match Application::build_with_listener(settings.clone(), options.clone(), attempt) {
            Err(e) if is_lock_error(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

impl TestApp {
    /// `http://127.0.0.1:<port>`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The production-interface URL.
    pub(crate) fn market_url(&self) -> String {
        format!("{}/koomarket/license", self.base_url())
    }

    /// The shared HTTP client of this app.
    pub(crate) fn agent(&self) -> &ureq::Agent {
        self.agent.as_ref().expect("app is running")
    }

    /// Sends a raw query string and checks the contract, the Body-Sign against `answer_key`.
    #[track_caller]
    pub(crate) fn send_with(&self, query: &str, answer_key: &str) -> Answer {
        let url = format!("{}?{query}", self.market_url());
        let response = self.agent().get(&url).call().unwrap_or_else(|e| match e {
            ureq::Error::Status(code, _) => panic!("HTTP {code} for {url}"),
            other => panic!("request failed: {other}"),
        });
        check_contract(response, answer_key)
    }

    /// Sends a raw query string; the answer must be signed with this app's key.
    #[track_caller]
    pub(crate) fn send(&self, query: &str) -> Answer {
        self.send_with(query, &self.key)
    }

    /// Signs `params` exactly as given with this app's key and sends them.
    #[track_caller]
    pub(crate) fn call_params(&self, params: &[(String, String)]) -> Answer {
        self.send(&market::signed_query(&self.key, params))
    }

    /// An activity with `fields`, plus a fresh timeStamp, signed with this app's key.
    #[track_caller]
    pub(crate) fn call(&self, activity: &str, fields: &[(&str, &str)]) -> Answer {
        let mut params = market::pairs(&[
            ("activity", activity),
            ("timeStamp", &market::time_stamp_now()),
        ]);
        params.extend(market::pairs(fields));
        self.call_params(&params)
    }

    /// getLicense for `order`.
    #[track_caller]
    pub(crate) fn get_license(&self, order: &Order) -> Answer {
        self.call_params(&order.params())
    }

    /// getLicense for `order`, which must succeed.
    #[track_caller]
    pub(crate) fn provision(&self, order: &Order) -> Answer {
        let answer = self.get_license(order);
        answer.expect("000000");
        answer
    }

    /// GET a path; returns the status and the JSON body.
    pub(crate) fn get_json(&self, path: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.base_url());
        let response = match self.agent().get(&url).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {url}: {e}"),
        };
        let status = response.status();
        assert_eq!(
            response.content_type(),
            "application/json",
            "content type of {path}"
        );
        let json = response.into_json().expect("JSON body");
        (status, json)
    }

    /// The harness's read token.
    pub(crate) fn read_token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("harness.token")).expect("harness token")
    }

    /// The number of licenses (test ones included), listed with the harness's read token.
    pub(crate) fn license_count(&self) -> u64 {
        let url = format!(
            "{}/v1/licenses?include_test=true&limit=500",
            self.base_url()
        );
        let response = self
            .agent()
            .get(&url)
            .set("Authorization", &format!("Bearer {}", self.read_token()))
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let json: Value = response.into_json().expect("JSON body");
        assert!(json["next_cursor"].is_null(), "more than one page: {json}");
        json["licenses"].as_array().expect("licenses").len() as u64
    }

    /// The published keys (`/v1/keys`).
    pub(crate) fn keys(&self) -> Vec<Value> {
        let (status, json) = self.get_json("/v1/keys");
        assert_eq!(status, 200, "{json}");
        json["keys"].as_array().expect("keys array").clone()
    }

    /// The kid of the active signing key.
    pub(crate) fn active_kid(&self) -> String {
        self.keys()
            .iter()
            .find(|k| k["active"] == Value::Bool(true))
            .and_then(|k| k["kid"].as_str())
            .expect("an active key")
            .to_owned()
    }

    /// A verifier pinning every key from `/v1/keys`.
    pub(crate) fn verifier(&self) -> Verifier {
        let keys: Vec<PublicKey> = self
            .keys()
            .iter()
            .map(|k| {
                PublicKey::parse(k["public_key_pem"].as_str().expect("pem")).expect("public key")
            })
            .collect();
        Verifier::new(keys)
    }

    /// Verifies a license now (without binding) with the published keys.
    #[track_caller]
    pub(crate) fn verify(&self, license: &str) -> Claims {
        self.verifier()
            .verify_now(license)
            .unwrap_or_else(|e| panic!("license does not verify: {e}"))
    }

    /// Stops the server, waits for its thread, and hands back the directory so the data can be
    /// reopened (sled must never be opened twice at once).
    pub(crate) fn stop(mut self) -> Arc<TempDir> {
        self.shutdown();
        Arc::clone(&self.dir)
    }

    /// Stops and starts a new app on the same directory and configuration.
    pub(crate) fn restart(self) -> TestApp {
        let config = self.config.clone();
        let dir = self.stop();
        try_spawn(config, dir).expect("the app restarts")
    }

    /// Waits (bounded) for the app to stop by itself, as after a storage failure: the error it
    /// stopped with (what `main` turns into a non-zero exit), or `Ok` for a clean stop.
    pub(crate) fn wait_for_exit(mut self) -> Result<(), String> {
        self.agent = None;
        self.handle = None;
        let thread = self.thread.take().expect("running");
        let deadline = Instant::now() + START_STOP_LIMIT;
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "the app did not stop by itself");
            std::thread::sleep(Duration::from_millis(20));
        }
        match thread.join() {
            Ok(result) => result.map_err(|e| format!("{e:#}")),
            Err(_) => Err("the app thread panicked".into()),
        }
    }

    fn shutdown(&mut self) {
        // Close pooled keep-alive connections so the graceful stop does not wait for them.
        self.agent = None;
        if let Some(handle) = self.handle.take() {
            drop(handle.stop(true));
        }
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + START_STOP_LIMIT;
            while !thread.is_finished() {
                assert!(Instant::now() < deadline, "the app did not stop in time");
                std::thread::sleep(Duration::from_millis(10));
            }
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the app failed: {e:#}"),
                Err(_) => panic!("the app thread panicked"),
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Best effort only: never turn a failing test into an abort.
            self.agent = None;
            if let Some(handle) = self.handle.take() {
                drop(handle.stop(false));
            }
            return;
        }
        self.shutdown();
    }
}

/// A unix time for a `yyyyMMddHHmmss` marketplace time.
pub(crate) fn unix_of(marketplace_time: &str) -> u64 {
    let t = chrono::NaiveDateTime::parse_from_str(marketplace_time, "%Y%m%d%H%M%S")
        .expect("marketplace time");
    u64::try_from(t.and_utc().timestamp()).expect("after 1970")
}
