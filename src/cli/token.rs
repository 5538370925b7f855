//! `koolicense token create|list|revoke`: merchant API tokens. An embedded database (sled,
//! fjall) admits one process, so the command opens it only when the service is stopped; while
//! it runs, the same actions go through the API (`--url` with a write-scoped `--token`), and a
//! locked database is refused with a message saying so.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::ServeArgs;
use crate::access::{new_token, TokenRegistry};
use crate::startup::open_store;
use crate::store::records::Scope;
use crate::store_support::ReadFault;

/// `koolicense token`
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token; its secret is printed once.
    Create {
        /// A label (who or what uses it).
        #[arg(long)]
        name: String,
        /// A scope: read (look up, audit, export) or write (change licenses, manage tokens).
        #[arg(long = "scope", value_enum, required = true)]
        scopes: Vec<ScopeArg>,
        #[command(flatten)]
        target: Target,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token id (the 16 hex digits after `klt_`).
        id: String,
        #[command(flatten)]
        target: Target,
    },
}

/// A scope on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ScopeArg {
    /// Read.
    Read,
    /// Write.
    Write,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Self {
        match s {
            ScopeArg::Read => Scope::Read,
            ScopeArg::Write => Scope::Write,
        }
    }
}

/// Where the tokens live: the database (service stopped) or a running service.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// Base URL of a running service, e.g. http://127.0.0.1:8080 (needs --token).
    #[arg(long, requires = "token")]
    url: Option<String>,
    /// A write-scoped API token for --url.
    #[arg(long, env = "KOOLICENSE_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Data directory (default from the configuration: ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub(crate) fn run(command: &TokenCommand, config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let target = match command {
        TokenCommand::Create { target, .. }
        | TokenCommand::List { target }
        | TokenCommand::Revoke { target, .. } => target,
    };
    if let (Some(url), Some(token)) = (&target.url, &target.token) {
        return through_api(command, url.trim_end_matches('/'), token);
    }
    let settings = ServeArgs {
        config,
        data_dir: target.data_dir.clone(),
        ..ServeArgs::default()
    }
    .settings()?;
    let data_dir = &settings.storage.data_dir;
    let store = open_store(&settings, ReadFault::default()).map_err(|e| {
        if format!("{e:#}").contains("could not acquire lock") {
            anyhow::anyhow!(
                "the database under {} is held by a running koolicense service; stop it, or use \
                 --url http://<service> --token <write-scoped token> to go through the API",
                data_dir.display()
            )
        } else {
            e
        }
    })?;
    let registry = TokenRegistry::load(&store)?;
    let result = match command {
        TokenCommand::Create { name, scopes, .. } => {
            let scopes: Vec<Scope> = scopes.iter().copied().map(Into::into).collect();
            let new = new_token(name, &scopes, "cli", Utc::now());
            registry.insert(&store, new.record.clone())?;
            outln!("{}", new.token);
            eprintln!(
                "token {} ({:?}) created; store it now, it is not shown again",
                new.record.id, new.record.scopes
            );
            ExitCode::SUCCESS
        }
        TokenCommand::List { .. } => {
            for t in registry.list() {
                outln!(
                    "{}  {:<20} {:<14} created {}  last used {}  {}",
                    t.id,
                    t.name,
                    format!("{:?}", t.scopes).to_lowercase(),
                    t.created_at.to_rfc3339(),
                    t.last_used_at.map_or("never".into(), |t| t.to_rfc3339()),
                    t.revoked_at
                        .map_or(String::new(), |t| format!("REVOKED {}", t.to_rfc3339())),
                );
            }
            ExitCode::SUCCESS
        }
        TokenCommand::Revoke { id, .. } => match registry.revoke(&store, id, Utc::now())? {
            Some(_) => {
                eprintln!("token {id} revoked");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("no token {id}");
                ExitCode::from(1)
            }
        },
    };
    store.close()?;
    Ok(result)
}

fn through_api(command: &TokenCommand, url: &str, token: &str) -> anyhow::Result<ExitCode> {
    let auth = format!("Bearer {token}");
    let response = match command {
        TokenCommand::Create { name, scopes, .. } => {
            let scopes: Vec<Scope> = scopes.iter().copied().map(Into::into).collect();
            ureq::post(&format!("{url}/v1/tokens"))
                .set("Authorization", &auth)
                .send_json(json!({ "name": name, "scopes": scopes }))
        }
        TokenCommand::List { .. } => ureq::get(&format!("{url}/v1/tokens"))
            .set("Authorization", &auth)
            .call(),
        TokenCommand::Revoke { id, .. } => ureq::delete(&format!("{url}/v1/tokens/{id}"))
            .set("Authorization", &auth)
            .call(),
    };
    match response {
        Ok(r) => {
            outln!("{}", r.into_string().context("while reading the answer")?);
            Ok(ExitCode::SUCCESS)
        }
        Err(ureq::Error::Status(code, r)) => {
            eprintln!("HTTP {code}: {}", r.into_string().unwrap_or_default());
            Ok(ExitCode::from(1))
        }
        Err(e) => bail!("while calling {url}: {e}"),
    }
}
