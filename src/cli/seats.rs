//! Seats from the command line, through a running service's API: `koolicense activate
//! --offline REQUEST` turns an offline activation request into its response (printed, to carry
//! back), `koolicense deactivate LICENSE_ID` frees the seat a license holds (merchant, with a
//! write-scoped token) and `koolicense deactivate --proof FILE` reads a carried deactivation
//! proof.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};

/// `koolicense activate`
#[derive(Debug, Args)]
pub(crate) struct ActivateArgs {
    /// The activation request block written by the software (a file, or - for standard input).
    #[arg(long, value_name = "REQUEST")]
    offline: PathBuf,
    /// Base URL of the running service.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
}

/// `koolicense deactivate`
#[derive(Debug, Args)]
pub(crate) struct DeactivateArgs {
    /// The license whose seat to free (merchant; needs --token).
    #[arg(required_unless_present = "proof", conflicts_with = "proof")]
    license_id: Option<String>,
    /// A deactivation proof block carried back from an offline machine (file, or -).
    #[arg(long)]
    proof: Option<PathBuf>,
    /// Base URL of the running service.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A write-scoped API token (for a license id).
    #[arg(long, env = "KOOLICENSE_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

fn read_block(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("while reading standard input")
    } else {
        std::fs::read_to_string(path).with_context(|| format!("while reading {}", path.display()))
    }
}

fn answer(response: Result<ureq::Response, ureq::Error>, url: &str) -> anyhow::Result<Value> {
    match response {
        Ok(r) => r.into_json().context("while reading the answer"),
        Err(ureq::Error::Status(code, r)) => {
            bail!("HTTP {code}: {}", r.into_string().unwrap_or_default())
        }
        Err(e) => bail!("while calling {url}: {e}"),
    }
}

/// `koolicense activate --offline REQUEST`: prints the response block.
pub(crate) fn activate(args: &ActivateArgs) -> anyhow::Result<ExitCode> {
    let url = format!("{}/v1/activate/offline", args.url.trim_end_matches('/'));
    let request = read_block(&args.offline)?;
    let body = answer(
        ureq::post(&url).send_json(json!({ "request": request })),
        &url,
    )?;
    let response = body["response"]
        .as_str()
        .context("the answer has no response")?;
    crate::cli::write_stdout(format_args!("{response}"), false);
    Ok(ExitCode::SUCCESS)
}

/// `koolicense deactivate`: prints the freed seat.
pub(crate) fn deactivate(args: &DeactivateArgs) -> anyhow::Result<ExitCode> {
    let base = args.url.trim_end_matches('/');
    let body = match (&args.proof, &args.license_id) {
        (Some(proof), _) => {
            let url = format!("{base}/v1/deactivate/offline");
            let proof = read_block(proof)?;
            answer(ureq::post(&url).send_json(json!({ "proof": proof })), &url)?
        }
        (None, Some(id)) => {
            let token = args
                .token
                .as_deref()
                .context("--token (or KOOLICENSE_API_TOKEN) is required")?;
            let url = format!("{base}/v1/licenses/{id}/deactivate");
            let request = ureq::post(&url).set("Authorization", &format!("Bearer {token}"));
            answer(request.call(), &url)?
        }
        (None, None) => bail!("give a license id or --proof"),
    };
    crate::cli::write_stdout(format_args!("{body}"), true);
    Ok(ExitCode::SUCCESS)
}
