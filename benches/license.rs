//! Load benchmark of the KooMarket getLicense production interface against a ceiling, on
//! loopback only: `cargo bench --bench license`.
//!
//! Two servers run in this process, each on its own actix system thread with 2 workers:
//!
//! * the real service (`koolicense::startup::Application`, default settings, logging at `info`
//!   into a file as `serve` would to stderr);
//! * the ceiling: one endpoint that encodes a license of the same size, signs it, inserts it
//!   into sled and waits for the group commit, and answers the same body (see
//!   `koolicense::bench_support`).
//!
//! * the same service on fjall (`storage.backend = "fjall"`), and the ceiling on fjall;
//!
//! * the same service on PostgreSQL (`storage.backend = "postgres"`), one instance and two
//!   instances on one database (clients split between them), on a throwaway server started
//!   like the test harness's (`tests/integration/support/postgres.rs`); without server
//!   binaries these runs say so and are left out.
//!
//! For each concurrency (16 and 64) and each server, N client threads, each with its own
//! keep-alive connection (one `ureq::Agent` per thread), run a closed loop: warm-up, then a timed
//! window in which every request is recorded. Every getLicense carries a new orderId, so every
//! answer `000000` is a durable write. Anything but HTTP 200 with `resultCode` `000000` counts
//! as an error. Each run also shows the CPU the whole process used (servers and clients share
//! the machine), the bytes the disk received per request (machine-wide) and the group-commit
//! flushes with the requests and sync calls per flush.
//!
//! Environment (all optional):
//! * `KOOLICENSE_BENCH_SECS`: measured seconds per run (default 4);
//! * `KOOLICENSE_BENCH_WARMUP_SECS`: warm-up seconds per run (default 1);
//! * `KOOLICENSE_BENCH_CONCURRENCY`: comma-separated client counts (default `16,64`);
//! * `KOOLICENSE_BENCH_TARGETS`: any of `ceiling`, `getLicense`, `ceiling-fjall`, `fjall`, `pg`,
//!   `pg2` (default: all), e.g. to profile one;
//! * `KOOLICENSE_BENCH_ROUNDS`: rounds of every target at each concurrency (default 1); with
//!   more, each round's ratios are printed and then their medians and ranges;
//! * `KOOLICENSE_BENCH_LOG`: the service's log filter (default `info`; `off` to disable);
//! * `KOOLICENSE_BENCH_DIR`: parent directory of the temporary data (default `target/tmp`).
//!
//! A smoke run: `KOOLICENSE_BENCH_SECS=1 KOOLICENSE_BENCH_WARMUP_SECS=0.2 cargo bench --bench
//! license`.

use std::net::TcpListener;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use koolicense::bench_support::{self, BenchServer};

#[path = "license/load.rs"]
mod load;
use load::{print_run, run};
#[path = "license/summary.rs"]
mod summary;

#[path = "../tests/integration/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;

const MARKET_KEY: &str = "bench-market-key-5b0c1e";
const WORKERS: usize = 2;
/// No single request may take longer than this (the loops are bounded by time regardless).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Target at the highest concurrency: durable getLicense per second and p99.
const TARGET_RATE: f64 = 5_000.0;
const TARGET_P99_MS: f64 = 50.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Ceiling,
    GetLicense,
    /// getLicense on PostgreSQL, one instance.
    Postgres,
    /// getLicense on PostgreSQL, two instances on one database.
    PostgresTwo,
    /// The ceiling on fjall.
    FjallCeiling,
    /// getLicense on fjall.
    Fjall,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Ceiling => "ceiling",
            Target::GetLicense => "getLicense",
            Target::Postgres => "pg",
            Target::PostgresTwo => "pg2",
            Target::FjallCeiling => "ceiling-fjall",
            Target::Fjall => "fjall",
        }
    }

    const ALL: [Target; 6] = [
        Target::Ceiling,
        Target::GetLicense,
        Target::FjallCeiling,
        Target::Fjall,
        Target::Postgres,
        Target::PostgresTwo,
    ];
}

struct Config {
    warmup: Duration,
    measure: Duration,
    concurrency: Vec<usize>,
    targets: Vec<Target>,
    rounds: usize,
    log: String,
}

fn env_secs(name: &str, default: f64) -> anyhow::Result<Duration> {
    let secs = match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .with_context(|| format!("{name}={v:?} is not a number of seconds"))?,
        Err(_) => default,
    };
    if !(0.0..=600.0).contains(&secs) {
        bail!("{name} must be between 0 and 600 seconds");
    }
    Ok(Duration::from_secs_f64(secs))
}

impl Config {
    fn from_env() -> anyhow::Result<Config> {
        let concurrency = match std::env::var("KOOLICENSE_BENCH_CONCURRENCY") {
            Ok(v) => v
                .split(',')
                .map(|n| n.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .context("KOOLICENSE_BENCH_CONCURRENCY is not a list of numbers")?,
            Err(_) => vec![16, 64],
        };
        if concurrency.iter().any(|&n| n == 0 || n > 512) {
            bail!("each concurrency must be between 1 and 512");
        }
        let targets = match std::env::var("KOOLICENSE_BENCH_TARGETS") {
            Ok(v) => v
                .split(',')
                .map(|t| {
                    Target::ALL
                        .into_iter()
                        .find(|target| target.name() == t.trim())
                        .ok_or_else(|| anyhow!("unknown target {t:?} in KOOLICENSE_BENCH_TARGETS"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
            Err(_) => Target::ALL.to_vec(),
        };
        let measure = env_secs("KOOLICENSE_BENCH_SECS", 4.0)?;
        if measure.is_zero() {
            bail!("KOOLICENSE_BENCH_SECS must be positive");
        }
        let rounds = match std::env::var("KOOLICENSE_BENCH_ROUNDS") {
            Ok(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=20).contains(n))
                .ok_or_else(|| anyhow!("KOOLICENSE_BENCH_ROUNDS={v:?} is not between 1 and 20"))?,
            Err(_) => 1,
        };
        Ok(Config {
            warmup: env_secs("KOOLICENSE_BENCH_WARMUP_SECS", 1.0)?,
            measure,
            concurrency,
            targets,
            rounds,
            log: std::env::var("KOOLICENSE_BENCH_LOG").unwrap_or_else(|_| "info".into()),
        })
    }
}

fn install_log(config: &Config, dir: &std::path::Path) -> anyhow::Result<()> {
    if config.log == "off" {
        return Ok(());
    }
    let file = std::fs::File::create(dir.join("service.log")).context("while creating the log")?;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| anyhow!("KOOLICENSE_BENCH_LOG: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Arc::new(file))
        .with_ansi(false)
        .try_init()
        .map_err(|e| anyhow!("while installing the log subscriber: {e}"))
}

fn main() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let parent = std::env::var_os("KOOLICENSE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_TARGET_TMPDIR").into());
    std::fs::create_dir_all(&parent)?;
    let dir = tempfile::Builder::new()
        .prefix("license-bench-")
        .tempdir_in(&parent)
        .context("while creating the data directory")?;
    install_log(&config, dir.path())?;
    println!(
        "license bench: {} workers per server, warm-up {:.1} s, measure {:.1} s, concurrency {:?}, \
         service log {:?}, data under {}",
        WORKERS,
        config.warmup.as_secs_f64(),
        config.measure.as_secs_f64(),
        config.concurrency,
        config.log,
        dir.path().display()
    );

    let loopback = || TcpListener::bind("127.0.0.1:0").context("while binding 127.0.0.1");
    let ceiling = bench_support::ceiling_server(
        &dir.path().join("ceiling"),
        loopback()?,
        WORKERS,
        MARKET_KEY,
        bench_support::Engine::Sled,
    )?;
    let fjall_ceiling = bench_support::ceiling_server(
        &dir.path().join("ceiling-fjall"),
        loopback()?,
        WORKERS,
        MARKET_KEY,
        bench_support::Engine::Fjall,
    )?;
    let mut settings =
        bench_support::service_settings(&dir.path().join("service-fjall"), WORKERS, MARKET_KEY);
    settings.storage.backend = koolicense::settings::StorageBackend::Fjall;
    let fjall = bench_support::service_server(settings, loopback()?)?;
    check_answer(&fjall)?;
    let settings =
        bench_support::service_settings(&dir.path().join("service"), WORKERS, MARKET_KEY);
    let service = bench_support::service_server(settings, loopback()?)?;
    check_answer(&service)?;
    let on_postgres = config
        .targets
        .iter()
        .any(|t| matches!(t, Target::Postgres | Target::PostgresTwo));
    let pg = match on_postgres {
        true => start_postgres(dir.path(), &loopback)?,
        false => Vec::new(),
    };

    let orders = Arc::new(AtomicU64::new(1));
    let mut table: Vec<(usize, Vec<summary::Round>)> = Vec::new();
    for &concurrency in &config.concurrency {
        let mut rounds = Vec::with_capacity(config.rounds);
        for _ in 0..config.rounds {
            let mut round = Vec::new();
            for &target in &config.targets {
                let servers: Vec<&BenchServer> = match target {
                    Target::Ceiling => vec![&ceiling],
                    Target::GetLicense => vec![&service],
                    Target::FjallCeiling => vec![&fjall_ceiling],
                    Target::Fjall => vec![&fjall],
                    Target::Postgres => pg.iter().take(1).collect(),
                    Target::PostgresTwo => pg.iter().take(2).collect(),
                };
                if servers.is_empty() {
                    continue;
                }
                let result = run(target, &servers, concurrency, &config, &orders)?;
                print_run(target, concurrency, &result);
                round.push((target, result));
            }
            rounds.push(round);
        }
        table.push((concurrency, rounds));
    }
    service.stop()?;
    ceiling.stop()?;
    fjall.stop()?;
    fjall_ceiling.stop()?;
    for server in pg {
        server.stop()?;
    }

    println!();
    for (concurrency, rounds) in &table {
        summary::print_rounds(*concurrency, rounds);
    }
    summary::print_target(&table);
    let errors: u64 = table
        .iter()
        .flat_map(|(_, rounds)| rounds.iter().flatten().map(|(_, r)| r.errors))
        .sum();
    if errors > 0 {
        bail!("{errors} requests failed");
    }
    Ok(())
}

/// Two instances of the service on one fresh PostgreSQL database (the second signing with the
/// first's key), each checked; none, said so, without a server.
fn start_postgres(
    dir: &std::path::Path,
    loopback: &dyn Fn() -> anyhow::Result<TcpListener>,
) -> anyhow::Result<Vec<BenchServer>> {
    let server = match postgres::available() {
        Ok(server) => server,
        Err(why) => {
            println!("SKIPPED the PostgreSQL runs: {why}");
            return Ok(Vec::new());
        }
    };
    let url = server.new_database();
    let mut servers = Vec::new();
    for name in ["pg-a", "pg-b"] {
        let mut settings = bench_support::service_settings(&dir.join(name), WORKERS, MARKET_KEY);
        settings.storage.backend = koolicense::settings::StorageBackend::Postgres;
        settings.storage.postgres_url = Some(koolicense::settings::Secret::new(url.clone()));
        settings.storage.postgres_pool_size = 16;
        if name == "pg-b" {
            settings.signing.key_file =
                Some(koolicense::startup::dev_signing_key_path(&dir.join("pg-a")));
        }
        let service = bench_support::service_server(settings, loopback()?)?;
        check_answer(&service)?;
        servers.push(service);
    }
    Ok(servers)
}

/// One getLicense before measuring: the answer is `000000`, carries a license and a valid
/// `Body-Sign`, and the same order answers the same license again.
fn check_answer(service: &BenchServer) -> anyhow::Result<()> {
    let query = bench_support::GetLicenseSigner::new(MARKET_KEY)?
        .query("CS-bench-check", "00000000-0000-4000-8000-000000000000");
    let url = format!(
        "http://127.0.0.1:{}/koomarket/license?{query}",
        service.port()
    );
    let get = || -> anyhow::Result<(String, serde_json::Value)> {
        let response = ureq::get(&url).timeout(REQUEST_TIMEOUT).call()?;
        let sign = response.header("Body-Sign").unwrap_or("").to_owned();
        let body = response.into_string()?;
        if !bench_support::body_sign_ok(MARKET_KEY, body.as_bytes(), &sign) {
            bail!("Body-Sign does not verify: {body}");
        }
        Ok((body.clone(), serde_json::from_str(&body)?))
    };
    let (body, first) = get()?;
    if first["resultCode"] != "000000" || !first["license"].is_string() {
        bail!("getLicense did not issue a license: {body}");
    }
    let (_, again) = get()?;
    if again["license"] != first["license"] {
        bail!("a replayed order answered a different license");
    }
    Ok(())
}
