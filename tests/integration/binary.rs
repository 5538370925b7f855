//! The real binary serving on a free port, for tests that need a process of its own (kill,
//! exit codes, logs on stderr, the command line against a running service).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::market::KEY;

/// The real binary serving on a free port; killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) log: PathBuf,
}

impl Server {
    /// Starts `koolicense serve` on `data_dir`, stdout and stderr appended to `log`, with
    /// `env` on top of the defaults (warn-level text logs, two workers).
    pub(crate) fn start(data_dir: &Path, log: PathBuf, env: &[(&str, &str)]) -> Server {
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").expect("free port");
            probe.local_addr().expect("addr").port()
        };
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_koolicense"));
        for (name, _) in std::env::vars() {
            if name.starts_with("KOOLICENSE_") {
                command.env_remove(name);
            }
        }
        let child = command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env("KOOLICENSE_KOOMARKET_KEY", KEY)
            .env("KOOLICENSE_LOG", "warn")
            .env("KOOLICENSE_WORKERS", "2")
            .env("KOOLICENSE_CACHE_CAPACITY_MB", "16")
            .envs(crate::support::storage_env(data_dir))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("log file"))
            .stderr(output)
            .spawn()
            .expect("start the binary");
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_until_healthy();
        server
    }

    pub(crate) fn wait_until_healthy(&self) {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_millis(500))
            .build();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if agent
                .get(&format!("{}/healthz", self.url))
                .call()
                .is_ok_and(|r| r.status() == 200)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the server did not become healthy; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    pub(crate) fn market_url(&self) -> String {
        format!("{}/koomarket/license", self.url)
    }

    /// SIGKILL (what `Child::kill` sends on unix), then reap.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
