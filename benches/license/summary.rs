//! The closing lines of the license benchmark: each round's rates and ratios and, over several
//! rounds (`KOOLICENSE_BENCH_ROUNDS`), the median of each ratio with its range. A VM's speed
//! drifts by ±10 % between runs a minute apart; a ratio of two runs taken back to back drifts
//! less, and the median of several such ratios less again.

use super::load::RunResult;
use super::{Target, TARGET_P99_MS, TARGET_RATE};

/// The runs of one round: each target once, back to back.
pub(crate) type Round = Vec<(Target, RunResult)>;

/// The ratios reported, as (numerator, denominator), in the order printed.
const RATIOS: [(Target, Target); 6] = [
    (Target::GetLicense, Target::Ceiling),
    (Target::Fjall, Target::FjallCeiling),
    (Target::Fjall, Target::Ceiling),
    (Target::Fjall, Target::GetLicense),
    (Target::Postgres, Target::GetLicense),
    (Target::PostgresTwo, Target::GetLicense),
];

fn result(round: &Round, target: Target) -> Option<&RunResult> {
    round.iter().find(|(t, _)| *t == target).map(|(_, r)| r)
}

fn ratio(round: &Round, (a, b): (Target, Target)) -> Option<f64> {
    Some(result(round, a)?.rate / result(round, b)?.rate)
}

/// The median of sorted values (the mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    match sorted.len() % 2 {
        0 => (sorted[mid - 1] + sorted[mid]) / 2.0,
        _ => sorted[mid],
    }
}

/// One line per round (rates, latencies and every ratio), then the medians over the rounds.
pub(crate) fn print_rounds(concurrency: usize, rounds: &[Round]) {
    for (i, round) in rounds.iter().enumerate() {
        let label = match rounds.len() {
            1 => format!("concurrency {concurrency}"),
            _ => format!("concurrency {concurrency}, round {}", i + 1),
        };
        let runs: Vec<String> = round
            .iter()
            .map(|(t, r)| {
                format!(
                    "{} {:.0} req/s p50 {:.1} ms p99 {:.1} ms",
                    t.name(),
                    r.rate,
                    r.p50_ms,
                    r.p99_ms
                )
            })
            .collect();
        let ratios: Vec<String> = RATIOS
            .iter()
            .map(|&(a, b)| {
                let value =
                    ratio(round, (a, b)).map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
                format!("{}/{} {value}", a.name(), b.name())
            })
            .collect();
        println!("{label}: {} | {}", runs.join(" | "), ratios.join(" | "));
    }
    if rounds.len() < 2 {
        return;
    }
    let medians: Vec<String> = RATIOS
        .iter()
        .filter_map(|&pair| {
            let mut values: Vec<f64> = rounds.iter().filter_map(|r| ratio(r, pair)).collect();
            values.sort_by(f64::total_cmp);
            let (low, high) = (*values.first()?, *values.last()?);
            Some(format!(
                "{}/{} {:.2} ({low:.2}–{high:.2})",
                pair.0.name(),
                pair.1.name(),
                median(&values)
            ))
        })
        .collect();
    println!(
        "concurrency {concurrency}, median of {} rounds: {}",
        rounds.len(),
        medians.join(" | ")
    );
}

/// Checks the sled getLicense run of median rate at the highest concurrency against the target.
pub(crate) fn print_target(table: &[(usize, Vec<Round>)]) {
    let Some((concurrency, rounds)) = table
        .iter()
        .filter(|(_, rounds)| {
            rounds
                .iter()
                .any(|r| result(r, Target::GetLicense).is_some())
        })
        .max_by_key(|(n, _)| *n)
    else {
        return;
    };
    let mut runs: Vec<&RunResult> = rounds
        .iter()
        .filter_map(|r| result(r, Target::GetLicense))
        .collect();
    runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let s = runs[(runs.len() - 1) / 2];
    let met = s.rate >= TARGET_RATE && s.p99_ms < TARGET_P99_MS && s.errors == 0;
    println!(
        "target at concurrency {concurrency} (>= {TARGET_RATE:.0} getLicense/s, p99 < \
         {TARGET_P99_MS:.0} ms, no errors): {}",
        if met { "MET" } else { "NOT MET" }
    );
}
