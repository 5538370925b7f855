//! A real browser for the console tests: Debian's headless Chromium driven through
//! `chromedriver` (started here on a free loopback port, stopped on drop) with the `fantoccini`
//! WebDriver client. Every WebDriver command and every wait is bounded in time. Without
//! Chromium the tests print a loud SKIP, or fail when `KOOLICENSE_REQUIRE_ALL=1`.

use std::future::Future;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tempfile::TempDir;

/// Longest any single WebDriver command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);
/// Longest a wait for the page may take.
const WAIT_LIMIT: Duration = Duration::from_secs(15);

/// One browser at a time: the machine has few cores and Chromium is heavy.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

fn find(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    match std::env::var_os(env) {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.exists()),
        None => candidates.iter().map(PathBuf::from).find(|p| p.exists()),
    }
}

/// Chromium and chromedriver, or `None` after a loud SKIP (a panic under
/// `KOOLICENSE_REQUIRE_ALL=1`).
fn tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    let chromium = find(
        "KOOLICENSE_CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    );
    let driver = find(
        "KOOLICENSE_CHROMEDRIVER",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    );
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            let message = format!(
                "SKIP {test}: the console browser tests need Debian's `chromium` and \
                 `chromium-driver` (apt-get install chromium chromium-driver)"
            );
            if std::env::var("KOOLICENSE_REQUIRE_ALL").as_deref() == Ok("1") {
                panic!("{message}, and KOOLICENSE_REQUIRE_ALL=1 turns this skip into a failure");
            }
            let banner = "!".repeat(100);
            eprintln!("\n{banner}\n{message}\n{banner}\n");
            None
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A headless Chromium session.
pub(crate) struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: TempDir,
    _one: MutexGuard<'static, ()>,
}

impl Browser {
    /// Starts chromedriver and a fresh browser profile; `None` when Chromium is missing.
    pub(crate) fn start(test: &str) -> Option<Browser> {
        let (chromium, driver_path) = tools(test)?;
        let one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
        let port = free_port();
        let driver = Command::new(&driver_path)
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", driver_path.display()));
        let profile = tempfile::tempdir().expect("profile directory");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut browser = Browser {
            runtime,
            client: None,
            driver,
            _profile: profile,
            _one: one,
        };
        let client = browser.connect(port, &chromium, browser._profile.path());
        browser.client = Some(client);
        Some(browser)
    }

    fn connect(&self, port: u16, chromium: &Path, profile: &Path) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1440,1000",
                    "--lang=en-US",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": { "intl.accept_languages": "en-US,en" },
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + COMMAND_LIMIT;
        loop {
            let attempt = self.runtime.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(20),
                    ClientBuilder::new(HttpConnector::new())
                        .capabilities(capabilities.clone())
                        .connect(&url),
                )
                .await
            });
            match attempt {
                Ok(Ok(client)) => return client,
                Ok(Err(e)) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(Err(e)) => panic!("no browser session from chromedriver: {e}"),
                Err(_) => panic!("chromedriver did not open a session in time"),
            }
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("browser session")
    }

    /// Runs one WebDriver future, bounded by [`COMMAND_LIMIT`].
    fn run<T, E: std::fmt::Display>(&self, what: &str, f: impl Future<Output = Result<T, E>>) -> T {
        match self
            .runtime
            .block_on(async { tokio::time::timeout(COMMAND_LIMIT, f).await })
        {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => panic!("{what}: {e}"),
            Err(_) => panic!("{what}: no answer within {COMMAND_LIMIT:?}"),
        }
    }

    /// Opens a URL.
    pub(crate) fn goto(&self, url: &str) {
        self.run(&format!("open {url}"), self.client().goto(url));
    }

    /// Waits (bounded) for an element matching `css`.
    pub(crate) fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            let found = self.run("find", async {
                Ok::<_, fantoccini::error::CmdError>(
                    self.client().find(Locator::Css(css)).await.ok(),
                )
            });
            match found {
                Some(element) => return element,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                None => panic!(
                    "no element {css} within {WAIT_LIMIT:?}\n{}",
                    self.page_text()
                ),
            }
        }
    }

    /// Waits (bounded) until the element matching `css` has exactly `text`.
    pub(crate) fn wait_for_text(&self, css: &str, text: &str) {
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            if self.texts(css).iter().any(|t| t == text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never read {text:?} (it reads {:?})",
                self.texts(css)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The texts of every element matching `css`.
    pub(crate) fn texts(&self, css: &str) -> Vec<String> {
        let elements = self.run("find all", self.client().find_all(Locator::Css(css)));
        elements
            .iter()
            .filter_map(|e| self.runtime.block_on(e.text()).ok())
            .collect()
    }

    /// How many elements match `css` now.
    pub(crate) fn count(&self, css: &str) -> usize {
        self.run("find all", self.client().find_all(Locator::Css(css)))
            .len()
    }

    /// Clicks the element matching `css` (waiting for it).
    pub(crate) fn click(&self, css: &str) {
        let element = self.wait_for(css);
        self.run(&format!("click {css}"), element.click());
    }

    /// Types into the element matching `css` (waiting for it).
    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let element = self.wait_for(css);
        self.run(&format!("type into {css}"), element.send_keys(text));
    }

    /// Runs a script in the page; a returned promise is awaited.
    pub(crate) fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.run("execute script", self.client().execute(script, args))
    }

    /// The visible text of the page (for failure messages).
    pub(crate) fn page_text(&self) -> String {
        self.runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), async {
                    let body = self.client().find(Locator::Css("body")).await?;
                    body.text().await
                })
                .await
            })
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// Whether a JavaScript dialog (alert) is open.
    pub(crate) fn alert_open(&self) -> bool {
        self.runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), self.client().get_alert_text()).await
            })
            .is_ok_and(|r| r.is_ok())
    }

    /// A PNG of the window.
    pub(crate) fn screenshot(&self) -> Vec<u8> {
        self.run("screenshot", self.client().screenshot())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), client.close()).await
            });
        }
        // chromedriver leads its own process group: end it and any browser it left behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
