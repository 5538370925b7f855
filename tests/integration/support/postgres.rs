//! A throwaway PostgreSQL for the test process: ONE server per process, started on first use
//! from the system's server binaries (Debian's `postgresql`: `/usr/lib/postgresql/<v>/bin`),
//! initialised in a temporary directory and run as an unprivileged user when the process runs
//! as root (PostgreSQL refuses root), listening only on a unix socket in that directory, with
//! fsync on. Every caller gets a fresh database of its own (`CREATE DATABASE`). A watcher
//! process stops the server and removes the directory once the test process is gone.
//!
//! `KOOLICENSE_TEST_DATABASE_URL` (a server where the URL's user may create databases) is used
//! instead when set. Without either, [`available`] is `None` and the caller says loudly that
//! it skips (a failure under `KOOLICENSE_REQUIRE_ALL=1`).
//!
//! Shared by the integration tests and the benchmarks (`#[path]`), so it uses only std,
//! `postgres` and `uuid`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The server of this process: how to reach it as its administrator.
pub(crate) struct Server {
    /// A connection string for the `postgres` database as superuser.
    admin: String,
}

/// The server, started on first call; `None` (with the reason) when there is none.
pub(crate) fn available() -> Result<&'static Server, String> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| match std::env::var("KOOLICENSE_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Ok(Server { admin: url }),
            _ => start(),
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The server or a loud skip: prints why and returns `None`, or panics under
/// `KOOLICENSE_REQUIRE_ALL=1`.
pub(crate) fn or_skip(what: &str) -> Option<&'static Server> {
    match available() {
        Ok(server) => Some(server),
        Err(why) => {
            let message = format!("SKIPPED {what}: no PostgreSQL ({why})");
            eprintln!("{message}");
            assert!(
                std::env::var_os("KOOLICENSE_REQUIRE_ALL").is_none(),
                "{message}"
            );
            None
        }
    }
}

impl Server {
    /// A fresh, empty database; its connection string.
    pub(crate) fn new_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut client = connect(&self.admin).expect("connect to the test server");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        with_database(&self.admin, &name)
    }
}

/// Connects with `url` (no TLS: the server is local).
pub(crate) fn connect(url: &str) -> Result<postgres::Client, postgres::Error> {
    url.parse::<postgres::Config>()?.connect(postgres::NoTls)
}

/// `url` pointing at database `name` instead.
fn with_database(url: &str, name: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let query = tail
                .split_once('?')
                .map(|(_, q)| format!("?{q}"))
                .unwrap_or_default();
            format!("{scheme}://{authority}/{name}{query}")
        }
        None => format!("{url} dbname={name}"),
    }
}

/// The newest installed server binaries.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Runs as `nobody` when this process is root.
fn command(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn start() -> Result<Server, String> {
    let bin = binaries().ok_or("no server binaries under /usr/lib/postgresql/*/bin")?;
    let dir = std::env::temp_dir().join(format!("koolicense-pg-{}", uuid::Uuid::new_v4().simple()));
    let data = dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("temp dir: {e}"))?;
    let root = is_root();
    if root {
        let status = Command::new("chown")
            .args(["nobody:nogroup"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !status.success() {
            return Err("chown of the temp dir failed".into());
        }
    }
    let output = command(&bin.join("initdb"), root)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ])
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
    let child = command(&bin.join("postgres"), root)
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&dir)
        .args([
            "-c",
            "listen_addresses=",
            "-c",
            "fsync=on",
            "-c",
            "synchronous_commit=on",
            "-c",
            "max_connections=400",
            "-c",
            "shared_buffers=64MB",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("postgres: {e}"))?;
    watch(&child, &dir);
    let admin = format!(
        "host={} port=5432 user=postgres dbname=postgres",
        dir.display()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match connect(&admin) {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                return Err(format!("the server did not start: {e}\n{log}"));
            }
        }
    }
    Ok(Server { admin })
}

/// Starts a watcher that stops the server (fast shutdown) and removes `dir` once this process
/// is gone, however it ends.
fn watch(server: &Child, dir: &Path) {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; kill -INT {pid}; \
         while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; rm -rf '{dir}'",
        parent = std::process::id(),
        pid = server.id(),
        dir = dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
