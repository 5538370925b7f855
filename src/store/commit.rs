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
//! If a flush fails, every waiter of that generation gets
//! [`CommitError::Flush`] and the next generation tries again. Note that on
//! Linux a failed fsync may drop the dirty pages, so a later success does not
//! prove the earlier writes reached the disk: the failed callers must not be
//! acknowledged, and the operator should look at the disk.
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
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_generation: 1,
                completed: 0,
                waiting: 0,
                failures: HashMap::new(),
                closed: false,
                stopped: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            flushes: AtomicU64::new(0),
            synced_waiters: AtomicU64::new(0),
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

        let result = MutexGuard::unlocked(&mut state, || flush_once(flusher));

        state.completed = generation;
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                shared.synced_waiters.fetch_add(waiters, Ordering::Relaxed);
            }
            Err(message) => {
                tracing::error!(generation, waiters, %message, "durable flush failed");
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
mod tests {
    use super::*;
    use std::io;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc::{self, Receiver, Sender};
    use std::thread;
    use std::time::{Duration, Instant};

    const PATIENCE: Duration = Duration::from_secs(10);

    /// Any closure is a flusher (tests only).
    impl<F: Fn() -> io::Result<()>> Flusher for F {
        fn flush(&self) -> io::Result<()> {
            self()
        }
    }

    /// Makes batching deterministic: writers pile up while a flush sleeps.
    struct Slow<F>(F, Duration);

    impl<F: Flusher> Flusher for Slow<F> {
        fn flush(&self) -> io::Result<()> {
            thread::sleep(self.1);
            self.0.flush()
        }
    }

    /// Lets a test hold a flush in progress: `hold()` (called by the flusher)
    /// reports the start and blocks until the test sends on `release`.
    fn gate() -> (Receiver<()>, Sender<()>, impl Fn() + Send) {
        let (started_tx, started) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        let hold = move || {
            started_tx.send(()).ok();
            release_rx.recv_timeout(PATIENCE).ok();
        };
        (started, release, hold)
    }

    fn open_sled(dir: &Path) -> sled::Db {
        let config = sled::Config::new().path(dir);
        // Only our syncs write the log out, not sled's 500 ms timer.
        config.flush_every_ms(None).open().expect("open sled")
    }

    /// About one license record.
    static RECORD: [u8; 256] = [0x5a; 256];

    /// `threads` writers each insert `rounds` new keys, syncing after each.
    fn insert_and_sync(db: &sled::Db, commit: &GroupCommit, threads: u64, rounds: u64) {
        let writers: Vec<_> = (0..threads)
            .map(|t| {
                let (db, commit) = (db.clone(), commit.clone());
                thread::spawn(move || {
                    for i in 0..rounds {
                        let key = (t * rounds + i).to_be_bytes();
                        db.insert(key, &RECORD[..]).expect("insert");
                        commit.sync().expect("sync");
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().expect("writer");
        }
    }

    fn wait_until(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn sync_makes_a_prior_insert_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_sled(dir.path());
        let flusher = SledFlusher::open(db.clone(), dir.path()).expect("open db file");
        let commit = GroupCommit::start(flusher).expect("start");
        db.insert("order-1", "license-1").expect("insert");
        commit.sync().expect("sync");
        // What a killed process leaves behind: the files, none of sled's
        // memory. (Without the sync above this copy lacks the insert.)
        let killed = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(dir.path()).expect("read sled dir") {
            let path = entry.expect("dir entry").path();
            if path.is_file() {
                let name = path.file_name().expect("file name");
                std::fs::copy(&path, killed.path().join(name)).expect("copy");
            }
        }
        drop((commit, db));

        for path in [dir.path(), killed.path()] {
            let value = open_sled(path).get("order-1").expect("get");
            assert_eq!(value.as_deref(), Some(&b"license-1"[..]), "in {path:?}");
        }
    }

    #[test]
    fn concurrent_writers_share_flushes() {
        const THREADS: u64 = 64;
        const ROUNDS: u64 = 50;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_sled(dir.path());
        let flusher = SledFlusher::open(db.clone(), dir.path()).expect("open db file");
        let commit = GroupCommit::start(Slow(flusher, Duration::from_millis(2))).expect("start");

        insert_and_sync(&db, &commit, THREADS, ROUNDS);
        let (syncs, stats) = (THREADS * ROUNDS, commit.stats());
        assert_eq!((stats.synced_waiters, db.len() as u64), (syncs, syncs));
        assert!(stats.flushes < syncs / 2, "no batching: {stats:?}");
    }

    #[test]
    fn a_caller_registering_during_a_flush_waits_for_the_next_one() {
        // Simulated disk: a flush covers exactly the writes made before it
        // started; they count as durable once the test lets it complete.
        let written = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let (started, release, hold) = gate();
        let commit = GroupCommit::start({
            let (written, durable) = (Arc::clone(&written), Arc::clone(&durable));
            move || {
                let covered = written.load(Ordering::SeqCst);
                hold();
                durable.store(covered, Ordering::SeqCst);
                Ok(())
            }
        })
        .expect("start");
        let write_then_sync = |commit: GroupCommit| {
            let (written, durable) = (Arc::clone(&written), Arc::clone(&durable));
            thread::spawn(move || {
                let mine = written.fetch_add(1, Ordering::SeqCst) + 1;
                commit.sync().expect("sync");
                durable.load(Ordering::SeqCst) >= mine
            })
        };

        let first = write_then_sync(commit.clone());
        started.recv_timeout(PATIENCE).expect("first flush starts");
        let second = write_then_sync(commit.clone());
        wait_until("the second caller is registered", || commit.pending() == 1);
        release.send(()).expect("release first flush");
        assert!(first.join().expect("first"), "first write not covered");

        let next = started.recv_timeout(PATIENCE);
        next.expect("a second flush for the late caller");
        // Grace period for a wrongly released caller to finish; a correct
        // implementation cannot finish here, so this never fails spuriously.
        thread::sleep(Duration::from_millis(50));
        assert!(
            !second.is_finished(),
            "late caller released by running flush"
        );
        release.send(()).expect("release second flush");
        assert!(second.join().expect("second"), "late write not covered");
        let stats = commit.stats();
        assert_eq!((stats.flushes, stats.synced_waiters), (2, 2));
        drop(release); // else the final flush would wait for it
    }

    #[test]
    fn flush_failure_reaches_every_waiter_of_that_generation_and_then_recovers() {
        let calls = AtomicU64::new(0);
        let (started, release, hold) = gate();
        let commit = GroupCommit::start(move || match calls.fetch_add(1, Ordering::SeqCst) {
            0 => {
                hold();
                Ok(())
            }
            1 => Err(io::Error::other("disk on fire")),
            _ => Ok(()),
        })
        .expect("start");
        let sync_in_thread = |commit: GroupCommit| thread::spawn(move || commit.sync());

        // Hold the committer in generation 1 so a batch forms behind it.
        let holder = sync_in_thread(commit.clone());
        started.recv_timeout(PATIENCE).expect("first flush starts");
        let batch: Vec<_> = (0..8).map(|_| sync_in_thread(commit.clone())).collect();
        wait_until("the batch is registered", || commit.pending() == 8);
        release.send(()).expect("release first flush");

        assert_eq!(holder.join().expect("holder"), Ok(()));
        for waiter in batch {
            match waiter.join().expect("waiter") {
                Err(CommitError::Flush(message)) => assert!(message.contains("disk on fire")),
                other => panic!("expected the flush error, got {other:?}"),
            }
        }
        assert_eq!(commit.sync(), Ok(()), "the next generation flushes again");
        let stats = commit.stats();
        assert_eq!((stats.flushes, stats.synced_waiters), (3, 2));
    }

    #[test]
    fn a_panicking_flusher_fails_its_waiters_and_the_committer_lives_on() {
        let panicked = AtomicBool::new(false);
        let commit = GroupCommit::start(move || {
            // Panics on the first call only.
            assert!(panicked.swap(true, Ordering::SeqCst), "flusher bug");
            Ok(())
        })
        .expect("start");
        match commit.sync() {
            Err(CommitError::Flush(message)) => assert!(message.contains("flusher bug")),
            other => panic!("expected the panic as a flush error, got {other:?}"),
        }
        assert_eq!(commit.sync(), Ok(()));
    }

    #[test]
    fn sync_after_shutdown_is_closed() {
        let commit = GroupCommit::start(|| Ok(())).expect("start");
        let other_handle = commit.clone();
        commit.sync().expect("sync");
        commit.shutdown();
        assert_eq!(commit.stats().flushes, 2, "shutdown does a final flush");
        assert_eq!(commit.sync(), Err(CommitError::Closed));
        assert_eq!(other_handle.sync(), Err(CommitError::Closed));
        commit.shutdown(); // idempotent
    }

    #[test]
    fn dropping_the_last_handle_without_shutdown_stops_the_thread() {
        let owned_by_flusher = Arc::new(());
        let (finished_tx, finished) = mpsc::channel();
        thread::spawn({
            let token = Arc::clone(&owned_by_flusher);
            move || {
                let flusher = move || {
                    let _owned = &token;
                    Ok(())
                };
                let commit = GroupCommit::start(flusher).expect("start");
                let clone = commit.clone();
                commit.sync().expect("sync");
                drop(commit);
                clone.sync().expect("a remaining clone still works");
                drop(clone);
                finished_tx.send(()).ok();
            }
        });
        let finished = finished.recv_timeout(PATIENCE);
        finished.expect("dropping the last handle must not hang");
        // The flusher lives on the committer thread: dropped means joined.
        assert_eq!(
            Arc::strong_count(&owned_by_flusher),
            1,
            "thread still alive"
        );
    }

    #[test]
    #[ignore = "measurement: run in release with --ignored --nocapture"]
    fn measure_durable_inserts_per_second() {
        const INSERTS: u64 = 25_600; // divisible by every thread count below
        let fresh = || {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = sled::open(dir.path()).expect("open sled"); // default config
            let flusher = SledFlusher::open(db.clone(), dir.path()).expect("open db file");
            (dir, db, flusher)
        };
        let rate = |started: Instant| INSERTS as f64 / started.elapsed().as_secs_f64();

        let (_dir, db, flusher) = fresh();
        let started = Instant::now();
        for i in 0..INSERTS {
            db.insert(i.to_be_bytes(), &RECORD[..]).expect("insert");
            flusher.flush().expect("flush");
        }
        let rate_per_insert = rate(started);
        println!(
            "baseline, flush + fdatasync per insert, 1 thread: {rate_per_insert:.0} inserts/s"
        );

        for threads in [1, 16, 64] {
            let (_dir, db, flusher) = fresh();
            let commit = GroupCommit::start(flusher).expect("start");
            let started = Instant::now();
            insert_and_sync(&db, &commit, threads, INSERTS / threads);
            let (rate, stats) = (rate(started), commit.stats());
            let per_flush = stats.synced_waiters as f64 / stats.flushes as f64;
            let flushes = stats.flushes;
            println!(
                "group commit, {threads:>2} threads: {rate:.0} durable inserts/s, \
                 {flushes} flushes, {per_flush:.1} waiters/flush"
            );
        }
    }
}
