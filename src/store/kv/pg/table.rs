//! One tree as a table: reads, the single-row writes outside the write path (a token's last
//! use, the nonce cache's compare-and-swap), lazy ordered scans, and the write path's
//! transaction.
//!
//! A transaction keeps what it writes in memory (the last value per key wins, as it would in
//! sled) and sends it at the end: per table one `INSERT ... ON CONFLICT DO UPDATE` over arrays
//! and one `DELETE ... = ANY`, so a group of a hundred batches costs a handful of round trips.
//! What it reads it locks (`FOR UPDATE`): the revocation sequence and the licenses it replaces
//! are read-modify-written safely by several instances at once. A deadlock or serialisation
//! failure (nothing committed) runs the transaction again.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;

use sled::IVec;

use super::super::{Error, Inner, Result, Tree, TxError, Txn};
use super::{describe, table_name, transient, Database, Param, Session};

/// Rows the first page of a scan reads; later pages read [`PAGE`].
const FIRST_PAGE: i64 = 64;
const PAGE: i64 = 1_000;
/// The table whose entries are written once (see `PgTxn::flush`).
const IDEMPOTENCY: &str = "kv_idempotency";
/// Runs of a transaction that met a deadlock or a serialisation failure.
const ATTEMPTS: usize = 5;

fn bytes(b: &[u8]) -> Param {
    Param::Bytes(b.to_vec())
}

/// One tree's table.
#[derive(Clone)]
pub(crate) struct Table {
    db: Database,
    name: String,
}

impl Table {
    pub(super) fn new(db: Database, tree: &str) -> Table {
        Table {
            db,
            name: table_name(tree),
        }
    }

    fn query(&self, sql: String, params: Vec<Param>) -> Result<Vec<tokio_postgres::Row>> {
        self.db.pool().get()?.query(sql, params)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<IVec>> {
        let rows = self.query(
            format!("SELECT v FROM {} WHERE k = $1", self.name),
            vec![bytes(key)],
        )?;
        Ok(rows.first().map(|r| IVec::from(r.get::<_, &[u8]>(0))))
    }

    /// Puts one entry outside the write path, as sled's `insert` does: not waiting for the disk
    /// (its own commit is asynchronous: `synchronous_commit` off for this statement only). For
    /// advisory records (a token's last use) on the request path.
    pub(crate) fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let sql = format!(
            "WITH nowait AS (SELECT set_config('synchronous_commit', 'off', true)) \
             INSERT INTO {} (k, v) SELECT $1, $2 FROM nowait \
             ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            self.name
        );
        self.query(sql, vec![bytes(key), bytes(value)])?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn remove(&self, key: &[u8]) -> Result<()> {
        self.query(
            format!("DELETE FROM {} WHERE k = $1", self.name),
            vec![bytes(key)],
        )?;
        Ok(())
    }

    pub(crate) fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<std::result::Result<(), sled::CompareAndSwapError>> {
        let t = &self.name;
        let swapped = match (old, new) {
            (None, Some(new)) => self.query(
                format!(
                    "INSERT INTO {t} (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING RETURNING k"
                ),
                vec![bytes(key), bytes(new)],
            )?,
            (Some(old), Some(new)) => self.query(
                format!("UPDATE {t} SET v = $3 WHERE k = $1 AND v = $2 RETURNING k"),
                vec![bytes(key), bytes(old), bytes(new)],
            )?,
            (Some(old), None) => self.query(
                format!("DELETE FROM {t} WHERE k = $1 AND v = $2 RETURNING k"),
                vec![bytes(key), bytes(old)],
            )?,
            (None, None) => Vec::new(),
        };
        if !swapped.is_empty() {
            return Ok(Ok(()));
        }
        let current = self.get(key)?;
        if old.is_none() && new.is_none() && current.is_none() {
            return Ok(Ok(()));
        }
        Ok(Err(sled::CompareAndSwapError {
            current,
            proposed: new.map(IVec::from),
        }))
    }

    /// Entries in `start..end`, read a page at a time.
    pub(crate) fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Cursor {
        Cursor {
            table: self.clone(),
            start,
            end,
            reverse: false,
            buffer: VecDeque::new(),
            done: false,
            page: FIRST_PAGE,
        }
    }

    pub(crate) fn len(&self) -> Result<usize> {
        let rows = self.query(format!("SELECT count(*) FROM {}", self.name), Vec::new())?;
        Ok(usize::try_from(rows.first().map_or(0, |r| r.get::<_, i64>(0))).unwrap_or(0))
    }
}

/// A lazy scan of a table, in key order or reversed.
pub(crate) struct Cursor {
    table: Table,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    reverse: bool,
    buffer: VecDeque<(IVec, IVec)>,
    done: bool,
    page: i64,
}

impl Cursor {
    pub(crate) fn rev(mut self) -> Cursor {
        self.reverse = !self.reverse;
        self
    }

    fn fetch(&mut self) -> Result<()> {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        for (bound, inclusive, exclusive) in [(&self.start, ">=", ">"), (&self.end, "<=", "<")] {
            let (op, key) = match bound {
                Bound::Included(k) => (inclusive, k),
                Bound::Excluded(k) => (exclusive, k),
                Bound::Unbounded => continue,
            };
            params.push(Param::Bytes(key.clone()));
            conditions.push(format!("k {op} ${}", params.len()));
        }
        let filter = match conditions.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", conditions.join(" AND ")),
        };
        let order = if self.reverse { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT k, v FROM {} {filter} ORDER BY k {order} LIMIT {}",
            self.table.name, self.page
        );
        let rows = self.table.query(sql, params)?;
        self.done = (rows.len() as i64) < self.page;
        self.page = PAGE;
        for row in rows {
            let (k, v): (&[u8], &[u8]) = (row.get(0), row.get(1));
            self.buffer.push_back((IVec::from(k), IVec::from(v)));
        }
        if let Some((last, _)) = self.buffer.back() {
            let after = Bound::Excluded(last.to_vec());
            match self.reverse {
                false => self.start = after,
                true => self.end = after,
            }
        }
        Ok(())
    }
}

impl Iterator for Cursor {
    type Item = Result<(IVec, IVec)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() && !self.done {
            if let Err(e) = self.fetch() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}

/// The write path's transaction on PostgreSQL (see the module documentation).
struct PgTxn<'t> {
    session: &'t Session,
    tables: &'t [&'t Table],
    /// What this transaction wrote: (tree, key) → value, `None` removed.
    written: BTreeMap<(usize, Vec<u8>), Option<Vec<u8>>>,
    /// What it read (and locked).
    read: HashMap<(usize, Vec<u8>), Option<IVec>>,
    /// The error was a deadlock or serialisation failure.
    retry: bool,
}

impl PgTxn<'_> {
    /// Runs a statement of the transaction, noting whether its failure is worth a rerun.
    fn run(
        &mut self,
        sql: String,
        params: Vec<Param>,
    ) -> std::result::Result<Vec<tokio_postgres::Row>, TxError> {
        match self
            .session
            .try_query(sql, params)
            .map_err(TxError::Backend)?
        {
            Ok(rows) => Ok(rows),
            Err(e) => {
                self.retry |= transient(&e);
                Err(TxError::Backend(Error::Postgres(describe(&e))))
            }
        }
    }

    fn lock_rows(&mut self, tree: usize, keys: &[&[u8]]) -> std::result::Result<(), TxError> {
        let keys: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| !self.read.contains_key(&(tree, k.to_vec())))
            .map(|k| k.to_vec())
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT k, v FROM {} WHERE k = ANY($1) ORDER BY k FOR UPDATE",
            self.tables[tree].name
        );
        let rows = self.run(sql, vec![Param::BytesArray(keys.clone())])?;
        for key in keys {
            self.read.insert((tree, key), None);
        }
        for row in rows {
            let (k, v): (&[u8], &[u8]) = (row.get(0), row.get(1));
            self.read.insert((tree, k.to_vec()), Some(IVec::from(v)));
        }
        Ok(())
    }

    /// Sends what the transaction wrote, table by table.
    fn flush(&mut self) -> std::result::Result<(), TxError> {
        type Changes = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>);
        let mut per_tree: BTreeMap<usize, Changes> = BTreeMap::new();
        for ((tree, key), value) in std::mem::take(&mut self.written) {
            let (keys, values, removed) = per_tree.entry(tree).or_default();
            match value {
                Some(value) => {
                    keys.push(key);
                    values.push(value);
                }
                None => removed.push(key),
            }
        }
        for (tree, (keys, values, removed)) in per_tree {
            let name = self.tables[tree].name.clone();
            if !keys.is_empty() {
                let count = keys.len();
                // An idempotency entry is written once: one holding another answer means
                // another instance applied the same call (its lock failed to exclude this
                // one), so the transaction gives up rather than overwrite it.
                let once = name == IDEMPOTENCY;
                let guard = match once {
                    true => format!(" WHERE {name}.v = excluded.v RETURNING k"),
                    false => String::new(),
                };
                let sql = format!(
                    "INSERT INTO {name} (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                     ON CONFLICT (k) DO UPDATE SET v = excluded.v{guard}"
                );
                let rows = self.run(
                    sql,
                    vec![Param::BytesArray(keys), Param::BytesArray(values)],
                )?;
                if once && rows.len() != count {
                    return Err(TxError::Abort(
                        "an idempotency entry already holds another answer".into(),
                    ));
                }
            }
            if !removed.is_empty() {
                let sql = format!("DELETE FROM {name} WHERE k = ANY($1)");
                self.run(sql, vec![Param::BytesArray(removed)])?;
            }
        }
        Ok(())
    }
}

impl Txn for PgTxn<'_> {
    fn get(&mut self, tree: usize, key: &[u8]) -> std::result::Result<Option<IVec>, TxError> {
        if let Some(value) = self.written.get(&(tree, key.to_vec())) {
            return Ok(value.as_deref().map(IVec::from));
        }
        self.lock_rows(tree, &[key])?;
        Ok(self.read.get(&(tree, key.to_vec())).cloned().flatten())
    }

    fn replace(
        &mut self,
        tree: usize,
        key: &[u8],
        value: &[u8],
    ) -> std::result::Result<Option<IVec>, TxError> {
        let old = self.get(tree, key)?;
        self.put(tree, key, value)?;
        Ok(old)
    }

    fn put(&mut self, tree: usize, key: &[u8], value: &[u8]) -> std::result::Result<(), TxError> {
        self.written
            .insert((tree, key.to_vec()), Some(value.to_vec()));
        Ok(())
    }

    fn remove(&mut self, tree: usize, key: &[u8]) -> std::result::Result<(), TxError> {
        self.written.insert((tree, key.to_vec()), None);
        Ok(())
    }

    fn prefetch(&mut self, tree: usize, keys: &[&[u8]]) -> std::result::Result<(), TxError> {
        self.lock_rows(tree, keys)
    }
}

impl Database {
    /// Runs `f` in one transaction over the tables of `trees` and commits it; a commit that
    /// returned is durable (`synchronous_commit = on`).
    pub(crate) fn transaction(
        &self,
        trees: &[&Tree],
        f: &dyn Fn(&mut dyn Txn) -> std::result::Result<(), TxError>,
    ) -> std::result::Result<(), TxError> {
        let tables = super::super::txn::on_backend(trees, "PostgreSQL", |t| match t {
            Inner::Postgres(t) => Some(t),
            _ => None,
        })?;
        let session = self.pool().get().map_err(TxError::Backend)?;
        for attempt in 1..=ATTEMPTS {
            session.execute("BEGIN").map_err(TxError::Backend)?;
            let mut txn = PgTxn {
                session: &session,
                tables: &tables,
                written: BTreeMap::new(),
                read: HashMap::new(),
                retry: false,
            };
            let outcome = f(&mut txn).and_then(|()| txn.flush());
            let retry = txn.retry;
            match outcome {
                Ok(()) => {
                    // An error here leaves the outcome unknown: the store fails, nothing is
                    // acknowledged, and the session is not reused.
                    return match session.execute("COMMIT") {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            session.discard();
                            Err(TxError::Backend(e))
                        }
                    };
                }
                Err(_) if retry && attempt < ATTEMPTS => {
                    tracing::warn!(
                        attempt,
                        "PostgreSQL transaction met a deadlock; running it again"
                    );
                    session.execute("ROLLBACK").map_err(TxError::Backend)?;
                }
                Err(e) => {
                    session.execute("ROLLBACK").map_err(TxError::Backend)?;
                    return Err(e);
                }
            }
        }
        Err(TxError::Abort(
            "a transaction met a deadlock on every run".into(),
        ))
    }
}
