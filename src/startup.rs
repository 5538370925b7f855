//! Building and running the application: open storage, load or create keys, bind the listener
//! (port 0 works, for tests), and the single app factory used by `main` and by tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::{bail, Context};
use chrono::Utc;

mod fail_stop;
mod internal;
pub(crate) mod private_dir;
mod sweeper;

use crate::access::TokenRegistry;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::koomarket::auth::{KeyRing, SecretKey};
use crate::koomarket::interface::Interface;
use crate::licensing::{Licensing, Rules};
use crate::marketplace::client::MarketClient;
use crate::marketplace::outbox::{OutboxWorker, RetryPolicy};
use crate::marketplace::pool::CallPool;
use crate::metrics::census::Censor;
use crate::routes;
use crate::settings::{Secret, Settings, StorageBackend};
use crate::signing::Signer;
use crate::state::AppState;
use crate::store::kv::pg::{redact, Connection};
use crate::store::records::KeyRecord;
use crate::store::{KeyRegistration, Store};

/// File name of the generated development signing key under `<data_dir>/keys/`.
pub const DEV_SIGNING_KEY: &str = "dev-signing";
/// File name of the generated development KooMarket key under `<data_dir>/`.
pub const DEV_MARKET_KEY_FILE: &str = "koomarket-dev.key";
/// File name of the generated development access key (POST interfaces) under `<data_dir>/`.
pub const DEV_ACCESS_KEY_FILE: &str = "koomarket-access-dev.key";

/// Connections the kernel queues for accepting (actix's own default).
const LISTEN_BACKLOG: i32 = 1024;

/// Start-up options that are not configuration.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// Accept a signing key whose kid differs from the recorded one (key rotation).
    pub rotate_key: bool,
    /// The clock of leases, deactivations and offline activation (tests advance it).
    pub clock: Clock,
    /// Armed, it makes every storage read fail (tests prove the fail-stop with it).
    #[doc(hidden)]
    pub read_fault: crate::store_support::ReadFault,
}

/// A built, not yet running, application.
pub struct Application {
    port: u16,
    server: Server,
    /// The internal metrics server (`server.metrics_listen`), if configured.
    metrics_server: Option<Server>,
    state: AppState,
    outbox: OutboxWorker,
    census: Censor,
    sweeper: Option<sweeper::Sweeper>,
}

/// What the app factory registers: the application state and the production interface's.
#[derive(Clone)]
pub(crate) struct Shared {
    state: AppState,
    interface: web::Data<Interface>,
}

/// Registers the shared state and every route on an actix app: the one app factory.
pub(crate) fn configure_app(cfg: &mut web::ServiceConfig, shared: &Shared) {
    let state = &shared.state;
    cfg.app_data(web::Data::new(state.clone()))
        .app_data(web::Data::new(state.gate.clone()))
        .app_data(shared.interface.clone())
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            ApiError::InvalidRequest(format!("invalid query string: {e}")).into()
        }))
        .app_data(
            web::JsonConfig::default()
                .limit(64 * 1024)
                .error_handler(|e, _| {
                    ApiError::InvalidRequest(format!("invalid JSON body: {e}")).into()
                }),
        )
        .configure(|cfg| routes::configure(cfg, state));
}

impl Application {
    /// Opens storage and keys and binds the listener.
    pub fn build(settings: Settings, options: StartOptions) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.server.listen)
            .with_context(|| format!("while binding {}", settings.server.listen))?;
        Application::build_with_listener(settings, options, listener)
    }

    /// As [`Application::build`], on an already bound listener.
    pub fn build_with_listener(
        settings: Settings,
        options: StartOptions,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        // Opening storage blocks (PostgreSQL's client runs a runtime of its own, which may not
        // start inside the caller's), so it runs on a thread of its own.
        let (shared, client) = std::thread::scope(|s| {
            s.spawn(|| prepare_state(settings, options))
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("opening storage panicked")))
        })?;
        let state = shared.state.clone();
        let outbox = OutboxWorker::start(
            state.licensing.clone(),
            client,
            RetryPolicy::new(&state.settings.marketplace),
        )
        .context("while starting the outbox worker")?;
        let port = listener
            .local_addr()
            .context("while reading the bound port")?
            .port();
        // A listener from `TcpListener::bind` queues 128 connections; a burst beyond that (many
        // activations at once) had the kernel drop and later reset connections. Listening again
        // on the bound socket raises the queue (the kernel caps it at net.core.somaxconn).
        rustix::net::listen(&listener, LISTEN_BACKLOG)
            .context("while raising the listen backlog")?;
        let census = Censor::start(state.store.clone(), state.metrics.census())
            .context("while starting the metrics census")?;
        let sweeper = sweeper::Sweeper::start(
            state.licensing.clone(),
            state.clock.clone(),
            std::time::Duration::from_secs(state.settings.seats.lapse_sweep_interval_secs),
        )
        .context("while starting the lease sweeper")?;
        let metrics_server = match state.settings.server.metrics_listen {
            Some(addr) => Some(internal::metrics_server(&state, addr)?),
            None => None,
        };
        let factory_state = shared;
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(routes::observe::observe))
                .configure(|cfg| configure_app(cfg, &factory_state))
        })
        .shutdown_timeout(state.settings.server.shutdown_timeout_secs);
        if state.settings.server.workers > 0 {
            server = server.workers(state.settings.server.workers);
        }
        let server = server
            .listen(listener)
            .context("while starting the HTTP server")?
            .run();
        Ok(Application {
            port,
            server,
            metrics_server,
            state,
            outbox,
            census,
            sweeper,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT (or the server handle stops it), then flushes storage.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            server,
            metrics_server,
            state,
            outbox,
            census,
            sweeper,
            ..
        } = self;
        let metrics = metrics_server.map(|server| {
            let handle = server.handle();
            (actix_web::rt::spawn(server), handle)
        });
        let (result, failure) = fail_stop::serve(server, &state).await;
        state.set_not_ready();
        if let Some((task, handle)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        if let Some(reason) = failure {
            // The outbox may wait on the network and the census on the failed disk; the
            // process is about to exit, so they are left to it rather than joined.
            std::mem::forget(outbox);
            std::mem::forget(census);
            std::mem::forget(sweeper);
            anyhow::bail!("storage failed, stopped so that the service is restarted: {reason}");
        }
        let mut sweeper = sweeper;
        crate::telemetry::blocking(move || sweeper.as_mut().map(sweeper::Sweeper::stop))
            .await
            .context("while stopping the lease sweeper")?;
        let mut census = census;
        crate::telemetry::blocking(move || census.stop())
            .await
            .context("while stopping the metrics census")?;
        let mut outbox = outbox;
        web::block(move || outbox.stop())
            .await
            .context("while stopping the outbox worker")?;
        let store = state.store.clone();
        web::block(move || store.close())
            .await
            .context("while flushing storage at shutdown")?
            .context("while flushing storage at shutdown")?;
        let (flushes, waiters) = state.store.commit_stats();
        tracing::info!(flushes, waiters, "storage flushed; stopped");
        result.context("while serving HTTP")
    }

    /// Ends the process shortly after a storage failure should the orderly stop hang (the
    /// binary calls it; tests do not).
    pub fn arm_fail_stop_watchdog(&self) {
        fail_stop::arm_watchdog(self.state.store.clone());
    }

    /// The storage handle (for its group-commit counters).
    pub(crate) fn store(&self) -> &Store {
        &self.state.store
    }

    /// A handle that can stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// Opens storage, loads the signing key and the marketplace keys, builds the licensing core and
/// the marketplace client: everything but the listener.
pub(crate) fn prepare_state(
    settings: Settings,
    options: StartOptions,
) -> anyhow::Result<(Shared, Arc<MarketClient>)> {
    let data_dir = settings.storage.data_dir.clone();
    private_dir::prepare(&data_dir)?;
    if settings.api.trust_forwarded_for {
        tracing::warn!(
            "api.trust_forwarded_for is deprecated: it now trusts X-Forwarded-For only from this \
             host (127.0.0.0/8, ::1); list your proxies in api.trusted_proxies instead"
        );
    }
    let store = open_store(&settings, options.read_fault.clone())?;
    let signer = load_signer(&settings, &data_dir)?;
    let record = KeyRecord {
        kid: signer.kid().to_string(),
        public_key_pem: signer.public_key().to_pem(),
        first_used: Utc::now(),
        retired_at: None,
    };
    match store
        .register_signing_key(record, options.rotate_key)
        .context("while recording the signing key")?
    {
        KeyRegistration::Refused { recorded } => bail!(
            "the configured signing key has kid {} but this database was signing with kid {recorded}; \
             start with --rotate-key to make the new key active (licenses signed by the old key stay \
             valid: its public key remains published at /v1/keys)",
            signer.kid()
        ),
        KeyRegistration::Rotated { previous } => {
            tracing::warn!(kid = %signer.kid(), %previous, "signing key rotated");
        }
        KeyRegistration::First | KeyRegistration::Unchanged => {}
    }
    tracing::info!(kid = %signer.kid(), "signing key loaded");
    let market_keys = load_market_keys(&settings, &data_dir)?;
    let tokens = TokenRegistry::load(&store).context("while loading API tokens")?;
    let access_keys = load_access_keys(&settings, &data_dir)?;
    let client = Arc::new(MarketClient::new(&settings.marketplace)?);
    if !client.configured() {
        tracing::warn!(
            "NO MARKETPLACE AK/SK CONFIGURED: license uploads and order queries wait in the \
             outbox and authorization codes cannot be activated; set KOOLICENSE_MARKETPLACE_AK \
             and KOOLICENSE_MARKETPLACE_SK"
        );
    }
    let signer = Arc::new(signer);
    let licensing = Licensing::new(
        store.clone(),
        signer.clone(),
        settings.policies(),
        rules(&settings),
        client.clone(),
    );
    let mut state = AppState::new(store, signer, settings.clone(), licensing.clone(), tokens)
        .with_outbound(
            CallPool::start(
                "koolicense-outbound",
                settings.marketplace.outbound_threads,
                settings.marketplace.outbound_queue,
            )
            .context("while starting the outbound pool")?,
        );
    state.clock = options.clock;
    let interface = Interface::new(
        &settings,
        licensing,
        market_keys,
        access_keys,
        state.metrics.clone(),
    );
    let interface = web::Data::new(interface);
    Ok((Shared { state, interface }, client))
}

/// Opens the configured backend: sled or fjall under the data directory, or PostgreSQL.
pub(crate) fn open_store(
    settings: &Settings,
    read_fault: crate::store_support::ReadFault,
) -> anyhow::Result<Store> {
    let storage = &settings.storage;
    match (storage.backend, &storage.postgres_url) {
        (StorageBackend::Postgres, Some(url)) => {
            let connection = Connection {
                url: url.clone(),
                pool_size: storage.postgres_pool_size,
                ca_file: storage.postgres_ca_file.clone(),
            };
            let store = Store::open_postgres(&connection, read_fault)
                .with_context(|| format!("while opening the database {}", redact(url.expose())))?;
            tracing::info!(database = %redact(url.expose()), "storage: PostgreSQL");
            Ok(store)
        }
        (StorageBackend::Fjall, _) => {
            let data_dir = &storage.data_dir;
            let store = Store::open_fjall(data_dir, storage.cache_capacity_mb, read_fault)
                .with_context(|| {
                    format!("while opening the database under {}", data_dir.display())
                })?;
            tracing::info!(data_dir = %data_dir.display(), "storage: fjall");
            Ok(store)
        }
        _ => {
            let data_dir = &storage.data_dir;
            Store::open_with_fault(data_dir, storage.cache_capacity_mb, read_fault)
                .with_context(|| format!("while opening the database under {}", data_dir.display()))
        }
    }
}

/// The core's tunable rules from the configuration.
fn rules(settings: &Settings) -> Rules {
    let seconds = |s: u64| {
        chrono::Duration::try_seconds(i64::try_from(s).unwrap_or(i64::MAX))
            .unwrap_or(chrono::Duration::days(1))
    };
    Rules {
        stale_expire_tolerance: seconds(settings.koomarket.stale_expire_tolerance_secs),
        code_refresh_interval: seconds(settings.marketplace.code_refresh_interval_secs),
        deactivation_limit: settings.seats.deactivation_limit,
        deactivation_window: seconds(settings.seats.deactivation_window_secs),
        heartbeat_audit_interval: seconds(settings.seats.heartbeat_audit_interval_secs),
        rejected_call_retention: chrono::Duration::days(i64::from(
            settings.koomarket.rejected_call_retention_days,
        )),
    }
}

fn load_signer(settings: &Settings, data_dir: &Path) -> anyhow::Result<Signer> {
    if let Some(path) = &settings.signing.key_file {
        return Signer::load(path)
            .with_context(|| format!("while loading the signing key {}", path.display()));
    }
    let dir = data_dir.join("keys");
    let path = dev_signing_key_path(data_dir);
    if path.exists() {
        tracing::warn!(
            path = %path.display(),
            "USING THE DEVELOPMENT SIGNING KEY from the data directory; configure signing.key_file for production"
        );
        return Signer::load(&path)
            .with_context(|| format!("while loading the development key {}", path.display()));
    }
    let signer = Signer::generate().context("while generating a development signing key")?;
    signer
        .write_pair(&dir, Some(DEV_SIGNING_KEY))
        .context("while writing the development signing key")?;
    let banner = "*".repeat(78);
    tracing::warn!("{banner}");
    tracing::warn!(
        "NO SIGNING KEY CONFIGURED: generated a DEVELOPMENT key (kid {}) at {}",
        signer.kid(),
        path.display()
    );
    tracing::warn!("Licenses signed with it are only as safe as that file. For production run");
    tracing::warn!("`koolicense keygen --out-dir /etc/koolicense/keys` and set signing.key_file.");
    tracing::warn!("{banner}");
    Ok(signer)
}

/// Path of the generated development signing key.
pub fn dev_signing_key_path(data_dir: &Path) -> PathBuf {
    data_dir
        .join("keys")
        .join(format!("{DEV_SIGNING_KEY}.key.pem"))
}

/// Path of the generated development marketplace key.
pub fn dev_market_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DEV_MARKET_KEY_FILE)
}

/// The configured marketplace keys (current first), or else a development key kept in
/// `dev_path` (created on first run) with a warning at every start.
fn load_key_ring(
    configured: &[Secret],
    dev_path: &Path,
    what: &str,
    warning: &str,
) -> anyhow::Result<KeyRing> {
    let configured: Vec<SecretKey> = configured
        .iter()
        .map(|k| SecretKey::new(k.expose().to_string()))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("invalid {what}: {e}"))?;
    if !configured.is_empty() {
        return KeyRing::new(configured).map_err(|e| anyhow::anyhow!("invalid {what}s: {e}"));
    }
    let key = if dev_path.exists() {
        crate::signing::check_private_permissions(dev_path)?;
        std::fs::read_to_string(dev_path)
            .with_context(|| format!("while reading {}", dev_path.display()))?
            .trim()
            .to_string()
    } else {
        let key = uuid::Uuid::new_v4().to_string();
        write_private(dev_path, &key)?;
        key
    };
    tracing::warn!(path = %dev_path.display(), "{warning}");
    let key = SecretKey::new(key).map_err(|e| anyhow::anyhow!("invalid development key: {e}"))?;
    Ok(KeyRing::single(key))
}

fn load_market_keys(settings: &Settings, data_dir: &Path) -> anyhow::Result<KeyRing> {
    load_key_ring(
        &settings.koomarket.keys,
        &dev_market_key_path(data_dir),
        "koomarket key",
        "NO KOOMARKET KEY CONFIGURED: using a DEVELOPMENT marketplace key stored in the data \
         directory; set KOOLICENSE_KOOMARKET_KEY to the Key值 from the seller console before going live",
    )
}

/// Path of the generated development access key of the POST interfaces.
pub fn dev_access_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DEV_ACCESS_KEY_FILE)
}

fn load_access_keys(settings: &Settings, data_dir: &Path) -> anyhow::Result<KeyRing> {
    load_key_ring(
        &settings.koomarket.access_keys,
        &dev_access_key_path(data_dir),
        "koomarket access key",
        "NO KOOMARKET ACCESS KEY CONFIGURED: the POST interfaces use a DEVELOPMENT access key \
         stored in the data directory; set KOOLICENSE_KOOMARKET_ACCESS_KEY to the 访问密钥 from the \
         seller console (密钥管理) before going live",
    )
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("while creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("while writing {}", path.display()))
}
