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

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::{Error, Result, TREES};
use crate::settings::Secret;

mod locks;
mod session;
mod table;
#[cfg(test)]
mod tests;

pub(crate) use locks::{AdvisoryGuard, AdvisoryLocks};
pub(crate) use session::{Driver, Param, Pool, Session};
pub(crate) use table::{Cursor, Table};

/// The embedded migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "trees", include_str!("pg/migrations/0001_trees.sql"))];

/// Key of the advisory lock the migrations run under.
const MIGRATION_LOCK: i64 = 0x6b6f_6f6c_6d69_6772;

/// Where the database is and how many connections to use.
#[derive(Clone)]
pub(crate) struct Connection {
    /// `postgres://user:password@host/db` or `host=... dbname=...`.
    pub(crate) url: Secret,
    /// Connections for queries and writes.
    pub(crate) pool_size: usize,
    /// Extra CA certificates (PEM) for `sslmode=require`.
    pub(crate) ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &redact(self.url.expose()))
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
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

/// The database (cheap to clone).
#[derive(Clone)]
pub(crate) struct Database {
    pool: Arc<Pool>,
    locks: Arc<AdvisoryLocks>,
}

impl Database {
    /// Connects, applies the migrations not applied yet and checks every tree's table.
    pub(crate) fn open(connection: &Connection) -> Result<Database> {
        let driver = Driver::new(&connection.url, connection.ca_file.as_deref())?;
        let session = driver.connect()?;
        migrate(&session)?;
        let database = Database {
            locks: Arc::new(AdvisoryLocks::new(driver.clone())),
            pool: Arc::new(Pool::new(driver, connection.pool_size)),
        };
        database.pool.adopt(session);
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
