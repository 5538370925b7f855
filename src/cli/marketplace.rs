//! `koolicense marketplace health`: the delisting guard of a running service, as a table.

use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::Value;

/// `koolicense marketplace health`
#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// Base URL of the running service, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// A read-scoped API token.
    #[arg(long, env = "KOOLICENSE_API_TOKEN", hide_env_values = true)]
    token: String,
    /// Print the JSON answer instead of the table.
    #[arg(long)]
    json: bool,
}

/// Failed orders from which the summary warns (KooMarket delists above five a month).
const WARN_AT: u64 = 3;

/// Prints the summary of `GET /v1/marketplace/health`.
pub(crate) fn health(args: &HealthArgs) -> anyhow::Result<ExitCode> {
    let url = format!("{}/v1/marketplace/health", args.url.trim_end_matches('/'));
    let answer: Value = match ureq::get(&url)
        .set("Authorization", &format!("Bearer {}", args.token))
        .call()
    {
        Ok(r) => r.into_json().context("while reading the answer")?,
        Err(ureq::Error::Status(code, r)) => {
            eprintln!("HTTP {code}: {}", r.into_string().unwrap_or_default());
            return Ok(ExitCode::from(1));
        }
        Err(e) => bail!("while calling {url}: {e}"),
    };
    if args.json {
        outln!("{answer:#}");
        return Ok(ExitCode::SUCCESS);
    }
    let month = &answer["month"];
    let failed_orders = month["failed_orders"].as_u64().unwrap_or(0);
    outln!(
        "this month (from {}): {failed_orders} failed order(s), {} failed answer(s); KooMarket \
         delists a product above {} failed orders a month",
        month["start"].as_str().unwrap_or("?"),
        month["failed_answers"].as_u64().unwrap_or(0),
        month["delisting_limit"].as_u64().unwrap_or(5),
    );
    if failed_orders >= WARN_AT {
        outln!(
            "WARNING: reconcile these with the seller console (生产接口消息) now: \
             GET /v1/marketplace/calls?result=failed"
        );
    }
    outln!(
        "{:<10}  {:<24} {:>6} {:>5}  result codes",
        "day",
        "activity",
        "failed",
        "test"
    );
    for day in answer["days"].as_array().map_or(&[][..], Vec::as_slice) {
        let codes: Vec<String> = day["result_codes"]
            .as_object()
            .map(|o| o.iter().map(|(c, n)| format!("{c}:{n}")).collect())
            .unwrap_or_default();
        outln!(
            "{:<10}  {:<24} {:>6} {:>5}  {}",
            day["day"].as_str().unwrap_or("?"),
            day["activity"].as_str().unwrap_or("?"),
            day["failed"].as_u64().unwrap_or(0),
            day["failed_test"].as_u64().unwrap_or(0),
            codes.join(" ")
        );
    }
    if answer["truncated"] == Value::Bool(true) {
        outln!("(more calls failed than one summary reads: the counts are lower bounds)");
    }
    Ok(ExitCode::SUCCESS)
}
