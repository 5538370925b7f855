//! The closed-loop load of one run: client threads with their own keep-alive connections, each
//! request a new order, latencies recorded inside the measured window, and the run's summary.
//!
//! The clients share the machine with the servers, so what they do per request is charged to
//! whichever server runs. Every request is therefore signed before the run starts (like a
//! marketplace, whose signing does not happen on the merchant's cores), and every target gets
//! the same request: the ceiling is sent the same signed getLicense query and ignores it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use koolicense::bench_support::{self, BenchServer, CEILING_PATH};

use super::{Config, Target, MARKET_KEY, REQUEST_TIMEOUT};

/// What one client thread saw inside the measured window.
#[derive(Default)]
pub(crate) struct ThreadResult {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    body_len: usize,
    /// Requests this client had to sign inside the run (its prepared ones ran out).
    signed_late: u64,
}

/// Requests prepared per client and second of a run: above what one client of the smallest
/// concurrency completes on these machines, so signing stays out of the run.
const PREPARED_PER_CLIENT_SECOND: f64 = 1_000.0;
/// At most this many prepared requests in all (about 700 bytes each).
const MAX_PREPARED: usize = 150_000;

/// Signed getLicense queries for new orders, `count` of them.
fn sign_queries(
    signer: &bench_support::GetLicenseSigner,
    orders: &AtomicU64,
    count: usize,
) -> Vec<String> {
    (0..count).map(|_| signed_query(signer, orders)).collect()
}

/// The signed query of the next order.
fn signed_query(signer: &bench_support::GetLicenseSigner, orders: &AtomicU64) -> String {
    let n = orders.fetch_add(1, Ordering::Relaxed);
    let order = format!("CS{n:020}");
    // A fresh businessId per call, shaped like the marketplace's (a UUID).
    let business = format!("{:08x}-0000-4000-8000-{n:012x}", n >> 48);
    signer.query(&order, &business)
}

pub(crate) struct RunResult {
    pub(crate) rate: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) ok: usize,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) body_len: usize,
    /// Cores used by the whole process (servers and clients) in the measured window.
    pub(crate) cpu_cores: Option<f64>,
    /// Bytes the disks received per successful request in the window (machine-wide).
    pub(crate) written_per_request: Option<f64>,
    pub(crate) flushes: u64,
    pub(crate) waiters: u64,
    /// Requests signed inside the run because the prepared ones ran out.
    pub(crate) signed_late: u64,
}

#[derive(serde::Deserialize)]
pub(crate) struct Reply {
    #[serde(rename = "resultCode")]
    result_code: String,
    #[serde(rename = "resultMsg")]
    result_msg: String,
}

/// One request; `Ok(body length)` for an answer `000000`.
pub(crate) fn call(agent: &ureq::Agent, url: &str) -> Result<usize, String> {
    let response = agent.get(url).call().map_err(|e| e.to_string())?;
    let body = response.into_string().map_err(|e| e.to_string())?;
    let reply: Reply = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if reply.result_code == "000000" {
        Ok(body.len())
    } else {
        Err(format!("{} {}", reply.result_code, reply.result_msg))
    }
}

pub(crate) fn client(
    target: Target,
    base: &str,
    (start, warm_end, end): (Instant, Instant, Instant),
    orders: &AtomicU64,
    mut prepared: Vec<String>,
) -> ThreadResult {
    // Per-read and per-write timeouts rather than a per-request deadline: a deadline makes ureq
    // reset both socket timeouts before every read, four system calls a request that would
    // otherwise be charged to the server sharing these two cores.
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(REQUEST_TIMEOUT)
        .timeout_read(REQUEST_TIMEOUT)
        .timeout_write(REQUEST_TIMEOUT)
        .max_idle_connections_per_host(1)
        .build();
    let mut result = ThreadResult {
        latencies_us: Vec::with_capacity(16 * 1024),
        ..ThreadResult::default()
    };
    let signer = match bench_support::GetLicenseSigner::new(MARKET_KEY) {
        Ok(signer) => signer,
        Err(e) => {
            result.errors += 1;
            result.first_error = Some(e.to_string());
            return result;
        }
    };
    let path = match target {
        Target::Ceiling | Target::FjallCeiling => CEILING_PATH,
        Target::GetLicense | Target::Fjall | Target::Postgres | Target::PostgresTwo => {
            "/koomarket/license"
        }
    };
    prepared.reverse();
    std::thread::sleep(start.saturating_duration_since(Instant::now()));
    loop {
        let query = prepared.pop().unwrap_or_else(|| {
            result.signed_late += 1;
            signed_query(&signer, orders)
        });
        let url = format!("{base}{path}?{query}");
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let outcome = call(&agent, &url);
        let done = Instant::now();
        if sent < warm_end || done > end {
            continue;
        }
        match outcome {
            Ok(len) => {
                result.body_len = len;
                let us = done.duration_since(sent).as_micros();
                result
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            Err(e) => {
                result.errors += 1;
                result.first_error.get_or_insert(e);
            }
        }
    }
    result
}

pub(crate) fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[index]) / 1e3
}

/// Sums the group-commit counters of `servers`.
pub(crate) fn commit_stats(servers: &[&BenchServer]) -> (u64, u64) {
    servers.iter().fold((0, 0), |(f, w), s| {
        let (flushes, waiters) = s.commit_stats();
        (f + flushes, w + waiters)
    })
}

/// One measured run; client `i` talks to `servers[i % servers.len()]`.
pub(crate) fn run(
    target: Target,
    servers: &[&BenchServer],
    concurrency: usize,
    config: &Config,
    orders: &Arc<AtomicU64>,
) -> anyhow::Result<RunResult> {
    let bases: Vec<String> = servers
        .iter()
        .map(|s| format!("http://127.0.0.1:{}", s.port()))
        .collect();
    let signer = bench_support::GetLicenseSigner::new(MARKET_KEY)?;
    let secs = (config.warmup + config.measure).as_secs_f64();
    let per_client = ((PREPARED_PER_CLIENT_SECOND * secs) as usize).min(MAX_PREPARED / concurrency);
    let mut prepared: Vec<Vec<String>> = (0..concurrency)
        .map(|_| sign_queries(&signer, orders, per_client))
        .collect();
    let start = Instant::now() + Duration::from_millis(100);
    let window = (
        start,
        start + config.warmup,
        start + config.warmup + config.measure,
    );
    let (_, warm_end, end) = window;
    let threads = (0..concurrency)
        .map(|i| {
            let (base, orders) = (bases[i % bases.len()].clone(), Arc::clone(orders));
            let prepared = std::mem::take(&mut prepared[i]);
            std::thread::Builder::new()
                .name(format!("bench-client-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || client(target, &base, window, &orders, prepared))
                .context("while spawning a client thread")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    std::thread::sleep(warm_end.saturating_duration_since(Instant::now()));
    let (flushes_before, waiters_before) = commit_stats(servers);
    let (cpu_before, io_before) = (
        bench_support::process_cpu_secs(),
        bench_support::device_written_bytes(),
    );
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let (cpu_after, io_after) = (
        bench_support::process_cpu_secs(),
        bench_support::device_written_bytes(),
    );
    let (flushes_after, waiters_after) = commit_stats(servers);
    let mut latencies = Vec::new();
    let (mut errors, mut first_error, mut body_len, mut signed_late) = (0, None, 0, 0);
    for thread in threads {
        let r = thread
            .join()
            .map_err(|_| anyhow!("a client thread panicked"))?;
        latencies.extend_from_slice(&r.latencies_us);
        errors += r.errors;
        first_error = first_error.or(r.first_error);
        body_len = body_len.max(r.body_len);
        signed_late += r.signed_late;
    }
    latencies.sort_unstable();
    Ok(RunResult {
        rate: latencies.len() as f64 / config.measure.as_secs_f64(),
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: latencies.last().map_or(f64::NAN, |&us| f64::from(us) / 1e3),
        ok: latencies.len(),
        errors,
        first_error,
        body_len,
        cpu_cores: cpu_after
            .zip(cpu_before)
            .map(|(after, before)| (after - before) / config.measure.as_secs_f64()),
        written_per_request: io_after
            .zip(io_before)
            .map(|(after, before)| (after - before) as f64 / latencies.len().max(1) as f64),
        flushes: flushes_after - flushes_before,
        waiters: waiters_after - waiters_before,
        signed_late,
    })
}

pub(crate) fn print_run(target: Target, concurrency: usize, r: &RunResult) {
    // The service syncs once per group of writes, so its sync calls per flush stay near 1 while
    // each flush carries many requests.
    let per_flush = |n: f64| n / r.flushes.max(1) as f64;
    println!(
        "  c={concurrency:<3} {:<10} {:>7.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  \
         ok {:>6}  errors {:>3}  body {:>4} B  cpu {} cores  disk {} KB/req  \
         flushes {:>5} ({:.1} requests, {:.1} sync calls each)",
        target.name(),
        r.rate,
        r.p50_ms,
        r.p99_ms,
        r.max_ms,
        r.ok,
        r.errors,
        r.body_len,
        r.cpu_cores.map_or("?".to_owned(), |c| format!("{c:.2}")),
        r.written_per_request
            .map_or("?".to_owned(), |b| format!("{:.1}", b / 1024.0)),
        r.flushes,
        per_flush(r.ok as f64),
        per_flush(r.waiters as f64),
    );
    if let Some(e) = &r.first_error {
        println!("      first error: {e}");
    }
    if r.signed_late > 0 {
        println!(
            "      {} requests were signed inside the run (the prepared ones ran out)",
            r.signed_late
        );
    }
}
