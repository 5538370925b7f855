//! Scale benchmark: a database of a million licenses, written directly through the store's
//! write path as getLicense writes them (record, postings, audit event, counters; 5 % revoked,
//! suspended or released), then opened by a fresh process that times what
//! a merchant and the service do with it: `cargo bench --bench scale`.
//!
//! Reported: the fill rate, open-to-ready (opening the database and answering a first lookup),
//! the resident memory after opening and after the queries, the disk used, p50/p99 of a lookup
//! by customer (ten licenses each) and by order, the revocation list build (signed), and the
//! export rate (JSON Lines, as `GET /v1/export/licenses`), and the recount that builds the
//! counters of an older database at its migration. The targets of the storage issue are
//! printed beside the results; nothing here asserts a time (the test suite runs a small version
//! for correctness only).
//!
//! Environment (optional): `KOOLICENSE_SCALE_LICENSES` (default 1,000,000),
//! `KOOLICENSE_SCALE_LOOKUPS` (default 2,000 of each kind), `KOOLICENSE_CACHE_CAPACITY_MB` (the
//! page cache of the measuring process, as the service's setting; default 64),
//! `KOOLICENSE_BENCH_DIR` (parent of the temporary data, default `target/tmp`). Each phase runs in its own process so that the
//! memory figures are those of a process that only opened the database.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use koolicense::store_support::{customer_of, listed_of, order_of, ScaleDb};

const PHASE: &str = "KOOLICENSE_SCALE_PHASE";
const DIR: &str = "KOOLICENSE_SCALE_DIR";

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
    match std::env::var(PHASE).as_deref() {
        Ok("fill") => fill(&PathBuf::from(std::env::var(DIR)?), count),
        Ok("measure") => measure(&PathBuf::from(std::env::var(DIR)?), count),
        _ => orchestrate(count),
    }
}

fn orchestrate(count: usize) -> anyhow::Result<()> {
    let parent = std::env::var("KOOLICENSE_BENCH_DIR").unwrap_or_else(|_| "target/tmp".into());
    std::fs::create_dir_all(&parent)?;
    let dir = tempfile::Builder::new()
        .prefix("scale-")
        .tempdir_in(&parent)?;
    println!(
        "scale benchmark: {count} licenses in {}",
        dir.path().display()
    );
    for phase in ["fill", "measure"] {
        let status = Command::new(std::env::current_exe()?)
            .env(PHASE, phase)
            .env(DIR, dir.path())
            .arg("--bench")
            .status()
            .with_context(|| format!("while running the {phase} phase"))?;
        if !status.success() {
            bail!("the {phase} phase failed: {status}");
        }
    }
    Ok(())
}

fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data")
}

fn fill(dir: &Path, count: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let db = ScaleDb::open(&data_dir(dir), dir)?;
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
    Ok(())
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Bytes allocated on disk under `path`.
fn disk_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        total += if meta.is_dir() {
            disk_bytes(&entry.path())
        } else {
            meta.blocks() * 512
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

fn measure(dir: &Path, count: usize) -> anyhow::Result<()> {
    let lookups = env_usize("KOOLICENSE_SCALE_LOOKUPS", 2_000)?;
    let cache_mb = env_usize("KOOLICENSE_CACHE_CAPACITY_MB", 64)?;
    println!("page cache: {cache_mb} MiB");
    let started = Instant::now();
    let db = ScaleDb::open_with_cache(&data_dir(dir), dir, u64::try_from(cache_mb)?)?;
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
    let disk = disk_bytes(&data_dir(dir));
    println!("| What | Result | Target |");
    println!("|---|---|---|");
    println!(
        "| open-to-ready | {:.0} ms | < 2 s |",
        ready.as_secs_f64() * 1e3
    );
    println!("| RSS after open | {rss_open:.0} MB | < 300 MB |");
    println!("| RSS after the queries and the export | {rss_queries:.0} MB | < 300 MB |");
    println!(
        "| disk | {:.0} MB, {:.0} bytes per license | < 1.5 GB |",
        disk as f64 / 1e6,
        disk as f64 / count as f64
    );
    for (what, times) in [("customer", &by_customer), ("order", &by_order)] {
        println!(
            "| lookup by {what} ({lookups}) | p50 {:.3} ms, p99 {:.3} ms | p99 < 5 ms |",
            percentile(times, 0.5),
            percentile(times, 0.99)
        );
    }
    println!(
        "| revocation list build | {:.0} ms, {entries} entries, {:.1} MB signed | < 1 s |",
        revocations.as_secs_f64() * 1e3,
        length as f64 / 1e6
    );
    println!(
        "| export | {:.0} licenses/s ({:.1} s) | |",
        count as f64 / export.as_secs_f64(),
        export.as_secs_f64()
    );
    println!(
        "| recount of the counters (the schema 3 migration's pass, once) | {:.1} s | |",
        recount.as_secs_f64()
    );
    println!("\nlive keys and values per license, by tree:");
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
    Ok(())
}
