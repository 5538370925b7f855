//! Group commit: many concurrent writers share one durable flush of sled.
//!
//! A KooMarket callback may only be acknowledged once its effect is on disk,
//! so every write path ends in [`GroupCommit::sync`]. sled 0.34 offers no
//! usable primitive for that on its own:
//!
//! * `Db::flush_async()` deadlocked on this hardware with 16 or more
//!   concurrent callers.
//! * `Db::flush()` writes the log out with `sync_file_range(2)` on Linux. That
//!   survives a killed process, but it neither commits file metadata nor sends
//!   a cache flush to the device, so a power loss can still eat the write.
//!
//! What works is `db.flush()` followed by `sync_data()` (`fdatasync(2)`) on
//! sled's log file, the file named `db` inside the sled directory
//! ([`SledFlusher`]). One such flush costs about as much for one writer as for
//! a hundred, so a single committer thread runs it on behalf of everybody who
//! is waiting, then wakes them all at once: with 64 writers about 60-74k
//! durable inserts/s against about 5.5k/s for one fsync per insert (see
//! `measure_durable_inserts_per_second`). One thread also keeps concurrent
//! fsyncs off the device and leaves no room for the `flush_async` deadlock.
//!
//! # The generation rule
//!
//! A flush only covers writes made before it started. A caller that registers
//! while a flush is already running may have written after that flush began,
//! so it must wait for the *next* one. Hence generations, all under one mutex:
//!
//! * a caller takes `target = next_generation` and waits until
//!   `completed >= target`;
//! * the committer, woken with pending waiters, takes
//!   `gen = next_generation`, bumps `next_generation`, releases the lock,
//!   flushes, then publishes `completed = gen` with the result and wakes
//!   everyone.
//!
//! Callers arriving during the flush therefore see the bumped counter and
//! land in the next generation. The lock is never held while flushing.
//!
//! # Fail-stop
//!
//! If a flush fails, every waiter of that generation gets
//! [`CommitError::Flush`], and so does every later caller: the committer
//! never flushes again. On Linux a failed fsync may drop the dirty pages, so a
//! later success would not prove that earlier writes reached the disk; and a
//! full or broken disk retried by every writer only burns CPU. The store
//! refuses all further writes and the service exits to be restarted
//! (`Store::failure`).
//!
//! Scope: only sled's `db` file is synced. sled 0.34 writes any page that
//! serializes to more than a quarter segment (128 KiB by default) to `blobs/`
//! and never fsyncs those files, so durable values must stay well below that.

use std::collections::HashMap;
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::metrics::storage::StorageMetrics;

/// Makes everything written so far durable. Injectable so tests can slow it
/// down or make it fail.
pub(crate) trait Flusher {
    fn flush(&self) -> std::io::Result<()>;
}

/// The production flusher: sled's own flush, then `fdatasync` on its log.
pub(crate) struct SledFlusher {
    db: sled::Db,
    file: File,
}

impl SledFlusher {
    /// `dir` is the directory `db` was opened at. Its `db` file is opened
    /// read-only: Linux fsyncs the inode whatever the access mode of the fd.
    pub(crate) fn open(db: sled::Db, dir: &Path) -> std::io::Result<Self> {
        let file = File::open(dir.join("db"))?;
        // The directory entry of a freshly created `db` file is only durable
        // once the directory itself has been synced; do it once here.
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok(Self { db, file })
    }
}

impl Flusher for SledFlusher {
    fn flush(&self) -> std::io::Result<()> {
        self.db.flush()?;
        self.file.sync_data()
    }
}

/// The fjall flusher: the journal's buffer handed to the OS under fjall's lock, then
/// `fdatasync` of the active journal through a descriptor of our own, outside that lock, so
/// that the next group's transaction commits while this one syncs (fjall's own
/// `persist(SyncData)` holds the journal lock through the sync). Sound because fjall syncs a
/// journal before it rotates to the next (so the writes handed out before a rotation are
/// durable), creates the next one preallocated, synced and with its directory synced, and
/// deletes a journal only once its memtables are in synced tables.
pub(crate) struct LsmFlusher {
    db: super::kv::lsm::Database,
    /// The active journal's number and a descriptor of it.
    journal: Mutex<Option<(u64, File)>>,
}

impl LsmFlusher {
    pub(crate) fn new(db: super::kv::lsm::Database) -> Self {
        Self {
            db,
            journal: Mutex::new(None),
        }
    }
}

impl Flusher for LsmFlusher {
    fn flush(&self) -> std::io::Result<()> {
        self.db.write_out().map_err(std::io::Error::other)?;
        let mut journal = self.journal.lock();
        // A journal may be deleted between the listing and the open once it is rotated and
        // written out to tables (durable then): list again.
        for _ in 0..3 {
            let (id, path) = self.db.active_journal()?;
            if let Some((open, file)) = journal.as_ref() {
                if *open == id {
                    return file.sync_data();
                }
            }
            match File::open(&path) {
                Ok(file) => {
                    let synced = file.sync_data();
                    *journal = Some((id, file));
                    return synced;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        // Journals rotating faster than they can be listed: fall back to fjall's own sync.
        self.db.sync().map_err(std::io::Error::other)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CommitError {
    #[error("durable flush failed: {0}")]
    Flush(String),
    #[error("group commit is shut down")]
    Closed,
}

/// `flushes` counts flush attempts (failed ones included); `synced_waiters`
/// counts `sync` calls released by a successful flush.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CommitStats {
    pub(crate) flushes: u64,
    pub(crate) synced_waiters: u64,
}

/// Handle to the committer thread. Clones share it; the last one dropped
/// shuts it down.
#[derive(Clone)]
pub(crate) struct GroupCommit {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    /// The committer waits here for waiters or shutdown.
    work: Condvar,
    /// Waiters wait here for their generation to complete.
    done: Condvar,
    flushes: AtomicU64,
    synced_waiters: AtomicU64,
    metrics: StorageMetrics,
}

struct State {
    /// Generation the next flush to start will carry; new callers target it.
    next_generation: u64,
    /// Last generation whose flush finished (successfully or not).
    completed: u64,
    /// Callers registered for `next_generation`.
    waiting: u64,
    /// Failed generations whose waiters have not all picked up the error yet.
    /// Kept per generation because a waiter may wake only after later
    /// generations completed.
    failures: HashMap<u64, Failure>,
    /// No new callers accepted; the committer does its final flush and exits.
    closed: bool,
    /// The first flush failure: no flush is attempted after it.
    poisoned: Option<String>,
    /// The committer thread is gone; nobody will complete generations.
    stopped: bool,
}

struct Failure {
    message: String,
    unclaimed: u64,
}

impl State {
    fn outcome(&mut self, target: u64) -> Result<(), CommitError> {
        let Some(failure) = self.failures.get_mut(&target) else {
            return Ok(());
        };
        let error = CommitError::Flush(failure.message.clone());
        failure.unclaimed = failure.unclaimed.saturating_sub(1);
        if failure.unclaimed == 0 {
            self.failures.remove(&target);
        }
        Err(error)
    }
}

impl GroupCommit {
    /// Spawns the committer thread `koolicense-commit`.
    pub(crate) fn start(flusher: impl Flusher + Send + 'static) -> std::io::Result<GroupCommit> {
        GroupCommit::start_observed(flusher, StorageMetrics::default())
    }

    /// As `start`, timing every flush into `metrics`.
    pub(crate) fn start_observed(
        flusher: impl Flusher + Send + 'static,
        metrics: StorageMetrics,
    ) -> std::io::Result<GroupCommit> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_generation: 1,
                completed: 0,
                waiting: 0,
                failures: HashMap::new(),
                closed: false,
                stopped: false,
                poisoned: None,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            flushes: AtomicU64::new(0),
            synced_waiters: AtomicU64::new(0),
            metrics,
        });
        let thread = std::thread::Builder::new()
            .name("koolicense-commit".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    let _stop = StopOnExit(&shared);
                    run_committer(&shared, &flusher);
                }
            })?;
        Ok(GroupCommit {
            handle: Arc::new(Handle {
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Blocks until every write this thread made before calling `sync` is
    /// durable.
    pub(crate) fn sync(&self) -> Result<(), CommitError> {
        let shared = &self.handle.shared;
        let mut state = shared.state.lock();
        if let Some(reason) = &state.poisoned {
            return Err(CommitError::Flush(reason.clone()));
        }
        if state.closed {
            return Err(CommitError::Closed);
        }
        let target = state.next_generation;
        state.waiting += 1;
        shared.work.notify_one();
        loop {
            if state.completed >= target {
                return state.outcome(target);
            }
            if state.stopped {
                return Err(CommitError::Closed);
            }
            shared.done.wait(&mut state);
        }
    }

    pub(crate) fn stats(&self) -> CommitStats {
        let shared = &self.handle.shared;
        CommitStats {
            flushes: shared.flushes.load(Ordering::Relaxed),
            synced_waiters: shared.synced_waiters.load(Ordering::Relaxed),
        }
    }

    /// Refuses new callers, lets the committer serve everyone already waiting
    /// with one final flush, and joins it. Idempotent; concurrent callers all
    /// return only after the thread is gone.
    pub(crate) fn shutdown(&self) {
        self.handle.shutdown();
    }

    #[cfg(test)]
    fn pending(&self) -> u64 {
        self.handle.shared.state.lock().waiting
    }
}

impl Handle {
    fn shutdown(&self) {
        // Held across the join so a second caller waits for the first.
        let mut thread = self.thread.lock();
        {
            let mut state = self.shared.state.lock();
            state.closed = true;
            self.shared.work.notify_one();
        }
        let Some(thread) = thread.take() else { return };
        if thread.thread().id() == std::thread::current().id() {
            return; // a flusher holding the last handle; cannot join itself
        }
        if thread.join().is_err() {
            tracing::error!("group commit thread panicked");
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Releases every waiter with `Closed` however the committer exits.
struct StopOnExit<'a>(&'a Shared);

impl Drop for StopOnExit<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock();
        state.closed = true;
        state.stopped = true;
        self.0.done.notify_all();
    }
}

fn run_committer(shared: &Shared, flusher: &dyn Flusher) {
    let mut state = shared.state.lock();
    loop {
        while state.waiting == 0 && !state.closed {
            shared.work.wait(&mut state);
        }
        let last = state.closed;
        let generation = state.next_generation;
        state.next_generation += 1;
        let waiters = std::mem::take(&mut state.waiting);

        let poisoned = state.poisoned.clone();
        let result = MutexGuard::unlocked(&mut state, || {
            if let Some(reason) = poisoned {
                return Err(reason);
            }
            let started = std::time::Instant::now();
            let result = flush_once(flusher);
            shared
                .metrics
                .flush_seconds
                .observe(started.elapsed().as_secs_f64());
            if result.is_err() {
                shared.metrics.flush_failures.inc();
            }
            result
        });

        state.completed = generation;
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                shared.synced_waiters.fetch_add(waiters, Ordering::Relaxed);
            }
            Err(message) => {
                if state.poisoned.is_none() {
                    tracing::error!(generation, waiters, %message, "durable flush failed");
                    state.poisoned = Some(message.clone());
                }
                if waiters > 0 {
                    let unclaimed = waiters;
                    state
                        .failures
                        .insert(generation, Failure { message, unclaimed });
                }
            }
        }
        shared.done.notify_all();
        if last {
            return;
        }
    }
}

/// A panicking flusher fails its generation instead of killing the committer.
fn flush_once(flusher: &dyn Flusher) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| flusher.flush())) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(panic) => Err(match panic.downcast_ref::<&str>() {
            Some(message) => format!("flusher panicked: {message}"),
            None => match panic.downcast_ref::<String>() {
                Some(message) => format!("flusher panicked: {message}"),
                None => "flusher panicked".to_owned(),
            },
        }),
    }
}

#[cfg(test)]
mod tests;
