//! `koolicense backup` (a consistent snapshot from a running service, over its API) and
//! `koolicense restore` (a checked snapshot into a new data directory, service stopped, as the
//! embedded backend the configuration names: sled or fjall).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use sha2::{Digest, Sha256};

use super::ServeArgs;
use crate::settings::StorageBackend;
use crate::store::backup::{self, Target};

/// `koolicense backup`
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// Base URL of the running service, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// A write-scoped API token.
    #[arg(long, env = "KOOLICENSE_API_TOKEN", hide_env_values = true)]
    token: String,
    /// Where to write the snapshot (written to FILE.partial, checked, then renamed).
    #[arg(long)]
    out: PathBuf,
}

/// `koolicense restore`
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The snapshot written by `koolicense backup`.
    #[arg(long)]
    from: PathBuf,
    /// The new data directory; it must not exist or be empty. The database is written as the
    /// configuration's storage.backend (KOOLICENSE_STORAGE_BACKEND): sled or fjall.
    #[arg(long)]
    data_dir: PathBuf,
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Downloads, checks and stores a snapshot.
pub(crate) fn backup(args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let url = format!("{}/v1/backup", args.url.trim_end_matches('/'));
    let response = match ureq::get(&url)
        .set("Authorization", &format!("Bearer {}", args.token))
        .call()
    {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            eprintln!("HTTP {code}: {}", r.into_string().unwrap_or_default());
            return Ok(ExitCode::from(1));
        }
        Err(e) => bail!("while calling {url}: {e}"),
    };
    let announced = response.header("X-Backup-Sha256").map(str::to_owned);
    let partial = partial_path(&args.out);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&partial)
        .with_context(|| format!("while creating {}", partial.display()))?;
    let mut body = response.into_reader();
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = body
            .read(&mut buf)
            .context("while downloading the snapshot")?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])
            .with_context(|| format!("while writing {}", partial.display()))?;
        hash.update(&buf[..n]);
        total += n as u64;
    }
    file.sync_all()
        .with_context(|| format!("while syncing {}", partial.display()))?;
    drop(file);
    let summary = backup::verify(&partial)
        .with_context(|| format!("the downloaded snapshot {} is damaged", partial.display()))?;
    if announced.as_deref() != Some(summary.sha256.as_str()) {
        bail!(
            "the snapshot's checksum {} differs from the one the service announced ({announced:?})",
            summary.sha256
        );
    }
    std::fs::rename(&partial, &args.out)
        .with_context(|| format!("while renaming to {}", args.out.display()))?;
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent).and_then(|d| d.sync_all()).ok();
    }
    eprintln!(
        "backup written to {}: {total} bytes, {} trees, {} entries, sha256 {} (file digest {})",
        args.out.display(),
        summary.trees,
        summary.entries,
        summary.sha256,
        hex::encode(hash.finalize())
    );
    Ok(ExitCode::SUCCESS)
}

/// The embedded backend the configuration names; PostgreSQL is refused with the way there.
fn restore_target(config: Option<PathBuf>, data_dir: &Path) -> anyhow::Result<Target> {
    let settings = ServeArgs {
        config,
        data_dir: Some(data_dir.to_path_buf()),
        ..ServeArgs::default()
    }
    .settings()?;
    match settings.storage.backend {
        StorageBackend::Sled => Ok(Target::Sled),
        StorageBackend::Fjall => Ok(Target::Fjall),
        StorageBackend::Postgres => bail!(
            "restore writes an embedded database (storage.backend = \"sled\" or \"fjall\"); \
             for PostgreSQL, restore into a sled data directory, then move it with \
             `koolicense migrate`"
        ),
    }
}

/// Checks a snapshot and restores it into a new data directory.
pub(crate) fn restore(args: &RestoreArgs, config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let target = restore_target(config, &args.data_dir)?;
    if args.data_dir.exists()
        && std::fs::read_dir(&args.data_dir)
            .with_context(|| format!("while reading {}", args.data_dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "refusing to restore into {}: it is not empty (restore into a new directory, then \
             point storage.data_dir at it)",
            args.data_dir.display()
        );
    }
    crate::startup::private_dir::prepare(&args.data_dir)?;
    let summary = backup::restore(&args.from, &args.data_dir, target).with_context(|| {
        format!(
            "while restoring {} into {}",
            args.from.display(),
            args.data_dir.display()
        )
    })?;
    eprintln!(
        "restored {} trees, {} entries (snapshot of {}, sha256 {}) into {} ({target:?}); start \
         the service with storage.data_dir = {}, the same storage.backend and the same signing key",
        summary.trees,
        summary.entries,
        chrono::DateTime::from_timestamp_millis(summary.created_ms)
            .map_or_else(|| "an unknown time".into(), |t| t.to_rfc3339()),
        summary.sha256,
        args.data_dir.display(),
        args.data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
