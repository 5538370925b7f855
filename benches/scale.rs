//! Scale benchmark: a database of a million licenses on each embedded engine (sled, fjall),
//! written directly through the store's write path as getLicense writes them (record, postings,
//! audit event, counters; 5 % revoked, suspended or released), then opened by a fresh process
//! that times what a merchant and the service do with it: `cargo bench --bench scale`.
//!
//! Reported: the fill rate, open-to-ready (opening the database and answering a first lookup),
//! the resident memory after opening and after the queries, the disk used, p50/p99 of a lookup
//! by customer (ten licenses each) and by order, the revocation list build (signed), and the
//! export rate (JSON Lines, as `GET /v1/export/licenses`), and the recount that builds the
//! counters of an older database at its migration. The targets of the storage issue are
//! printed beside the results, the engines side by side with the ratios to the first (sled);
//! nothing here asserts a time (the test suite runs a small version for correctness only). Disk
//! is every byte allocated under the engine's data directory after a clean close, the journal
//! included (and also given alone). The load average is printed at the start of each phase.
//!
//! Environment (optional): `KOOLICENSE_SCALE_BACKENDS` (default `sled,fjall`),
//! `KOOLICENSE_SCALE_ROUNDS` (measure rounds of each database, default 1: the table gives their
//! median and range), `KOOLICENSE_SCALE_LICENSES` (default 1,000,000),
//! `KOOLICENSE_SCALE_LOOKUPS` (default 2,000 of each kind), `KOOLICENSE_CACHE_CAPACITY_MB` (the
//! page cache of the measuring process, as the service's setting; default 64),
//! `KOOLICENSE_BENCH_DIR` (parent of the temporary data, default `target/tmp`). Each phase
//! runs in its own process so that the memory figures are those of a process that only opened
//! the database.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use koolicense::store_support::{customer_of, listed_of, order_of, ScaleDb, StorageBackend};

#[path = "scale/report.rs"]
mod report;

const PHASE: &str = "KOOLICENSE_SCALE_PHASE";
const DIR: &str = "KOOLICENSE_SCALE_DIR";
const ENGINE: &str = "KOOLICENSE_SCALE_ENGINE";
const ROUND: &str = "KOOLICENSE_SCALE_ROUND";
/// Page cache of the filling process (MiB), as the service's default.
const CACHE_MB: u64 = 64;

fn env_usize(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .with_context(|| format!("{name}={v:?} is not a number")),
        Err(_) => Ok(default),
    }
}

fn main() -> anyhow::Result<()> {
    let count = env_usize("KOOLICENSE_SCALE_LICENSES", 1_000_000)?;
    if count < 10 {
        bail!("KOOLICENSE_SCALE_LICENSES must be at least 10");
    }
    let phase = std::env::var(PHASE);
    if phase.is_err() {
        return orchestrate(count);
    }
    let dir = PathBuf::from(std::env::var(DIR)?);
    let engine = engine(&std::env::var(ENGINE).unwrap_or_else(|_| "sled".into()))?;
    match phase.as_deref() {
        Ok("fill") => fill(engine, &dir, count),
        Ok("measure") => measure(engine, &dir, count),
        Ok(other) => bail!("{PHASE}={other:?} is not fill or measure"),
        Err(_) => orchestrate(count),
    }
}

fn engine(name: &str) -> anyhow::Result<StorageBackend> {
    match name.parse() {
        Ok(e @ (StorageBackend::Sled | StorageBackend::Fjall)) => Ok(e),
        _ => bail!("{name:?} is not an embedded engine (sled or fjall)"),
    }
}

/// The load average of the machine, as `/proc/loadavg` gives it (1, 5 and 15 minutes).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn orchestrate(count: usize) -> anyhow::Result<()> {
    let parent = std::env::var("KOOLICENSE_BENCH_DIR").unwrap_or_else(|_| "target/tmp".into());
    std::fs::create_dir_all(&parent)?;
    let engines =
        std::env::var("KOOLICENSE_SCALE_BACKENDS").unwrap_or_else(|_| "sled,fjall".into());
    let rounds = env_usize("KOOLICENSE_SCALE_ROUNDS", 1)?.max(1);
    let mut runs = Vec::new();
    for name in engines.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        engine(name)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("scale-{name}-"))
            .tempdir_in(&parent)?;
        println!(
            "scale benchmark: {count} licenses on {name} in {}",
            dir.path().display()
        );
        let phases = std::iter::once(("fill", 0)).chain((0..rounds).map(|r| ("measure", r)));
        for (phase, round) in phases {
            let status = Command::new(std::env::current_exe()?)
                .env(PHASE, phase)
                .env(DIR, dir.path())
                .env(ENGINE, name)
                .env(ROUND, round.to_string())
                .arg("--bench")
                .status()
                .with_context(|| format!("while running the {phase} phase on {name}"))?;
            if !status.success() {
                bail!("the {phase} phase on {name} failed: {status}");
            }
        }
        runs.push(report::Run::load(name, dir.path(), rounds)?);
    }
    report::print_table(&runs, count);
    Ok(())
}

fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data")
}

fn fill(engine: StorageBackend, dir: &Path, count: usize) -> anyhow::Result<()> {
    let load = load_average();
    println!("fill on {engine:?}, load average {load}");
    let started = Instant::now();
    let db = ScaleDb::open_on(engine, &data_dir(dir), dir, CACHE_MB)?;
    // Two writers: signing is the cost, and the group commit serves both.
    let half = count / 2;
    std::thread::scope(|s| -> anyhow::Result<()> {
        let first = s.spawn(|| db.fill(0, half, count));
        db.fill(half, count, count)?;
        first
            .join()
            .map_err(|_| anyhow::anyhow!("writer panicked"))?
    })?;
    db.close()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fill: {count} licenses in {secs:.1} s ({:.0}/s, signing included)",
        count as f64 / secs
    );
    report::Fill {
        secs,
        disk: disk_bytes(&data_dir(dir), &|_| true),
        load,
    }
    .save(dir)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Bytes allocated on disk by the files under `path` whose name `counts`.
fn disk_bytes(path: &Path, counts: &dyn Fn(&Path) -> bool) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        total += if meta.is_dir() {
            disk_bytes(&entry.path(), counts)
        } else if counts(&entry.path()) {
            meta.blocks() * 512
        } else {
            0
        };
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

/// Times `lookups` lookups of random licenses; checks each answer's size.
fn time_lookups(
    count: usize,
    lookups: usize,
    seed: u64,
    mut lookup: impl FnMut(usize) -> anyhow::Result<usize>,
) -> anyhow::Result<Vec<Duration>> {
    let mut state = seed;
    let mut times = Vec::with_capacity(lookups);
    for _ in 0..lookups {
        // xorshift: cheap, deterministic, spread over the whole database.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let i = usize::try_from(state % count as u64)?;
        let started = Instant::now();
        lookup(i)?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    Ok(times)
}

/// The fjall journal's files (sled has none of that name).
fn is_journal(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "jnl")
}

fn measure(engine: StorageBackend, dir: &Path, count: usize) -> anyhow::Result<()> {
    let load = load_average();
    let lookups = env_usize("KOOLICENSE_SCALE_LOOKUPS", 2_000)?;
    let cache_mb = env_usize("KOOLICENSE_CACHE_CAPACITY_MB", 64)?;
    println!("measure on {engine:?}, page cache {cache_mb} MiB, load average {load}");
    let started = Instant::now();
    let db = ScaleDb::open_on(engine, &data_dir(dir), dir, u64::try_from(cache_mb)?)?;
    let customers = count / 10;
    let first = db.by_customer(&customer_of(0, count))?;
    let ready = started.elapsed();
    let rss_open = rss_mb();
    if first.len() != count / customers {
        bail!("customer 0 has {} licenses", first.len());
    }
    let by_customer = time_lookups(count, lookups, 0x9e37_79b9, |i| {
        let found = db.by_customer(&customer_of(i, count))?.len();
        if found != count / customers {
            bail!("customer of license {i}: {found} licenses");
        }
        Ok(found)
    })?;
    let by_order = time_lookups(count, lookups, 0x85eb_ca6b, |i| {
        let found = db.by_order(&order_of(i))?.len();
        if found != 1 {
            bail!("order of license {i}: {found} licenses");
        }
        Ok(found)
    })?;
    let started = Instant::now();
    let (entries, length) = db.revocation_list(chrono::Utc::now())?;
    let revocations = started.elapsed();
    if entries != listed_of(count) {
        bail!(
            "the list has {entries} entries, {} expected",
            listed_of(count)
        );
    }
    let started = Instant::now();
    let exported = db.export(&mut std::io::sink())?;
    let export = started.elapsed();
    if exported != count {
        bail!("exported {exported} of {count}");
    }
    let rss_queries = rss_mb();
    let started = Instant::now();
    db.recount()?;
    let recount = started.elapsed();
    let sizes = db.tree_sizes()?;
    db.close()?;
    let disk = disk_bytes(&data_dir(dir), &|_| true);
    println!(
        "revocation list: {entries} entries, {:.1} MB signed",
        length as f64 / 1e6
    );
    println!("live keys and values per license, by tree:");
    let mut live = 0;
    for (name, entries, bytes) in sizes.iter().filter(|(_, e, _)| *e > 0) {
        live += bytes;
        println!(
            "  {name:<22} {entries:>9} entries {:>7.1} bytes",
            *bytes as f64 / count as f64
        );
    }
    println!(
        "  {:<22} {:>17} {:>7.1} bytes (disk / live = {:.2})",
        "total",
        "",
        live as f64 / count as f64,
        disk as f64 / live as f64
    );
    report::Measure {
        ready_ms: ready.as_secs_f64() * 1e3,
        rss_open_mb: rss_open,
        rss_queries_mb: rss_queries,
        disk,
        journal: disk_bytes(&data_dir(dir), &is_journal),
        customer_p50: percentile(&by_customer, 0.5),
        customer_p99: percentile(&by_customer, 0.99),
        order_p50: percentile(&by_order, 0.5),
        order_p99: percentile(&by_order, 0.99),
        revocations_ms: revocations.as_secs_f64() * 1e3,
        export_per_s: count as f64 / export.as_secs_f64(),
        recount_s: recount.as_secs_f64(),
        live,
        load,
    }
    .save(dir, env_usize(ROUND, 0)?)
}
