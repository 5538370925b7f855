//! What one engine's run of the scale benchmark measured, kept as JSON in its directory between
//! the phases' processes, and the side-by-side table of the engines with the ratios to the first.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The fill phase's figures.
#[derive(Serialize, Deserialize)]
pub(crate) struct Fill {
    pub(crate) secs: f64,
    /// Bytes under the data directory once the fill closed the database.
    pub(crate) disk: u64,
    pub(crate) load: String,
}

/// The measure phase's figures (times in ms unless named otherwise).
#[derive(Serialize, Deserialize)]
pub(crate) struct Measure {
    pub(crate) ready_ms: f64,
    pub(crate) rss_open_mb: f64,
    pub(crate) rss_queries_mb: f64,
    /// Bytes allocated under the data directory after a clean close, journal included.
    pub(crate) disk: u64,
    /// Of which journal files.
    pub(crate) journal: u64,
    pub(crate) customer_p50: f64,
    pub(crate) customer_p99: f64,
    pub(crate) order_p50: f64,
    pub(crate) order_p99: f64,
    pub(crate) revocations_ms: f64,
    pub(crate) export_per_s: f64,
    pub(crate) recount_s: f64,
    /// Bytes of live keys and values.
    pub(crate) live: u64,
    pub(crate) load: String,
}

const FILL: &str = "fill.json";
const MEASURE: &str = "measure";

fn save<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_vec(value)?)
        .with_context(|| format!("while writing {}", path.display()))
}

fn load<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("while reading {}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

impl Fill {
    pub(crate) fn save(&self, dir: &Path) -> anyhow::Result<()> {
        save(&dir.join(FILL), self)
    }
}

impl Measure {
    /// Saves the figures of measure round `round`.
    pub(crate) fn save(&self, dir: &Path, round: usize) -> anyhow::Result<()> {
        save(&measure_path(dir, round), self)
    }
}

fn measure_path(dir: &Path, round: usize) -> std::path::PathBuf {
    dir.join(format!("{MEASURE}-{round}.json"))
}

/// One engine's run: one fill, then one or more measure rounds of that database.
pub(crate) struct Run {
    pub(crate) engine: String,
    pub(crate) fill: Fill,
    pub(crate) measures: Vec<Measure>,
}

impl Run {
    pub(crate) fn load(engine: &str, dir: &Path, rounds: usize) -> anyhow::Result<Run> {
        Ok(Run {
            engine: engine.to_owned(),
            fill: load(&dir.join(FILL))?,
            measures: (0..rounds)
                .map(|round| load(&measure_path(dir, round)))
                .collect::<anyhow::Result<_>>()?,
        })
    }

    /// A row's figure in each measure round, sorted.
    fn figures(&self, get: fn(&Fill, &Measure, f64) -> f64, n: f64) -> Vec<f64> {
        let mut values: Vec<f64> = self
            .measures
            .iter()
            .map(|m| get(&self.fill, m, n))
            .collect();
        values.sort_by(f64::total_cmp);
        values
    }
}

/// A row of the table: its label, its target, and the figure of a measure round.
type Row = (&'static str, &'static str, fn(&Fill, &Measure, f64) -> f64);

const ROWS: &[Row] = &[
    ("fill (licenses/s, signing included)", "", |f, _, n| {
        n / f.secs
    }),
    ("open-to-ready (ms)", "< 2 s", |_, m, _| m.ready_ms),
    ("RSS after open (MB)", "< 300 MB", |_, m, _| m.rss_open_mb),
    (
        "RSS after the queries and the export (MB)",
        "< 300 MB",
        |_, m, _| m.rss_queries_mb,
    ),
    (
        "disk after a clean close (MB)",
        "< 1.5 GB at 1M",
        |_, m, _| m.disk as f64 / 1e6,
    ),
    (
        "disk per license (bytes)",
        "≤ 1,500 at 100k",
        |_, m, n| m.disk as f64 / n,
    ),
    ("of which journal (MB)", "", |_, m, _| {
        m.journal as f64 / 1e6
    }),
    ("disk right after the fill (MB)", "", |f, _, _| {
        f.disk as f64 / 1e6
    }),
    ("live keys and values per license (bytes)", "", |_, m, n| {
        m.live as f64 / n
    }),
    ("lookup by customer, p50 (ms)", "", |_, m, _| m.customer_p50),
    ("lookup by customer, p99 (ms)", "< 5 ms", |_, m, _| {
        m.customer_p99
    }),
    ("lookup by order, p50 (ms)", "", |_, m, _| m.order_p50),
    ("lookup by order, p99 (ms)", "< 5 ms", |_, m, _| m.order_p99),
    ("revocation list build (ms)", "< 1 s", |_, m, _| {
        m.revocations_ms
    }),
    ("export (licenses/s)", "", |_, m, _| m.export_per_s),
    ("recount of the counters (s)", "", |_, m, _| m.recount_s),
];

fn figure(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// The middle figure (the upper of the two middle ones of an even count).
fn median(sorted: &[f64]) -> f64 {
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median of the rounds, with their range when there are several.
fn cell(sorted: &[f64]) -> String {
    match (sorted.first(), sorted.last()) {
        (Some(first), Some(last)) if first != last => format!(
            "{} ({}–{})",
            figure(median(sorted)),
            figure(*first),
            figure(*last)
        ),
        _ => figure(median(sorted)),
    }
}

/// `value / base`, or a dash where there is nothing to divide by (sled has no journal).
fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}", value / base)
    } else {
        "—".into()
    }
}

fn table_line(cells: &[String]) {
    println!("| {} |", cells.join(" | "));
}

/// Prints the runs side by side (the median of the measure rounds, their range in brackets),
/// with each later engine's ratio of medians to the first.
pub(crate) fn print_table(runs: &[Run], count: usize) {
    let n = count as f64;
    let first = runs.first().map_or("", |r| r.engine.as_str());
    let mut header = vec!["What".to_owned()];
    header.extend(runs.iter().map(|r| r.engine.clone()));
    header.extend(runs.iter().skip(1).map(|r| format!("{}/{first}", r.engine)));
    header.push("Target".into());
    println!("\n{count} licenses:\n");
    table_line(&header);
    table_line(&vec!["---".to_owned(); header.len()]);
    for (label, target, get) in ROWS {
        let figures: Vec<Vec<f64>> = runs.iter().map(|r| r.figures(*get, n)).collect();
        let medians: Vec<f64> = figures.iter().map(|v| median(v)).collect();
        let mut line = vec![(*label).to_owned()];
        line.extend(figures.iter().map(|v| cell(v)));
        line.extend(medians.iter().skip(1).map(|v| ratio(*v, medians[0])));
        line.push((*target).to_owned());
        table_line(&line);
    }
    for run in runs {
        let measures: Vec<&str> = run.measures.iter().map(|m| m.load.as_str()).collect();
        println!(
            "load average ({}): at the fill {}, at the measures {}",
            run.engine,
            run.fill.load,
            measures.join("; ")
        );
    }
}
