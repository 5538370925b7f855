//! Sessions to PostgreSQL: the runtime of the store's own that drives them ([`Driver`]; see
//! `pg` for why), one session ([`Session`]: statements with typed, owned parameters, waited
//! for from whatever thread), and the bounded pool ([`Pool`]).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::super::{Error, Result};
use super::{describe, redact};
use crate::settings::Secret;

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
    /// TLS, when the URL asks for it (`sslmode=require`).
    tls: Option<MakeRustlsConnect>,
    runtime: Arc<Runtime>,
}

/// TLS that verifies the server's certificate against the Mozilla roots and the certificates
/// in `ca_file` (a managed database's own CA).
fn tls(ca_file: Option<&Path>) -> Result<MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let bad = |e: &dyn std::fmt::Display| {
            Error::Postgres(format!("cannot read the CA file {}: {e}", path.display()))
        };
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
            roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Postgres(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Connects with `tls` and drives the session on the current runtime.
async fn open<T>(
    config: tokio_postgres::Config,
    tls: T,
) -> std::result::Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %describe(&e), "PostgreSQL session ended");
        }
    });
    Ok(client)
}

impl Driver {
    pub(super) fn new(url: &Secret, ca_file: Option<&Path>) -> Result<Driver> {
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
        let tls = match config.get_ssl_mode() {
            SslMode::Require => Some(tls(ca_file)?),
            _ => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("koolicense-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Postgres(format!("cannot start the driver's runtime: {e}")))?;
        Ok(Driver {
            config,
            tls,
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
        let (config, tls) = (self.config.clone(), self.tls.clone());
        let client = self.block(async move {
            let client = match tls {
                Some(tls) => open(config, tls).await?,
                None => open(config, NoTls).await?,
            };
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

    pub(super) fn is_closed(&self) -> bool {
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
    pub(super) fn new(driver: Driver, size: usize) -> Pool {
        Pool {
            driver,
            idle: Mutex::new((Vec::new(), 0)),
            freed: Condvar::new(),
            size: size.max(1),
        }
    }

    /// Takes a session opened elsewhere (the one that ran the migrations) as an idle one.
    pub(super) fn adopt(&self, session: Session) {
        let mut idle = self.idle.lock();
        idle.0.push(session);
        idle.1 += 1;
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
