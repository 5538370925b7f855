//! The fjall backend: an embedded log-structured merge tree (one process, like sled), with one
//! keyspace per tree in one database directory and one journal for all of them.
//!
//! Why it is here: sled 0.34 reads every key a transaction writes and rewrites whole leaves
//! into its log, which bounds how many licenses a second it can make durable and how many bytes
//! each costs (`benches/README.md`). An LSM tree appends a group's keys to one journal and
//! sorts them into compressed tables in the background.
//!
//! * Writers (the write path's groups, and the few writes outside it) run one after another
//!   under one lock, and a transaction reads its own writes, which is the isolation sled's
//!   transactions give the store. A transaction keeps its writes in a sorted map and commits
//!   them as one atomic fjall batch: fjall's own write transactions put every key into a
//!   memtable of the transaction first and copy it into the keyspace's at the commit, which
//!   cost a skip-list insert per key for nothing here (`benches/README.md`). Commits are not
//!   synced; the group committer syncs the journal once for everybody waiting
//!   (`commit::LsmFlusher`).
//! * Ids come from a block reserved durably in a keyspace of their own, so an id is never
//!   handed out twice, across crashes included (ids may skip after a restart, as sled's do).
//! * Data blocks are LZ4-compressed at every level, and every level's filters and indexes stay
//!   in memory; memtables and the journal are bounded so that memory and disk stay
//!   proportional to the data, not to the write rate ([`options`], `benches/README.md`).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fjall::{Database as Fjall, Keyspace, KeyspaceCreateOptions, PersistMode, Slice};
use parking_lot::{Mutex, MutexGuard};
use sled::IVec;

use super::txn::{TxError, Txn};
use super::{Error, Inner, Result, Tree};

/// Ids reserved per durable write of the id block.
const ID_BLOCK: u64 = 4_096;
/// The keyspace holding the end of the reserved id block.
const IDS: &str = "koolicense-ids";
/// A memtable is sealed and written out at this size (8 MiB: 21 MB less memory after opening
/// 100,000 licenses, 7 % more disk; memory is far below its target, so 16 MiB stays).
const MEMTABLE_BYTES: u64 = 16 * 1024 * 1024;
/// The journal is kept below this by writing memtables out: fjall's smallest. The small trees
/// (the counters) never fill a memtable, so the journal stays near this size and an opening
/// replays all of it: 64 MiB instead of 128 opens 100,000 licenses in 0.3 s instead of 0.8 and
/// halves the disk right after a fill (`benches/README.md`).
const JOURNAL_BYTES: u64 = 64 * 1024 * 1024;

impl From<fjall::Error> for Error {
    fn from(e: fjall::Error) -> Self {
        match e {
            // Worded as sled words it: callers tell a held database from a broken one by it.
            fjall::Error::Locked => Error::Fjall(
                "could not acquire lock: another process (or handle) holds the database".into(),
            ),
            e => Error::Fjall(e.to_string()),
        }
    }
}

/// An open fjall database.
#[derive(Clone)]
pub(crate) struct Database {
    db: Fjall,
    /// Held by every write to a tree: one writer at a time (see the module's doc).
    writer: Writer,
    path: PathBuf,
    ids: Arc<Mutex<IdBlock>>,
    id_space: Keyspace,
}

/// The ids left in the reserved block: `next..end`.
struct IdBlock {
    next: u64,
    end: u64,
}

/// A keyspace's settings (stored with it when it is created). Beyond fjall's defaults: LZ4 at
/// every level, and the bloom filter and index blocks of every level pinned in memory (fjall
/// pins only the first levels'): a lookup by customer reads ten licenses at random, and with
/// the filters and indexes resident each costs one data block, not three. At a million
/// licenses that is 8–17 MB more memory for a p99 of 0.8 ms instead of 3.7 ms by customer
/// and 0.15 ms instead of 1.6 ms by order (`benches/README.md`). Data blocks stay 4 KiB:
/// 16 KiB saves 6 % of the disk and doubles the lookups' p99.
fn options() -> KeyspaceCreateOptions {
    use fjall::config::{CompressionPolicy, PinningPolicy};
    KeyspaceCreateOptions::default()
        .max_memtable_size(MEMTABLE_BYTES)
        .data_block_compression_policy(CompressionPolicy::all(fjall::CompressionType::Lz4))
        .filter_block_pinning_policy(PinningPolicy::all(true))
        .index_block_pinning_policy(PinningPolicy::all(true))
}

impl Database {
    /// Opens (or creates) the database at `path` with a block cache of `cache_bytes`.
    pub(crate) fn open(path: &Path, cache_bytes: u64) -> Result<Database> {
        let db = Fjall::builder(path)
            .cache_size(cache_bytes)
            .max_journaling_size(JOURNAL_BYTES)
            .open()?;
        let id_space = db.keyspace(IDS, options)?;
        let end = match id_space.get(b"end")? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| {
                Error::Fjall(format!("{IDS}: the reserved id block is not 8 bytes"))
            })?),
            None => 0,
        };
        Ok(Database {
            db,
            writer: Writer::default(),
            path: path.to_path_buf(),
            // Everything below `end` may have been handed out before a crash: start above it
            // (and above 0, which is no id: see `kv::Db::generate_id`).
            ids: Arc::new(Mutex::new(IdBlock {
                next: end.max(1),
                end,
            })),
            id_space,
        })
    }

    /// A tree by name (created if missing). fjall panics on a name that is empty or longer
    /// than 255 bytes (a damaged backup could hold one): refused here instead.
    pub(crate) fn table(&self, name: &str) -> Result<Table> {
        if name.is_empty() || name.len() > 255 {
            return Err(Error::Fjall(format!(
                "{name:?} cannot name a tree: 1 to 255 bytes"
            )));
        }
        Ok(Table {
            writer: self.writer.clone(),
            space: self.db.keyspace(name, options)?,
        })
    }

    /// A fresh id: from the reserved block, which is extended and synced when used up.
    pub(crate) fn generate_id(&self) -> Result<u64> {
        let mut ids = self.ids.lock();
        if ids.next >= ids.end {
            let end = ids.next + ID_BLOCK;
            self.id_space.insert(b"end", end.to_be_bytes())?;
            self.db.persist(PersistMode::SyncData)?;
            ids.end = end;
        }
        let id = ids.next;
        ids.next += 1;
        Ok(id)
    }

    /// Makes every later id greater than `id`: the reserved block is moved past it (synced)
    /// when it ends below.
    pub(crate) fn advance_ids_past(&self, id: u64) -> Result<()> {
        let mut ids = self.ids.lock();
        let next = id.saturating_add(1);
        if next > ids.end {
            self.id_space.insert(b"end", next.to_be_bytes())?;
            self.db.persist(PersistMode::SyncData)?;
            ids.end = next;
        }
        ids.next = ids.next.max(next);
        Ok(())
    }

    /// The names of every tree.
    pub(crate) fn tree_names(&self) -> Vec<String> {
        self.db
            .list_keyspace_names()
            .iter()
            .map(|n| n.to_string())
            .filter(|n| n != IDS)
            .collect()
    }

    /// Drops a tree, if it exists.
    pub(crate) fn drop_tree(&self, name: &str) -> Result<()> {
        if !self.db.keyspace_exists(name) {
            return Ok(());
        }
        let space = self.db.keyspace(name, options)?;
        let _writer = self.writer.lock();
        Ok(self.db.delete_keyspace(space)?)
    }

    /// Syncs the journal: every committed write is durable when it returns.
    pub(crate) fn sync(&self) -> Result<()> {
        Ok(self.db.persist(PersistMode::SyncData)?)
    }

    /// Hands every committed write to the operating system (`write(2)` of the journal's buffer),
    /// without syncing: fast, under fjall's journal lock. [`Database::active_journal`] then
    /// names the file to sync.
    pub(crate) fn write_out(&self) -> Result<()> {
        Ok(self.db.persist(PersistMode::Buffer)?)
    }

    /// The journal commits go to now: the highest-numbered `<n>.jnl` in the database
    /// directory. fjall syncs a journal (`SyncAll`) before it starts the next one, so the
    /// writes handed out before a rotation are durable already.
    pub(crate) fn active_journal(&self) -> std::io::Result<(u64, PathBuf)> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.path)? {
            names.push(entry?.file_name());
        }
        let id = newest_journal(names.iter().filter_map(|n| n.to_str())).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no journal in {}", self.path.display()),
            )
        })?;
        Ok((id, self.path.join(format!("{id}.jnl"))))
    }

    /// Runs `f` in one write transaction over `trees`; commits when it returns `Ok`, as one
    /// atomic batch, and writes nothing when it fails.
    pub(crate) fn transaction(
        &self,
        trees: &[&Tree],
        f: &dyn Fn(&mut dyn Txn) -> std::result::Result<(), TxError>,
    ) -> std::result::Result<(), TxError> {
        let spaces = super::txn::on_backend(trees, "fjall", |t| match t {
            Inner::Lsm(t) => Some(&t.space),
            _ => None,
        })?;
        let _writer = self.writer.lock();
        let mut txn = LsmTxn {
            spaces: &spaces,
            writes: vec![BTreeMap::new(); spaces.len()],
        };
        f(&mut txn)?;
        let mut batch = self.db.batch();
        for (space, writes) in spaces.iter().zip(txn.writes) {
            for (key, value) in writes {
                match value {
                    Some(value) => batch.insert(space, key, value),
                    None => batch.remove(space, key),
                }
            }
        }
        batch.commit().map_err(|e| TxError::Backend(Error::from(e)))
    }
}

/// The lock every write to a tree takes, shared by the database's tables.
#[derive(Clone, Default)]
struct Writer(Arc<Mutex<()>>);

impl Writer {
    fn lock(&self) -> MutexGuard<'_, ()> {
        self.0.lock()
    }
}

/// The number of the newest journal among a directory's file names (`<n>.jnl`, by number).
fn newest_journal<'a>(names: impl Iterator<Item = &'a str>) -> Option<u64> {
    names
        .filter_map(|n| n.strip_suffix(".jnl")?.parse::<u64>().ok())
        .max()
}

/// One tree: a keyspace.
#[derive(Clone)]
pub(crate) struct Table {
    writer: Writer,
    space: Keyspace,
}

fn ivec(slice: fjall::Slice) -> IVec {
    IVec::from(slice.as_ref())
}

impl Table {
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<IVec>> {
        Ok(self.space.get(key)?.map(ivec))
    }

    pub(crate) fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let _writer = self.writer.lock();
        Ok(self.space.insert(key, value)?)
    }

    #[cfg(test)]
    pub(crate) fn remove(&self, key: &[u8]) -> Result<()> {
        let _writer = self.writer.lock();
        Ok(self.space.remove(key)?)
    }

    /// Replaces `old` by `new` atomically (no other write runs in between).
    pub(crate) fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<std::result::Result<(), sled::CompareAndSwapError>> {
        let _writer = self.writer.lock();
        let current = self.space.get(key)?;
        if current.as_deref() != old {
            return Ok(Err(sled::CompareAndSwapError {
                current: current.map(ivec),
                proposed: new.map(IVec::from),
            }));
        }
        match new {
            Some(v) => self.space.insert(key, v)?,
            None => self.space.remove(key)?,
        }
        Ok(Ok(()))
    }

    pub(crate) fn range(&self, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> fjall::Iter {
        self.space.range::<Vec<u8>, _>((start, end))
    }

    /// Number of entries (walks the keyspace).
    pub(crate) fn len(&self) -> Result<usize> {
        Ok(self.space.len()?)
    }
}

/// The next entry of a keyspace iterator, as the store's types.
pub(crate) fn entry(guard: fjall::Guard) -> Result<(IVec, IVec)> {
    let (k, v) = guard.into_inner()?;
    Ok((ivec(k), ivec(v)))
}

/// A write transaction: its keyspaces, and what it wrote to each (a removal as `None`), which
/// its own reads see first.
struct LsmTxn<'a> {
    spaces: &'a [&'a Keyspace],
    writes: Vec<BTreeMap<Slice, Option<Slice>>>,
}

impl LsmTxn<'_> {
    fn space(&self, tree: usize) -> std::result::Result<&Keyspace, TxError> {
        self.spaces
            .get(tree)
            .copied()
            .ok_or_else(|| TxError::Abort(format!("no tree {tree} in this transaction")))
    }

    fn write(
        &mut self,
        tree: usize,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> std::result::Result<(), TxError> {
        self.space(tree)?;
        self.writes[tree].insert(Slice::from(key), value.map(Slice::from));
        Ok(())
    }
}

fn backend(e: fjall::Error) -> TxError {
    TxError::Backend(Error::from(e))
}

impl Txn for LsmTxn<'_> {
    fn get(&mut self, tree: usize, key: &[u8]) -> std::result::Result<Option<IVec>, TxError> {
        let space = self.space(tree)?;
        if let Some(written) = self.writes[tree].get(key) {
            return Ok(written.clone().map(ivec));
        }
        Ok(space.get(key).map_err(backend)?.map(ivec))
    }

    fn replace(
        &mut self,
        tree: usize,
        key: &[u8],
        value: &[u8],
    ) -> std::result::Result<Option<IVec>, TxError> {
        let old = self.get(tree, key)?;
        self.write(tree, key, Some(value))?;
        Ok(old)
    }

    fn put(&mut self, tree: usize, key: &[u8], value: &[u8]) -> std::result::Result<(), TxError> {
        self.write(tree, key, Some(value))
    }

    fn remove(&mut self, tree: usize, key: &[u8]) -> std::result::Result<(), TxError> {
        self.write(tree, key, None)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod journal_tests {
    use super::newest_journal;

    #[test]
    fn the_newest_journal_is_the_highest_number_not_the_last_name() {
        let names = [
            "9.jnl",
            "10.jnl",
            "lock",
            "keyspaces",
            "11.jnl.tmp",
            "x.jnl",
            "2.jnl",
        ];
        assert_eq!(newest_journal(names.into_iter()), Some(10));
        assert_eq!(newest_journal(["lock", "version"].into_iter()), None);
    }
}
