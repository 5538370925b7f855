//! `koolicense migrate --from-sled DIR (--database-url URL | --to-fjall DIR)`: moves a stopped
//! service's sled database into an empty PostgreSQL database, or into a new fjall database under
//! a data directory, and checks the copy (see `store::transfer`).

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
    database_url: Option<String>,
    /// Or the data directory whose fjall database (`<DIR>/fjall`, new or empty) to fill; it may
    /// be the sled data directory itself (its keys and settings stay where they are).
    #[arg(long)]
    to_fjall: Option<PathBuf>,
    /// Extra CA certificates (PEM) to verify the database with `sslmode=require`.
    #[arg(long, env = "KOOLICENSE_DATABASE_CA_FILE")]
    database_ca_file: Option<PathBuf>,
}

/// The database a copy goes to, opened, with how to name it and the backend to start with.
fn target(args: &MigrateArgs) -> anyhow::Result<(kv::Db, String, &'static str)> {
    let failure = std::sync::Arc::new(Failure::default());
    match (&args.database_url, &args.to_fjall) {
        (Some(url), None) => {
            let url = Secret::new(url.clone());
            let shown = pg::redact(url.expose());
            let connection = pg::Connection {
                url,
                pool_size: 2,
                ca_file: args.database_ca_file.clone(),
            };
            let db = kv::Db::open_postgres(&connection, failure)
                .with_context(|| format!("while opening {shown}"))?;
            Ok((db, shown, "postgres"))
        }
        (None, Some(dir)) => {
            let path = dir.join(crate::store::FJALL_DIR);
            let shown = path.display().to_string();
            std::fs::create_dir_all(&path).with_context(|| format!("while creating {shown}"))?;
            let db = kv::Db::open_fjall(&path, 64, failure)
                .with_context(|| format!("while opening {shown}"))?;
            Ok((db, shown, "fjall"))
        }
        _ => anyhow::bail!(
            "name one target: --database-url (or KOOLICENSE_DATABASE_URL) or --to-fjall"
        ),
    }
}

/// Copies, checks, and prints what was copied.
pub(crate) fn migrate(args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let (target, shown, backend) = target(args)?;
    let source = Store::open(&args.from_sled, 64).with_context(|| {
        format!(
            "while opening the sled database under {} (is the service stopped?)",
            args.from_sled.display()
        )
    })?;
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
    outln!("now start the service with storage.backend = \"{backend}\"");
    Ok(ExitCode::SUCCESS)
}
