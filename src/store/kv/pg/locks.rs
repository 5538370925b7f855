//! Per-key locks across instances: a session-level advisory lock on a key derived from the lock
//! key's text (the first 8 bytes of its SHA-256: the same in every instance and every run),
//! held for the guard's lifetime on a dedicated lock session.
//!
//! The lock is taken with `pg_try_advisory_lock` and retried with a short backoff rather than
//! with the blocking `pg_advisory_lock`: a blocked call holds its session, so blocking locks
//! would need one session per guard held, and a guard is held across a whole group commit by
//! every writer in it (dozens at once). A few sessions ([`SESSIONS`]) serve every guard
//! instead, a key always on the same one, so it is unlocked where it was locked. Contention
//! between instances (the same order at both at once) is rare; the backoff only costs then.
//!
//! A lock session that fails fails the store: its locks may be gone, so nothing written after
//! it would be known to be exclusive.

use std::time::Duration;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::{Driver, Param, Session};
use crate::store::failure::Failure;

/// Sessions that hold the advisory locks.
const SESSIONS: usize = 4;
/// Longest pause between two attempts at a lock another instance holds.
const MAX_BACKOFF: Duration = Duration::from_millis(20);

/// The lock sessions.
pub(crate) struct AdvisoryLocks {
    driver: Driver,
    sessions: Vec<Mutex<Option<Session>>>,
}

/// A held advisory lock, released when dropped.
pub(crate) struct AdvisoryGuard<'a> {
    locks: &'a AdvisoryLocks,
    key: Option<i64>,
    failure: &'a Failure,
}

/// The advisory-lock key of a lock key's text.
pub(crate) fn key64(text: &str) -> i64 {
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl AdvisoryLocks {
    pub(crate) fn new(driver: Driver) -> AdvisoryLocks {
        AdvisoryLocks {
            driver,
            sessions: (0..SESSIONS).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Runs `sql` with `key` on the key's session (connected on first use).
    fn run(&self, sql: &str, key: i64) -> Result<bool, String> {
        let index = (key.unsigned_abs() % SESSIONS as u64) as usize;
        let mut slot = self.sessions[index].lock();
        if slot.is_none() {
            *slot = Some(self.driver.connect().map_err(|e| e.to_string())?);
        }
        let session = slot.as_ref().ok_or("no lock session")?;
        match session.query(sql, vec![Param::Int(key)]) {
            Ok(rows) => Ok(rows.first().is_some_and(|r| r.get::<_, bool>(0))),
            Err(e) => {
                // Its locks went with it: never reuse the session.
                *slot = None;
                Err(e.to_string())
            }
        }
    }

    /// Locks `text` across instances until the guard is dropped. On a backend failure the
    /// store is failed (nothing is acknowledged any more) and the guard holds nothing.
    pub(crate) fn lock<'a>(&'a self, text: &str, failure: &'a Failure) -> AdvisoryGuard<'a> {
        let key = key64(text);
        let mut backoff = Duration::from_micros(200);
        while failure.reason().is_none() {
            match self.run("SELECT pg_try_advisory_lock($1)", key) {
                Ok(true) => {
                    return AdvisoryGuard {
                        locks: self,
                        key: Some(key),
                        failure,
                    }
                }
                Ok(false) => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => failure.set(format!("database error: advisory lock: {e}")),
            }
        }
        AdvisoryGuard {
            locks: self,
            key: None,
            failure,
        }
    }
}

impl Drop for AdvisoryGuard<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        match self.locks.run("SELECT pg_advisory_unlock($1)", key) {
            Ok(true) => {}
            Ok(false) => self
                .failure
                .set("database error: an advisory lock was lost while held".into()),
            Err(e) => self
                .failure
                .set(format!("database error: advisory unlock: {e}")),
        }
    }
}
