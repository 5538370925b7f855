//! `koolicense migrate --from-sled DIR --database-url URL`: moves a stopped service's sled
//! database into an empty PostgreSQL database and checks the copy (see `store::transfer`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::settings::Secret;
use crate::store::failure::Failure;
use crate::store::kv::{self, pg};
use crate::store::Store;

/// `koolicense migrate`
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The data directory of the stopped sled service.
    #[arg(long)]
    from_sled: PathBuf,
    /// The empty PostgreSQL database to fill.
    #[arg(long, env = "KOOLICENSE_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Extra CA certificates (PEM) to verify the database with `sslmode=require`.
    #[arg(long, env = "KOOLICENSE_DATABASE_CA_FILE")]
    database_ca_file: Option<PathBuf>,
}

/// Copies, checks, and prints what was copied.
pub(crate) fn migrate(args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let url = Secret::new(args.database_url.clone());
    let shown = pg::redact(url.expose());
    let source = Store::open(&args.from_sled, 64).with_context(|| {
        format!(
            "while opening the sled database under {} (is the service stopped?)",
            args.from_sled.display()
        )
    })?;
    let connection = pg::Connection {
        url,
        pool_size: 2,
        ca_file: args.database_ca_file.clone(),
    };
    let target = kv::Db::open_postgres(&connection, std::sync::Arc::new(Failure::default()))
        .with_context(|| format!("while opening {shown}"))?;
    let copied = source
        .copy_into(&target)
        .with_context(|| format!("while copying into {shown}"))?;
    source.close().context("while closing the sled database")?;
    for (tree, entries) in &copied.trees {
        outln!("{tree:<24} {entries:>10} entries");
    }
    outln!(
        "copied into {shown}; every tree's count matches and {} licenses are byte-identical",
        copied.licenses_checked
    );
    outln!("now start the service with storage.backend = \"postgres\"");
    Ok(ExitCode::SUCCESS)
}
