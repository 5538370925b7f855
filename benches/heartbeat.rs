//! What auditing lease heartbeats costs: `cargo bench --bench heartbeat`.
//!
//! Two instances of the real service run in this process on loopback, one with every heartbeat
//! audited (`seats.heartbeat_audit_interval_secs = 0`) and one with the default hourly sample,
//! which writes no heartbeat event within a run of seconds: the baseline of the same run. Each
//! checks out `KOOLICENSE_BENCH_LEASES` leases of one floating license; then, in alternating
//! windows (`KOOLICENSE_BENCH_ROUNDS` of each, so that the machine's other load hits both),
//! client threads (`KOOLICENSE_BENCH_CONCURRENCY`, default 16) renew them in a closed loop,
//! each heartbeat a durable write. Reported per window: heartbeats per second, p50/p99, the
//! bytes the disk received per heartbeat (machine-wide); then the ratios per pair of windows
//! and, from the stopped databases, the live bytes (keys and values of every tree) each audited
//! heartbeat added.
//!
//! Environment (all optional): `KOOLICENSE_BENCH_SECS` (measured seconds per window, default
//! 4), `KOOLICENSE_BENCH_WARMUP_SECS` (default 1), `KOOLICENSE_BENCH_CONCURRENCY` (default 16),
//! `KOOLICENSE_BENCH_LEASES` (default 256), `KOOLICENSE_BENCH_ROUNDS` (default 3),
//! `KOOLICENSE_BENCH_DIR` (default `target/tmp`).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use koolicense::bench_support::{self, BenchServer, GetLicenseSigner, PRODUCT_ID};
use koolicense::settings::Settings;
use serde_json::{json, Value};

const MARKET_KEY: &str = "bench-market-key-5b0c1e";
const TIMEOUT: Duration = Duration::from_secs(10);

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One lease a client keeps renewing.
struct Held {
    id: String,
    token: String,
    machine: String,
}

struct Outcome {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    disk_bytes_per_beat: Option<f64>,
}

fn post(agent: &ureq::Agent, url: &str, body: &Value) -> anyhow::Result<Value> {
    let response = agent.post(url).timeout(TIMEOUT).send_json(body.clone());
    match response {
        Ok(r) => Ok(r.into_json()?),
        Err(ureq::Error::Status(code, r)) => {
            bail!("HTTP {code}: {}", r.into_string().unwrap_or_default())
        }
        Err(e) => Err(e.into()),
    }
}

fn start(dir: &std::path::Path, audit_interval_secs: u64) -> anyhow::Result<BenchServer> {
    std::fs::create_dir_all(dir)?;
    let config = dir.join("koolicense.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
workers = 2
shutdown_timeout_secs = 5
[storage]
data_dir = "{data}"
[koomarket]
keys = ["{MARKET_KEY}"]
[api]
address_rate_per_second = 1000000
address_burst = 1000000
[seats]
heartbeat_audit_interval_secs = {audit_interval_secs}
[log]
level = "off"
[[product]]
product_id = "{PRODUCT_ID}"
binding = "none"
model = "floating"
quantity = {{ from = "fixed", value = 1000000 }}
lease_ttl_secs = 86400
"#,
            data = dir.join("data").display()
        ),
    )?;
    let settings = Settings::from_file(&config).map_err(|e| anyhow!("{e}"))?;
    bench_support::service_server(settings, TcpListener::bind("127.0.0.1:0")?)
}

/// The floating license and `leases` leases of it, split among `clients`.
fn check_out(base: &str, leases: usize, clients: usize) -> anyhow::Result<Vec<Vec<Held>>> {
    let query = GetLicenseSigner::new(MARKET_KEY)?
        .query("CS-bench-floating", "00000000-0000-4000-8000-000000000001");
    let issued: Value = ureq::get(&format!("{base}/koomarket/license?{query}"))
        .timeout(TIMEOUT)
        .call()?
        .into_json()?;
    let license = issued["license"]
        .as_str()
        .with_context(|| format!("no license: {issued}"))?
        .to_owned();
    let agent = ureq::Agent::new();
    let mut out: Vec<Vec<Held>> = (0..clients).map(|_| Vec::new()).collect();
    for n in 0..leases {
        let machine = format!("SYS-BENCH-MACHINE-{n:06}");
        let lease = post(
            &agent,
            &format!("{base}/v1/leases"),
            &json!({"license": license, "machine": machine}),
        )?;
        out[n % clients].push(Held {
            id: lease["lease_id"].as_str().context("lease id")?.to_owned(),
            token: lease["lease"].as_str().context("lease")?.to_owned(),
            machine,
        });
    }
    Ok(out)
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1e3
}

/// A running service with its leases.
struct Target {
    server: BenchServer,
    base: String,
    held: Vec<Vec<Held>>,
    beats: usize,
}

fn target(dir: &std::path::Path, audit_interval_secs: u64) -> anyhow::Result<Target> {
    let server = start(dir, audit_interval_secs)?;
    let base = format!("http://127.0.0.1:{}", server.port());
    let clients = env_f64("KOOLICENSE_BENCH_CONCURRENCY", 16.0).max(1.0) as usize;
    let leases = env_f64("KOOLICENSE_BENCH_LEASES", 256.0).max(clients as f64) as usize;
    let held = check_out(&base, leases, clients)?;
    Ok(Target {
        server,
        base,
        held,
        beats: 0,
    })
}

/// One window of heartbeats against `target`.
fn window(target: &mut Target) -> anyhow::Result<Outcome> {
    let warm = Duration::from_secs_f64(env_f64("KOOLICENSE_BENCH_WARMUP_SECS", 1.0));
    let window = Duration::from_secs_f64(env_f64("KOOLICENSE_BENCH_SECS", 4.0));
    let begin = Instant::now() + Duration::from_millis(100);
    let (warm_end, end) = (begin + warm, begin + warm + window);
    let threads: Vec<_> = std::mem::take(&mut target.held)
        .into_iter()
        .map(|mut mine| {
            let base = target.base.clone();
            std::thread::spawn(move || -> anyhow::Result<(Vec<Held>, Vec<u32>, usize)> {
                let agent = ureq::Agent::new();
                let (mut latencies, mut beats) = (Vec::new(), 0);
                std::thread::sleep(begin.saturating_duration_since(Instant::now()));
                let count = mine.len();
                for turn in 0.. {
                    let lease = &mut mine[turn % count];
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let url = format!("{base}/v1/leases/{}/heartbeat", lease.id);
                    let body = json!({"lease": lease.token, "machine": lease.machine});
                    let renewed = post(&agent, &url, &body)?;
                    lease.token = renewed["lease"].as_str().context("lease")?.to_owned();
                    beats += 1;
                    let done = Instant::now();
                    if sent >= warm_end && done <= end {
                        let us = done.duration_since(sent).as_micros();
                        latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                }
                Ok((mine, latencies, beats))
            })
        })
        .collect();
    std::thread::sleep(warm_end.saturating_duration_since(Instant::now()));
    let io_before = bench_support::device_written_bytes();
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let io_after = bench_support::device_written_bytes();
    let mut latencies = Vec::new();
    for thread in threads {
        let (mine, measured, beats) = thread.join().map_err(|_| anyhow!("a client panicked"))??;
        target.held.push(mine);
        target.beats += beats;
        latencies.extend(measured);
    }
    latencies.sort_unstable();
    let beats = latencies.len() as f64;
    Ok(Outcome {
        rate: beats / window.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        disk_bytes_per_beat: io_before
            .zip(io_after)
            .map(|(b, a)| a.saturating_sub(b) as f64 / beats.max(1.0)),
    })
}

/// Stops the service and sums the live bytes (keys and values) of its trees.
fn live_bytes(target: Target, dir: &std::path::Path) -> anyhow::Result<u64> {
    target.server.stop()?;
    let db = koolicense::store_support::ScaleDb::open(&dir.join("data"), &dir.join("keys"))?;
    let bytes = db.tree_sizes()?.iter().map(|(_, _, b)| b).sum();
    db.close()?;
    Ok(bytes)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let parent = std::env::var_os("KOOLICENSE_BENCH_DIR")
        .map_or_else(|| std::path::PathBuf::from("target/tmp"), Into::into);
    std::fs::create_dir_all(&parent)?;
    let dir = tempfile::tempdir_in(&parent)?;
    let (hourly_dir, every_dir) = (dir.path().join("hourly"), dir.path().join("every"));
    let mut hourly = target(&hourly_dir, 3600)?;
    let mut every = target(&every_dir, 0)?;
    let rounds = env_f64("KOOLICENSE_BENCH_ROUNDS", 3.0).max(1.0) as usize;
    let bytes = |o: &Outcome| {
        o.disk_bytes_per_beat
            .map_or_else(|| "n/a".into(), |b| format!("{b:.0} B"))
    };
    println!("| round | audit | heartbeats/s | p50 | p99 | disk written per heartbeat |");
    println!("|---|---|---|---|---|---|");
    let (mut rate_ratios, mut p99_ratios) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let base = window(&mut hourly)?;
        let audited = window(&mut every)?;
        for (name, o) in [("hourly (baseline)", &base), ("every heartbeat", &audited)] {
            println!(
                "| {round} | {name} | {:.0} | {:.2} ms | {:.2} ms | {} |",
                o.rate,
                o.p50_ms,
                o.p99_ms,
                bytes(o)
            );
        }
        rate_ratios.push(audited.rate / base.rate);
        p99_ratios.push(audited.p99_ms / base.p99_ms);
    }
    println!(
        "every heartbeat audited / hourly, median of {rounds} pairs: rate {:.2} (pairs {:?}), \
         p99 {:.2}",
        median(rate_ratios.clone()),
        rate_ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>(),
        median(p99_ratios)
    );
    let (hourly_beats, every_beats) = (hourly.beats, every.beats);
    let hourly_live = live_bytes(hourly, &hourly_dir)?;
    let every_live = live_bytes(every, &every_dir)?;
    // Leases are overwritten in place, so the hourly database holds the same live data
    // whatever its heartbeat count; what the other holds beyond it are the audit events.
    println!(
        "live data (keys and values, all trees): hourly {hourly_live} B after {hourly_beats} \
         heartbeats, every {every_live} B after {every_beats}: about {:.0} B per audited \
         heartbeat",
        every_live.saturating_sub(hourly_live) as f64 / every_beats.max(1) as f64
    );
    Ok(())
}
