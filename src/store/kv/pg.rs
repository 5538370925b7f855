//! The PostgreSQL backend: one table per tree (`kv_<tree>`: `k bytea PRIMARY KEY, v bytea`),
//! a sequence for ids, the schema from the embedded migrations (`migrations/*.sql`, applied in
//! order at start inside one transaction under an advisory lock, recorded in
//! `schema_migrations`). The schema is documented in `docs/postgres.md`.
//!
//! The driver is tokio-postgres, driven by a small runtime of the store's own ([`Session`]):
//! every store method blocks its caller (the same code drives sled), and some are called from
//! async worker threads (a token's last use on the authentication path), where the blocking
//! `postgres` client cannot start its private runtime. So each call is spawned on the store's
//! runtime and its caller waits on a channel, from whatever thread. The pool is our own and
//! small ([`Pool`]): it connects lazily up to its size, sets `synchronous_commit = on` on every
//! session and checks it took, and drops a session that broke (any backend error fails the
//! store anyway, so it needs no health checks). Statements go with their parameter types
//! (`query_typed`): one round trip each, no statement cache.
//!
//! Several instances share one database: the write path's transaction locks what it reads
//! (`SELECT ... FOR UPDATE`), per-key locks are advisory locks (`locks`), ids come from the
//! sequence, and outbox jobs are claimed with `FOR UPDATE SKIP LOCKED`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row};

use super::{Error, Result};
use crate::settings::Secret;

mod locks;
mod table;

pub(crate) use locks::{AdvisoryGuard, AdvisoryLocks};
pub(crate) use table::{Cursor, Table};

/// The embedded migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "trees", include_str!("pg/migrations/0001_trees.sql"))];

/// Every tree the tables hold (the names the store opens).
pub(crate) const TREES: &[&str] = &[
    "meta",
    "licenses",
    "license-tokens",
    "licenses-by-instance",
    "idempotency",
    "audit",
    "index",
    "signing-keys",
    "api-tokens",
    "km2-instances",
    "km2-codes",
    "km2-pending-codes",
    "km2-outbox",
    "km2-outbox-keys",
    "km2-outbox-pending",
    "km2-nonces",
    "km-rejected-calls",
    "seat-leases",
    "seat-leases-held",
    "seat-deactivations",
];

/// Key of the advisory lock the migrations run under.
const MIGRATION_LOCK: i64 = 0x6b6f_6f6c_6d69_6772;

/// Where the database is and how many connections to use.
#[derive(Clone)]
pub(crate) struct Connection {
    /// `postgres://user:password@host/db` or `host=... dbname=...`.
    pub(crate) url: Secret,
    /// Connections for queries and writes.
    pub(crate) pool_size: usize,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &redact(self.url.expose()))
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// `url` with its password replaced by `***` (URL or key-value form).
pub(crate) fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            let tail = redact_query(tail);
            return format!("{scheme}://{masked}@{host}{tail}");
        }
        return format!("{scheme}://{authority}{}", redact_query(tail));
    }
    url.split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn redact_query(tail: &str) -> String {
    match tail.split_once('?') {
        Some((path, query)) => {
            let pairs = query.split('&').map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            });
            format!("{path}?{}", pairs.collect::<Vec<_>>().join("&"))
        }
        None => tail.to_owned(),
    }
}

/// A driver error as text, with its SQLSTATE (never the password: the driver does not echo it).
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.code() {
        Some(code) => format!("{e} (SQLSTATE {})", code.code()),
        None => e.to_string(),
    }
}

/// Whether a transaction failing with `e` may simply run again (nothing was committed).
pub(crate) fn transient(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    )
}

/// A parameter of a statement, owned (the statement runs on the store's runtime).
#[derive(Clone, Debug)]
pub(crate) enum Param {
    Bytes(Vec<u8>),
    BytesArray(Vec<Vec<u8>>),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Param {
    fn typed(&self) -> (&(dyn ToSql + Sync), Type) {
        match self {
            Param::Bytes(v) => (v, Type::BYTEA),
            Param::BytesArray(v) => (v, Type::BYTEA_ARRAY),
            Param::Int(v) => (v, Type::INT8),
            Param::Float(v) => (v, Type::FLOAT8),
            Param::Text(v) => (v, Type::TEXT),
        }
    }
}

/// The runtime that drives every session, shut down without blocking when dropped.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The connection settings and the runtime: what opens sessions and runs their statements.
#[derive(Clone)]
pub(crate) struct Driver {
    config: tokio_postgres::Config,
    runtime: Arc<Runtime>,
}

impl Driver {
    fn new(url: &Secret) -> Result<Driver> {
        let mut config: tokio_postgres::Config =
            url.expose().parse().map_err(|e: tokio_postgres::Error| {
                Error::Postgres(format!(
                    "invalid database URL {}: {e}",
                    redact(url.expose())
                ))
            })?;
        config
            .application_name("koolicense")
            .connect_timeout(Duration::from_secs(10))
            .keepalives_idle(Duration::from_secs(30));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("koolicense-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Postgres(format!("cannot start the driver's runtime: {e}")))?;
        Ok(Driver {
            config,
            runtime: Arc::new(Runtime(Some(runtime))),
        })
    }

    /// Runs `future` on the runtime; the caller's thread waits for it.
    pub(crate) fn block<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let rt = self
            .runtime
            .0
            .as_ref()
            .ok_or_else(|| Error::Postgres("driver stopped".into()))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv()
            .map_err(|_| Error::Postgres("the driver stopped during a statement".into()))
    }

    /// Opens a session with `synchronous_commit = on`, checked.
    pub(crate) fn connect(&self) -> Result<Session> {
        let config = self.config.clone();
        let client = self.block(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %describe(&e), "PostgreSQL session ended");
                }
            });
            client.batch_execute("SET synchronous_commit TO on").await?;
            let setting: String = client
                .query_one("SHOW synchronous_commit", &[])
                .await?
                .get(0);
            Ok::<_, tokio_postgres::Error>((client, setting))
        })??;
        if client.1 != "on" {
            return Err(Error::Postgres(format!(
                "synchronous_commit is {:?} after setting it on: a commit would not be durable",
                client.1
            )));
        }
        Ok(Session {
            client: Arc::new(client.0),
            driver: self.clone(),
        })
    }
}

/// One session to the database.
pub(crate) struct Session {
    client: Arc<Client>,
    driver: Driver,
}

impl Session {
    /// Runs one statement and returns its rows.
    pub(crate) fn query(&self, sql: impl Into<String>, params: Vec<Param>) -> Result<Vec<Row>> {
        self.try_query(sql, params)?.map_err(Error::from)
    }

    /// As [`Session::query`], the driver's own error kept apart (a transaction looks at it).
    pub(crate) fn try_query(
        &self,
        sql: impl Into<String>,
        params: Vec<Param>,
    ) -> Result<std::result::Result<Vec<Row>, tokio_postgres::Error>> {
        let (client, sql) = (self.client.clone(), sql.into());
        self.driver.block(async move {
            let typed: Vec<_> = params.iter().map(Param::typed).collect();
            client.query_typed(&sql, &typed).await
        })
    }

    /// Runs statements without parameters (simple protocol).
    pub(crate) fn execute(&self, sql: impl Into<String>) -> Result<()> {
        let (client, sql) = (self.client.clone(), sql.into());
        Ok(self
            .driver
            .block(async move { client.batch_execute(&sql).await })??)
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// A bounded pool of sessions, connected lazily.
pub(crate) struct Pool {
    driver: Driver,
    idle: Mutex<(Vec<Session>, usize)>,
    freed: Condvar,
    size: usize,
}

/// A session taken from the pool; back to it when dropped (unless it broke).
pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    session: Option<Session>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        self.session
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Pooled<'_> {
    /// Closes the session instead of returning it (its state is unknown).
    pub(crate) fn discard(mut self) {
        self.session = None;
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let mut idle = self.pool.idle.lock();
        match self.session.take() {
            Some(session) if !session.is_closed() => idle.0.push(session),
            _ => idle.1 -= 1,
        }
        self.pool.freed.notify_one();
    }
}

impl Pool {
    fn new(driver: Driver, size: usize) -> Pool {
        Pool {
            driver,
            idle: Mutex::new((Vec::new(), 0)),
            freed: Condvar::new(),
            size: size.max(1),
        }
    }

    /// A session: an idle one, a new one while under the size, else the next one freed.
    pub(crate) fn get(&self) -> Result<Pooled<'_>> {
        let mut idle = self.idle.lock();
        loop {
            if let Some(session) = idle.0.pop() {
                return Ok(Pooled {
                    pool: self,
                    session: Some(session),
                });
            }
            if idle.1 < self.size {
                idle.1 += 1;
                drop(idle);
                return match self.driver.connect() {
                    Ok(session) => Ok(Pooled {
                        pool: self,
                        session: Some(session),
                    }),
                    Err(e) => {
                        self.idle.lock().1 -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            self.freed.wait(&mut idle);
        }
    }
}

/// The database (cheap to clone).
#[derive(Clone)]
pub(crate) struct Database {
    pool: Arc<Pool>,
    locks: Arc<AdvisoryLocks>,
}

impl Database {
    /// Connects, applies the migrations not applied yet and checks every tree's table.
    pub(crate) fn open(connection: &Connection) -> Result<Database> {
        let driver = Driver::new(&connection.url)?;
        let session = driver.connect()?;
        migrate(&session)?;
        let database = Database {
            locks: Arc::new(AdvisoryLocks::new(driver.clone())),
            pool: Arc::new(Pool::new(driver, connection.pool_size)),
        };
        let mut idle = database.pool.idle.lock();
        idle.0.push(session);
        idle.1 += 1;
        drop(idle);
        Ok(database)
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The per-key locks shared by every instance.
    pub(crate) fn locks(&self) -> &Arc<AdvisoryLocks> {
        &self.locks
    }

    /// A table of the store.
    pub(crate) fn table(&self, tree: &str) -> Table {
        Table::new(self.clone(), tree)
    }

    /// The next value of the id sequence.
    pub(crate) fn generate_id(&self) -> Result<u64> {
        let rows = self
            .pool
            .get()?
            .query("SELECT nextval('koolicense_ids')", Vec::new())?;
        let id = rows.first().map_or(0, |r| r.get::<_, i64>(0));
        Ok(u64::try_from(id).unwrap_or(0))
    }

    /// Claims pending outbox job `key` for `lease` unless another instance holds a live claim
    /// (or is claiming it right now): `true` when this instance may send it.
    pub(crate) fn claim_job(&self, key: &[u8], lease: Duration) -> Result<bool> {
        let rows = self.pool.get()?.query(
            "UPDATE kv_km2_outbox_pending SET claimed_until = now() + make_interval(secs => $2) \
             WHERE k = (SELECT k FROM kv_km2_outbox_pending WHERE k = $1 \
                 AND (claimed_until IS NULL OR claimed_until < now()) FOR UPDATE SKIP LOCKED) \
             RETURNING k",
            vec![
                Param::Bytes(key.to_vec()),
                Param::Float(lease.as_secs_f64()),
            ],
        )?;
        Ok(!rows.is_empty())
    }

    /// Gives up the claim of job `key` (its attempt is recorded).
    pub(crate) fn release_job(&self, key: &[u8]) -> Result<()> {
        self.pool.get()?.query(
            "UPDATE kv_km2_outbox_pending SET claimed_until = NULL WHERE k = $1",
            vec![Param::Bytes(key.to_vec())],
        )?;
        Ok(())
    }

    /// Whether every table is empty (the target of a move from sled must be).
    pub(crate) fn is_empty(&self) -> Result<bool> {
        let session = self.pool.get()?;
        for tree in TREES {
            let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", table_name(tree));
            if session
                .query(sql, Vec::new())?
                .first()
                .is_some_and(|r| r.get::<_, bool>(0))
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Moves the id sequence past `id`.
    pub(crate) fn advance_ids_past(&self, id: u64) -> Result<()> {
        let id = i64::try_from(id).unwrap_or(i64::MAX).max(1);
        self.pool.get()?.query(
            "SELECT setval('koolicense_ids', greatest($1, (SELECT last_value FROM koolicense_ids)))",
            vec![Param::Int(id)],
        )?;
        Ok(())
    }
}

/// The table of a tree: `kv_` and the name with `-` as `_`.
pub(crate) fn table_name(tree: &str) -> String {
    format!("kv_{}", tree.replace('-', "_"))
}

/// Applies the migrations not recorded in `schema_migrations`, in one transaction under an
/// advisory lock (instances starting together apply each once), then checks the tables.
fn migrate(session: &Session) -> Result<()> {
    session.execute("BEGIN")?;
    let outcome = apply_migrations(session);
    match &outcome {
        Ok(()) => session.execute("COMMIT")?,
        Err(_) => session.execute("ROLLBACK")?,
    }
    outcome
}

fn apply_migrations(session: &Session) -> Result<()> {
    session.query(
        "SELECT pg_advisory_xact_lock($1)",
        vec![Param::Int(MIGRATION_LOCK)],
    )?;
    session.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, \
         name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )?;
    let applied: Vec<i64> = session
        .query("SELECT version::bigint FROM schema_migrations", Vec::new())?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(newer) = applied
        .iter()
        .find(|v| !MIGRATIONS.iter().any(|(m, _, _)| m == *v))
    {
        return Err(Error::Postgres(format!(
            "the database has migration {newer}, unknown to this program: run a newer release"
        )));
    }
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tracing::info!(version, name, "applying a database migration");
        session.execute(*sql)?;
        session.query(
            "INSERT INTO schema_migrations (version, name) VALUES ($1::bigint, $2)",
            vec![Param::Int(*version), Param::Text((*name).to_owned())],
        )?;
    }
    for tree in TREES {
        let rows = session.query(
            "SELECT to_regclass($1)::text",
            vec![Param::Text(table_name(tree))],
        )?;
        rows.first()
            .and_then(|r| r.get::<_, Option<String>>(0))
            .ok_or_else(|| {
                Error::Postgres(format!("no table for tree {tree}: a migration is missing"))
            })?;
    }
    Ok(())
}
