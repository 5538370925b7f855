//! Online backup and offline restore of the whole database.
//!
//! A snapshot is taken while multi-tree transactions are held off (the store's write gate), so it
//! holds every write applied before it started — everything acknowledged, since a write is
//! acknowledged only after it was applied and synced — and never half a batch. Single-key writes
//! (token last-use times, the nonce cache) are atomic on their own and do not wait. The format:
//!
//! ```text
//! "KOOLICENSE-BACKUP\0"  u32 format  u32 schema  u64 next id  i64 created (unix ms)
//! { 'T' u32 len name  { 'E' u32 len key  u32 len value }* }*
//! 'Z' u64 entries
//! SHA-256 of every byte before it (32 bytes)
//! ```
//!
//! All integers big-endian. "next id" is the database's id generator at the snapshot; a restore
//! advances the new database's generator past it so audit and job ids are never reused.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::failure::Failure;
use super::{kv, Result, Store, StoreError, FJALL_DIR, SCHEMA};

const MAGIC: &[u8] = b"KOOLICENSE-BACKUP\0";
const FORMAT: u32 = 1;
/// Size of the checksum trailer.
const TRAILER: u64 = 32;
/// Longest key or value accepted when reading (sled values of this service are far smaller).
const MAX_ITEM: u32 = 64 * 1024 * 1024;
/// Page cache of the database a restore writes.
const RESTORE_CACHE_MB: u64 = 64;

/// What a snapshot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Trees.
    pub(crate) trees: u64,
    /// Key-value entries.
    pub(crate) entries: u64,
    /// Hex SHA-256 of the snapshot (its trailer).
    pub(crate) sha256: String,
    /// When it was taken (unix ms).
    pub(crate) created_ms: i64,
}

/// A writer that hashes what passes through.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn item(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "item over 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(bytes)
}

impl Store {
    /// Writes a consistent snapshot to `out` (see the module documentation).
    pub(crate) fn snapshot(&self, out: impl Write, created_ms: i64) -> Result<Summary> {
        let io = |e: io::Error| StoreError::Io {
            path: "backup".into(),
            source: e,
        };
        let mut out = Hashing {
            inner: BufWriter::with_capacity(256 * 1024, out),
            hash: Sha256::new(),
        };
        let _quiet = self.gate.write();
        let next_id = self.db.generate_id()?;
        out.write_all(MAGIC).map_err(io)?;
        for word in [FORMAT, SCHEMA] {
            out.write_all(&word.to_be_bytes()).map_err(io)?;
        }
        out.write_all(&next_id.to_be_bytes()).map_err(io)?;
        out.write_all(&created_ms.to_be_bytes()).map_err(io)?;
        let (mut trees, mut entries) = (0u64, 0u64);
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            out.write_all(b"T").map_err(io)?;
            item(&mut out, name.as_bytes()).map_err(io)?;
            trees += 1;
            for entry in tree.iter() {
                let (key, value) = entry?;
                out.write_all(b"E").map_err(io)?;
                item(&mut out, &key).map_err(io)?;
                item(&mut out, &value).map_err(io)?;
                entries += 1;
            }
        }
        drop(_quiet);
        out.write_all(b"Z").map_err(io)?;
        out.write_all(&entries.to_be_bytes()).map_err(io)?;
        let digest = out.hash.finalize_reset();
        out.inner.write_all(&digest).map_err(io)?;
        out.inner.flush().map_err(io)?;
        Ok(Summary {
            trees,
            entries,
            sha256: hex::encode(digest),
            created_ms,
        })
    }
}

/// One parsed record of a snapshot.
enum Record {
    Tree(Vec<u8>),
    Entry(Vec<u8>, Vec<u8>),
}

/// Reads a snapshot file front to back, checking its structure; the checksum is checked when
/// the end is reached.
struct SnapshotReader {
    input: BufReader<io::Take<File>>,
    hash: Sha256,
    trailer: [u8; 32],
    next_id: u64,
    created_ms: i64,
    entries: u64,
    trees: u64,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

impl SnapshotReader {
    fn open(path: &Path) -> io::Result<SnapshotReader> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        let header = MAGIC.len() as u64 + 4 + 4 + 8 + 8;
        if len < header + 9 + TRAILER {
            return Err(invalid("too short to be a koolicense backup"));
        }
        let mut trailer = [0u8; 32];
        io::Seek::seek(&mut file, io::SeekFrom::Start(len - TRAILER))?;
        file.read_exact(&mut trailer)?;
        io::Seek::seek(&mut file, io::SeekFrom::Start(0))?;
        let mut reader = SnapshotReader {
            input: BufReader::with_capacity(256 * 1024, file.take(len - TRAILER)),
            hash: Sha256::new(),
            trailer,
            next_id: 0,
            created_ms: 0,
            entries: 0,
            trees: 0,
        };
        let mut magic = vec![0u8; MAGIC.len()];
        reader.read(&mut magic)?;
        if magic != MAGIC {
            return Err(invalid("not a koolicense backup"));
        }
        let format = reader.u32()?;
        let schema = reader.u32()?;
        if format != FORMAT || schema != SCHEMA {
            return Err(invalid(format!(
                "backup format {format} / schema {schema}; this version reads format {FORMAT} / schema {SCHEMA}"
            )));
        }
        reader.next_id = reader.u64()?;
        reader.created_ms = reader.u64()? as i64;
        Ok(reader)
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.input.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => invalid("the backup is truncated"),
            _ => e,
        })?;
        self.hash.update(&*buf);
        Ok(())
    }

    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.read(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    fn bytes(&mut self) -> io::Result<Vec<u8>> {
        let len = self.u32()?;
        if len > MAX_ITEM {
            return Err(invalid("an item is implausibly large"));
        }
        let mut buf = vec![0u8; len as usize];
        self.read(&mut buf)?;
        Ok(buf)
    }

    /// The next record; `None` after the end marker, once count and checksum matched.
    fn next(&mut self) -> io::Result<Option<Record>> {
        let mut tag = [0u8; 1];
        self.read(&mut tag)?;
        match &tag {
            b"T" => {
                self.trees += 1;
                Ok(Some(Record::Tree(self.bytes()?)))
            }
            b"E" if self.trees > 0 => {
                self.entries += 1;
                Ok(Some(Record::Entry(self.bytes()?, self.bytes()?)))
            }
            b"Z" => {
                let count = self.u64()?;
                if count != self.entries {
                    return Err(invalid("the entry count does not match"));
                }
                let mut rest = [0u8; 1];
                if self.input.read(&mut rest)? != 0 {
                    return Err(invalid("data after the end marker"));
                }
                let digest = std::mem::take(&mut self.hash).finalize();
                if digest.as_slice() != self.trailer {
                    return Err(invalid(
                        "the checksum does not match: the backup is damaged",
                    ));
                }
                Ok(None)
            }
            _ => Err(invalid("unknown record")),
        }
    }

    fn summary(&self) -> Summary {
        Summary {
            trees: self.trees,
            entries: self.entries,
            sha256: hex::encode(self.trailer),
            created_ms: self.created_ms,
        }
    }
}

/// Checks a snapshot file completely (structure, count, checksum).
pub(crate) fn verify(path: &Path) -> io::Result<Summary> {
    let mut reader = SnapshotReader::open(path)?;
    while reader.next()?.is_some() {}
    Ok(reader.summary())
}

/// The embedded database a restore writes (PostgreSQL is restored through sled and
/// `koolicense migrate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// sled, in `<data_dir>/db/v<SCHEMA>`.
    Sled,
    /// fjall, in `<data_dir>/fjall`.
    Fjall,
}

impl Target {
    /// Where the database lives under `data_dir`.
    fn dir(self, data_dir: &Path) -> PathBuf {
        match self {
            Target::Sled => data_dir.join("db").join(format!("v{SCHEMA}")),
            Target::Fjall => data_dir.join(FJALL_DIR),
        }
    }

    fn open(self, dir: &Path) -> Result<kv::Db> {
        let failure = Arc::new(Failure::default());
        Ok(match self {
            Target::Sled => kv::Db::open_sled(dir, RESTORE_CACHE_MB, failure)?,
            Target::Fjall => kv::Db::open_fjall(dir, RESTORE_CACHE_MB, failure)?,
        })
    }
}

/// Restores a verified snapshot into `data_dir`, which must not exist or be empty, as a
/// `target` database. A snapshot of either embedded backend (or of PostgreSQL) restores into
/// either: the format holds trees of keys and values, not a backend's files.
pub(crate) fn restore(path: &Path, data_dir: &Path, target: Target) -> Result<Summary> {
    let from = io_error(path);
    verify(path).map_err(from)?;
    if data_dir.exists() {
        let mut entries = std::fs::read_dir(data_dir).map_err(io_error(data_dir))?;
        if entries.next().is_some() {
            return Err(StoreError::Io {
                path: data_dir.to_path_buf(),
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the directory is not empty; restore only into a new or empty directory",
                ),
            });
        }
    }
    let db_dir = target.dir(data_dir);
    std::fs::create_dir_all(&db_dir).map_err(io_error(&db_dir))?;
    let db = target.open(&db_dir)?;
    let mut reader = SnapshotReader::open(path).map_err(io_error(path))?;
    let mut tree = None;
    while let Some(record) = reader.next().map_err(io_error(path))? {
        match record {
            Record::Tree(name) => {
                let name = String::from_utf8(name).map_err(|_| {
                    io_error(path)(invalid("a tree name is not UTF-8: the backup is damaged"))
                })?;
                tree = Some(db.open_tree(&name)?);
            }
            Record::Entry(key, value) => {
                // The reader yields no entry before the first tree.
                if let Some(t) = &tree {
                    t.insert(key, value)?;
                }
            }
        }
    }
    db.advance_ids_past(reader.next_id)?;
    db.flush()?;
    if target == Target::Sled {
        // sled's flush leaves its log unsynced (see `commit`): sync it.
        File::open(db_dir.join("db"))
            .and_then(|f| f.sync_all())
            .map_err(io_error(&db_dir))?;
    }
    Ok(reader.summary())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens the store of `target` under `data_dir`. sled's background threads may hold the
    /// lock of a database a moment after its last handle is dropped (as after a restore):
    /// waits for it, bounded.
    fn open(target: Target, data_dir: &Path) -> Store {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let opened = match target {
                Target::Sled => Store::open(data_dir, 8),
                Target::Fjall => Store::open_fjall(data_dir, 8, kv::ReadFault::default()),
            };
            match opened {
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                result => return result.expect("store"),
            }
        }
    }

    fn store_with_one_entry(target: Target) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(target, &dir.path().join("a"));
        store
            .idempotency
            .insert(b"k", b"v".as_slice())
            .expect("insert");
        (dir, store)
    }

    #[test]
    fn a_snapshot_of_either_embedded_backend_restores_into_either_and_keeps_ids_ahead() {
        for (from, to) in [
            (Target::Sled, Target::Sled),
            (Target::Sled, Target::Fjall),
            (Target::Fjall, Target::Fjall),
            (Target::Fjall, Target::Sled),
        ] {
            let case = format!("{from:?} into {to:?}");
            let (dir, store) = store_with_one_entry(from);
            let issued = (0..3)
                .map(|_| store.db.generate_id().expect("id"))
                .max()
                .expect("ids");
            let file = dir.path().join("backup");
            let summary = store
                .snapshot(File::create(&file).expect("create"), 1)
                .expect("snapshot");
            assert_eq!(verify(&file).expect("verifies"), summary);
            let target = dir.path().join("b");
            assert_eq!(restore(&file, &target, to).expect("restore"), summary);
            let restored = open(to, &target);
            assert_eq!(
                restored.idempotency("k").expect("read"),
                Some(b"v".to_vec()),
                "{case}"
            );
            assert!(restored.db.generate_id().expect("id") > issued, "{case}");
            assert!(
                restore(&file, &target, to).is_err(),
                "{case}: a non-empty directory is refused"
            );
        }
    }

    #[test]
    fn a_damaged_or_truncated_snapshot_is_refused() {
        let (dir, store) = store_with_one_entry(Target::Sled);
        let file = dir.path().join("backup");
        store
            .snapshot(File::create(&file).expect("create"), 1)
            .expect("snapshot");
        let good = std::fs::read(&file).expect("read");
        for (name, bad) in [
            ("flipped", {
                let mut b = good.clone();
                let i = b.len() / 2;
                b[i] ^= 1;
                b
            }),
            ("truncated", good[..good.len() - 40].to_vec()),
        ] {
            std::fs::write(&file, &bad).expect("write");
            assert!(verify(&file).is_err(), "{name}");
            for target in [Target::Sled, Target::Fjall] {
                let into = dir.path().join(format!("{name}-{target:?}"));
                assert!(restore(&file, &into, target).is_err(), "{name}");
                assert!(!into.exists(), "{name}: nothing is written");
            }
        }
    }
}
