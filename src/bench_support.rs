//! Support for the load benchmark (`benches/license.rs`) ONLY: not a supported API, hidden from
//! the docs, and free to change with the benchmark.
//!
//! It exposes what the benchmark cannot reach from outside the crate:
//!
//! * [`service_server`]: the real application ([`Application`]) on a bound listener, running on
//!   its own actix system thread, with access to its group-commit counters;
//! * [`ceiling_server`]: the ceiling the service is measured against, an endpoint built from the
//!   same blocks as getLicense (sled, the group commit, [`Signer`], [`UnsignedLicense`] encoding,
//!   the service's id generator, the same answer body and `Body-Sign`) that does nothing else:
//!   encode a fixed-size claims set with a fresh license id, sign it, insert it into one sled
//!   tree and wait for the group commit on the blocking pool;
//! * [`GetLicenseSigner`]: getLicense query strings for new orders, signed with scheme A by the
//!   service's own helper, whose claims match the ceiling's field for field;
//! * [`process_cpu_secs`] and [`device_written_bytes`]: what a run cost the machine (Linux).

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{anyhow, Context};
use base64::Engine as _;
use chrono::{TimeZone, Utc};
use koolicense_verify::{Binding, Claims, LicenseId, UnsignedLicense};

use crate::koomarket::answer::{Answer, ResultCode};
use crate::koomarket::auth::{self, SecretKey};
use crate::settings::Settings;
use crate::signing::Signer;
use crate::startup::{Application, StartOptions};
use crate::store::commit::{GroupCommit, LsmFlusher, SledFlusher};
use crate::store::kv;

/// productId of every benchmark order (and of the ceiling's claims).
pub const PRODUCT_ID: &str = "00301-666666-0--0";
/// skuCode of every benchmark order.
pub const SKU_CODE: &str = "sku-bench-0001";
/// customerId of every benchmark order.
pub const CUSTOMER_ID: &str = "68cbc86abc2018ab880d92f36422fa0e";
/// The buyer's system identifier (系统识别码) sent in saasExtendParams.
pub const SYSTEM_ID: &str = "SYSID-4f1c2b7e-9d3a-4c55-8e21-bench0000001";
/// expireTime of every benchmark order (yyyyMMddHHmmss, UTC).
pub const EXPIRE_TIME: &str = "20991231235959";

/// A server running on its own actix system thread.
pub struct BenchServer {
    port: u16,
    handle: ServerHandle,
    stats: Box<dyn Fn() -> (u64, u64) + Send + Sync>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl BenchServer {
    /// The bound port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Group-commit counters so far: (flushes, waiters released by a successful flush).
    pub fn commit_stats(&self) -> (u64, u64) {
        (self.stats)()
    }

    /// Stops the server gracefully, lets it flush storage, and joins its thread.
    pub fn stop(mut self) -> anyhow::Result<()> {
        // The stop command is sent when `stop` is called; its completion future is not needed
        // because joining the thread waits for the whole shutdown.
        drop(self.handle.stop(true));
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow!("the server thread panicked"))?,
            None => Ok(()),
        }
    }
}

/// Starts `serve` on its own system thread and waits until it is listening.
fn spawn_system<F>(name: &str, start: F) -> anyhow::Result<BenchServer>
where
    F: FnOnce() -> anyhow::Result<Started> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let started = match start() {
                    Ok(started) => started,
                    Err(e) => {
                        let message = format!("{e:#}");
                        let _ = tx.send(Err(e));
                        return Err(anyhow!(message));
                    }
                };
                let Started {
                    port,
                    handle,
                    stats,
                    run,
                } = started;
                let _ = tx.send(Ok((port, handle, stats)));
                run.await
            })
        })
        .context("while spawning the server thread")?;
    let (port, handle, stats) = rx
        .recv()
        .map_err(|_| anyhow!("the server thread exited before listening"))??;
    Ok(BenchServer {
        port,
        handle,
        stats,
        thread: Some(thread),
    })
}

type RunFuture = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>>>>;

struct Started {
    port: u16,
    handle: ServerHandle,
    stats: Box<dyn Fn() -> (u64, u64) + Send + Sync>,
    run: RunFuture,
}

/// Starts the real application with `settings` on `listener`.
pub fn service_server(settings: Settings, listener: TcpListener) -> anyhow::Result<BenchServer> {
    spawn_system("bench-service", move || {
        let app = Application::build_with_listener(settings, StartOptions::default(), listener)?;
        let store = app.store().clone();
        Ok(Started {
            port: app.port(),
            handle: app.handle(),
            stats: Box::new(move || store.commit_stats()),
            run: Box::pin(app.run_until_stopped()),
        })
    })
}

/// The ceiling endpoint's state: the same building blocks as the store and getLicense.
struct Ceiling {
    db: kv::Db,
    tree: kv::Tree,
    commit: GroupCommit,
    signer: Signer,
    key: SecretKey,
}

impl Ceiling {
    /// Encodes, signs and durably inserts one license; returns (instance id, token).
    fn issue(&self) -> anyhow::Result<(String, String)> {
        let now = Utc::now();
        let license_id = LicenseId(*crate::licensing::new_id().as_bytes());
        let instance_id = crate::licensing::new_id().to_string();
        let unix = |t: chrono::DateTime<Utc>| u64::try_from(t.timestamp()).unwrap_or(0);
        let expires = Utc
            .with_ymd_and_hms(2099, 12, 31, 23, 59, 59)
            .single()
            .map(unix);
        // An order id of the same length as the benchmark's ("CS" and 20 digits).
        let order_id = format!(
            "CS{:020}",
            u128::from_be_bytes(license_id.0) % 10u128.pow(20)
        );
        let claims = Claims {
            license_id,
            revision: 1,
            instance_id: Some(instance_id.clone()),
            order_id: Some(order_id),
            product_id: PRODUCT_ID.to_owned(),
            sku_code: Some(SKU_CODE.to_owned()),
            customer_id: Some(CUSTOMER_ID.to_owned()),
            trial: false,
            test: false,
            issued_at: unix(now),
            not_before: unix(now),
            expires_at: expires,
            quantity: Some(1),
            features: Vec::new(),
            binding: Binding::System(SYSTEM_ID.to_owned()),
        };
        let unsigned = UnsignedLicense::new(&self.signer.kid(), &claims)
            .map_err(|e| anyhow!("cannot encode: {e}"))?;
        let token = self.signer.sign_license(&unsigned);
        self.tree
            .insert(license_id.to_string().as_bytes(), token.as_bytes())?;
        self.commit.sync()?;
        Ok((instance_id, token))
    }
}

async fn ceiling_handler(state: web::Data<Ceiling>) -> HttpResponse {
    let ceiling = state.clone();
    let answer = match web::block(move || ceiling.issue()).await {
        Ok(Ok((instance_id, token))) => Answer::provisioned(instance_id, token),
        _ => Answer::failure(ResultCode::Internal, "internal error, please retry"),
    };
    answer.into_response(&state.key)
}

/// Path of the ceiling endpoint.
pub const CEILING_PATH: &str = "/ceiling";

/// The embedded engine a ceiling writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// sled (the default backend).
    Sled,
    /// fjall (`storage.backend = "fjall"`).
    Fjall,
}

/// Starts the ceiling endpoint (`GET /ceiling`) with `workers` workers on `listener`, its
/// database (`engine`) under `data_dir` (same page cache as the service's default), answering
/// with the marketplace key `market_key`.
pub fn ceiling_server(
    data_dir: &Path,
    listener: TcpListener,
    workers: usize,
    market_key: &str,
    engine: Engine,
) -> anyhow::Result<BenchServer> {
    let dir = data_dir.join("db");
    std::fs::create_dir_all(&dir).with_context(|| format!("while creating {}", dir.display()))?;
    let failure = Arc::new(crate::store::failure::Failure::default());
    let (db, commit) = match engine {
        Engine::Sled => {
            let db = kv::Db::open_sled(&dir, 64, failure)?;
            let sled = db.sled().cloned().context("not sled")?;
            let commit = GroupCommit::start(SledFlusher::open(sled, &dir)?)?;
            (db, commit)
        }
        Engine::Fjall => {
            let db = kv::Db::open_fjall(&dir, 64, failure)?;
            let lsm = db.lsm().cloned().context("not fjall")?;
            (db, GroupCommit::start(LsmFlusher::new(lsm))?)
        }
    };
    let ceiling = Arc::new(Ceiling {
        tree: db.open_tree("licenses")?,
        commit,
        signer: Signer::generate()?,
        key: SecretKey::new(market_key.to_owned()).map_err(|e| anyhow!("{e}"))?,
        db,
    });
    spawn_system("bench-ceiling", move || {
        let port = listener.local_addr()?.port();
        let data = web::Data::from(Arc::clone(&ceiling));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(CEILING_PATH, web::get().to(ceiling_handler))
        })
        .workers(workers.max(1))
        .listen(listener)?
        .run();
        let stats_of = Arc::clone(&ceiling);
        Ok(Started {
            port,
            handle: server.handle(),
            stats: Box::new(move || {
                let s = stats_of.commit.stats();
                (s.flushes, s.synced_waiters)
            }),
            run: Box::pin(async move {
                let served = server.await;
                let closing = Arc::clone(&ceiling);
                web::block(move || -> anyhow::Result<()> {
                    closing.db.flush()?;
                    closing.commit.shutdown();
                    Ok(())
                })
                .await??;
                served.context("while serving")
            }),
        })
    })
}

/// Settings for the real service in a benchmark: data under `data_dir`, `workers` workers, the
/// marketplace key `market_key`, a development signing key generated on first start.
pub fn service_settings(data_dir: &Path, workers: usize, market_key: &str) -> Settings {
    let mut settings = Settings::default();
    settings.storage.data_dir = data_dir.to_path_buf();
    settings.server.workers = workers.max(1);
    settings.server.shutdown_timeout_secs = 5;
    settings.koomarket.keys = vec![crate::settings::Secret::new(market_key)];
    settings
}

/// Builds getLicense query strings signed with scheme A exactly as the marketplace signs them,
/// with the service's own helpers; made once per client thread so each call only does the
/// per-request work.
pub struct GetLicenseSigner {
    key: SecretKey,
    extend: String,
}

impl GetLicenseSigner {
    /// A signer for the marketplace key `market_key`.
    pub fn new(market_key: &str) -> anyhow::Result<GetLicenseSigner> {
        let key = SecretKey::new(market_key.to_owned()).map_err(|e| anyhow!("{e}"))?;
        let extend = serde_json::json!([{"name": "identificationCode", "value": SYSTEM_ID}]);
        let extend = base64::engine::general_purpose::STANDARD.encode(extend.to_string());
        Ok(GetLicenseSigner { key, extend })
    }

    /// The signed query string for a new order `order_id` with the per-call `business_id`
    /// (`timeStamp` is now).
    pub fn query(&self, order_id: &str, business_id: &str) -> String {
        let time_stamp = Utc::now().format("%Y%m%d%H%M%S%3f").to_string();
        let mut query = form_urlencoded::Serializer::new(String::with_capacity(512));
        query
            .append_pair("activity", "getLicense")
            .append_pair("timeStamp", &time_stamp)
            .append_pair("businessId", business_id)
            .append_pair("orderId", order_id)
            .append_pair("customerId", CUSTOMER_ID)
            .append_pair("customerName", "bench-customer")
            .append_pair("productId", PRODUCT_ID)
            .append_pair("skuCode", SKU_CODE)
            .append_pair("chargingMode", "1")
            .append_pair("periodType", "year")
            .append_pair("periodNumber", "1")
            .append_pair("expireTime", EXPIRE_TIME)
            .append_pair("amount", "1")
            .append_pair("saasExtendParams", &self.extend);
        let unsigned = query.finish();
        let token = auth::auth_token(&self.key, &auth::parse_query(&unsigned));
        let mut signed = form_urlencoded::Serializer::new(unsigned);
        signed.append_pair("authToken", &token);
        signed.finish()
    }
}

/// Whether `body` carries a valid `Body-Sign` header value for `market_key`.
pub fn body_sign_ok(market_key: &str, body: &[u8], header: &str) -> bool {
    SecretKey::new(market_key.to_owned())
        .is_ok_and(|key| auth::verify_body_signature(&key, body, header))
}

/// User + system CPU seconds of this process so far (Linux only).
pub fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux architecture Rust targets.
    Some(ticks / 100.0)
}

/// Bytes written to the block devices so far, machine-wide (Linux only): what the disk really
/// received, unlike a process's write count, which counts a page each time it is dirtied.
pub fn device_written_bytes() -> Option<u64> {
    let stats = std::fs::read_to_string("/proc/diskstats").ok()?;
    let mut total = 0u64;
    for line in stats.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(name) = fields.get(2) else { continue };
        // Whole disks only (partitions would count twice), no loop or RAM devices.
        let whole = std::path::Path::new("/sys/block").join(name).exists();
        if !whole || ["loop", "ram", "zram"].iter().any(|p| name.starts_with(p)) {
            continue;
        }
        total += fields.get(9)?.parse::<u64>().ok()? * 512;
    }
    Some(total)
}
