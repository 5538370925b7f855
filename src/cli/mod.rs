//! The `koolicense` command line: `serve` (default), key generation, offline issuance,
//! verification, inspection, this machine's fingerprint, a signed KooMarket test call, and
//! online backup / offline restore, and the move from sled to PostgreSQL.

/// `println!` for command output: a closed pipe (`| head`) ends the program quietly instead of
/// panicking.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!($($arg)*), true) };
}

/// `print!` with the same behaviour.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!($($arg)*), false) };
}

mod backup;
mod call;
mod marketplace;
mod migrate;
mod offline;
mod seats;
mod token;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::settings::{Overrides, Settings, EXAMPLE_CONFIG};
use crate::startup::{Application, StartOptions};

/// koolicense: license issuing for KooMarket (Huawei Cloud marketplace) License products.
///
/// Without a subcommand, `serve` runs with the embedded defaults: listen on 127.0.0.1:8080, data
/// under ./data, development keys generated on first run.
#[derive(Debug, Parser)]
#[command(name = "koolicense", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve(ServeArgs),
    /// Create an Ed25519 signing key pair: <kid>.key.pem (mode 0600) and <kid>.pub.pem.
    Keygen(offline::KeygenArgs),
    /// Sign a license offline with a key file, e.g. for manual delivery in KooMarket's service
    /// supervision (服务监管). The license is printed, not recorded in the service database.
    Issue(Box<offline::IssueArgs>),
    /// Verify a license against pinned public keys; exit code 0 if valid, 1 if not.
    Verify(offline::VerifyArgs),
    /// Decode a license WITHOUT verifying it, to see what it claims.
    Inspect(offline::InspectArgs),
    /// Print this machine's hardware identifier (硬件识别码) in KooMarket's format and each
    /// component with its source, for a buyer to paste into the marketplace.
    Fingerprint(offline::FingerprintArgs),
    /// Merchant API tokens (the database must not be held by a running service, or use --url).
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Download a consistent snapshot of a running service's database (write-scoped token),
    /// checked against its SHA-256.
    Backup(backup::BackupArgs),
    /// Restore a snapshot into a new, empty data directory (the service stopped).
    Restore(backup::RestoreArgs),
    /// Move a stopped service's sled database into an empty PostgreSQL database, then check
    /// every tree's count and every license byte for byte.
    Migrate(migrate::MigrateArgs),
    /// Turn an offline activation request into its response (through a running service).
    Activate(seats::ActivateArgs),
    /// Free the seat a license holds (merchant), or read a carried deactivation proof.
    Deactivate(seats::DeactivateArgs),
    /// KooMarket tools.
    #[command(subcommand)]
    Koomarket(KoomarketCommand),
    /// The marketplace as it sees this service.
    #[command(subcommand)]
    Marketplace(MarketplaceCommand),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum KoomarketCommand {
    /// Send a correctly signed production-interface call to a running service (like the seller
    /// console's debugger) and check the Body-Sign of the answer; or print the signed URL.
    Call(call::CallArgs),
}

#[derive(Debug, Subcommand)]
enum MarketplaceCommand {
    /// The delisting guard: failed answers per day and activity for the last 30 days and this
    /// month's failed orders (KooMarket delists above five), from a running service.
    Health(marketplace::HealthArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the annotated example configuration.
    Example,
    /// Load the configuration (file, environment, flags) and print it with secrets redacted.
    Check(ServeArgs),
}

/// Flags of `serve` (also accepted without the subcommand).
#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// TOML configuration file (also KOOLICENSE_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides server.listen).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data directory (overrides storage.data_dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Signing key file (overrides signing.key_file).
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// Accept a signing key whose kid differs from the one recorded in the database, making it
    /// the active key (the old public key stays published).
    #[arg(long)]
    rotate_key: bool,
}

impl ServeArgs {
    fn settings(&self) -> anyhow::Result<Settings> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let overrides = Overrides {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            key_file: self.signing_key.clone(),
        };
        Settings::load(self.config.as_deref(), &env, &overrides)
            .context("while loading configuration")
    }
}

pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(args)
        .and_then(|()| {
            if newline {
                stdout.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| stdout.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

/// Runs the command line; the exit code follows the command's outcome.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => serve(&cli.serve),
        Some(Command::Serve(args)) => serve(&args),
        Some(Command::Keygen(args)) => offline::keygen(&args),
        Some(Command::Issue(args)) => offline::issue(&args),
        Some(Command::Verify(args)) => offline::verify(&args),
        Some(Command::Inspect(args)) => offline::inspect(&args),
        Some(Command::Fingerprint(args)) => offline::fingerprint(&args),
        Some(Command::Koomarket(KoomarketCommand::Call(args))) => call::call(&args),
        Some(Command::Marketplace(MarketplaceCommand::Health(args))) => marketplace::health(&args),
        Some(Command::Backup(args)) => backup::backup(&args),
        Some(Command::Restore(args)) => backup::restore(&args, cli.serve.config.clone()),
        Some(Command::Migrate(args)) => migrate::migrate(&args),
        Some(Command::Activate(args)) => seats::activate(&args),
        Some(Command::Deactivate(args)) => seats::deactivate(&args),
        Some(Command::Token(command)) => token::run(&command, cli.serve.config.clone()),
        Some(Command::Config(ConfigCommand::Example)) => {
            out!("{EXAMPLE_CONFIG}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Config(ConfigCommand::Check(args))) => {
            let settings = args.settings()?;
            outln!("{settings:#?}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = args.settings()?;
    crate::telemetry::init(&settings.log);
    let options = StartOptions {
        rotate_key: args.rotate_key,
        ..StartOptions::default()
    };
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings, options)?;
        app.arm_fail_stop_watchdog();
        tracing::info!(port = app.port(), "koolicense listening");
        app.run_until_stopped().await
    })?;
    Ok(ExitCode::SUCCESS)
}
