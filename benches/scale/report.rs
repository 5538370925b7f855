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
const MEASURE: &str = "measure.json";

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
    pub(crate) fn save(&self, dir: &Path) -> anyhow::Result<()> {
        save(&dir.join(MEASURE), self)
    }
}

/// One engine's run.
pub(crate) struct Run {
    pub(crate) engine: String,
    pub(crate) fill: Fill,
    pub(crate) measure: Measure,
}

impl Run {
    pub(crate) fn load(engine: &str, dir: &Path) -> anyhow::Result<Run> {
        Ok(Run {
            engine: engine.to_owned(),
            fill: load(&dir.join(FILL))?,
            measure: load(&dir.join(MEASURE))?,
        })
    }
}

/// A row of the table: its label, its target, and the figure of a run.
type Row = (&'static str, &'static str, fn(&Run, f64) -> f64);

const ROWS: &[Row] = &[
    ("fill (licenses/s, signing included)", "", |r, n| {
        n / r.fill.secs
    }),
    ("open-to-ready (ms)", "< 2 s", |r, _| r.measure.ready_ms),
    ("RSS after open (MB)", "< 300 MB", |r, _| {
        r.measure.rss_open_mb
    }),
    (
        "RSS after the queries and the export (MB)",
        "< 300 MB",
        |r, _| r.measure.rss_queries_mb,
    ),
    ("disk after a clean close (MB)", "< 1.5 GB at 1M", |r, _| {
        r.measure.disk as f64 / 1e6
    }),
    ("disk per license (bytes)", "≤ 1,500 at 100k", |r, n| {
        r.measure.disk as f64 / n
    }),
    ("of which journal (MB)", "", |r, _| {
        r.measure.journal as f64 / 1e6
    }),
    ("disk right after the fill (MB)", "", |r, _| {
        r.fill.disk as f64 / 1e6
    }),
    ("live keys and values per license (bytes)", "", |r, n| {
        r.measure.live as f64 / n
    }),
    ("lookup by customer, p50 (ms)", "", |r, _| {
        r.measure.customer_p50
    }),
    ("lookup by customer, p99 (ms)", "< 5 ms", |r, _| {
        r.measure.customer_p99
    }),
    ("lookup by order, p50 (ms)", "", |r, _| r.measure.order_p50),
    ("lookup by order, p99 (ms)", "< 5 ms", |r, _| {
        r.measure.order_p99
    }),
    ("revocation list build (ms)", "< 1 s", |r, _| {
        r.measure.revocations_ms
    }),
    ("export (licenses/s)", "", |r, _| r.measure.export_per_s),
    ("recount of the counters (s)", "", |r, _| {
        r.measure.recount_s
    }),
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

/// Prints the runs side by side, with each later engine's ratio to the first.
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
        let values: Vec<f64> = runs.iter().map(|r| get(r, n)).collect();
        let mut line = vec![(*label).to_owned()];
        line.extend(values.iter().map(|&v| figure(v)));
        line.extend(values.iter().skip(1).map(|v| ratio(*v, values[0])));
        line.push((*target).to_owned());
        table_line(&line);
    }
    for run in runs {
        println!(
            "load average ({}): at the fill {}, at the measure {}",
            run.engine, run.fill.load, run.measure.load
        );
    }
}
