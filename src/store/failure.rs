//! Fail-stop: the first failed flush, fsync or sled write marks the store failed for good. From
//! then on nothing is written and nothing read for a replay is answered (the caller gets
//! [`super::StoreError::Failed`]), so nothing is acknowledged that might not be on disk; the
//! service reports the reason at `/readyz` and exits to be restarted (see `startup`).

use std::sync::OnceLock;

use parking_lot::{Condvar, Mutex};

/// The failure record shared by every clone of a store.
pub(crate) struct Failure {
    reason: OnceLock<String>,
    woken: Mutex<bool>,
    wake: Condvar,
}

impl Default for Failure {
    fn default() -> Self {
        Failure {
            reason: OnceLock::new(),
            woken: Mutex::new(false),
            wake: Condvar::new(),
        }
    }
}

impl Failure {
    /// Records the first failure (later ones are ignored) and wakes everyone waiting for it.
    pub(crate) fn set(&self, reason: String) {
        if self.reason.set(reason).is_err() {
            return;
        }
        tracing::error!(
            reason = self.reason.get().map_or("", String::as_str),
            "STORAGE FAILED: refusing every write from now on; the service stops so that it is \
             restarted (nothing acknowledged is lost)"
        );
        *self.woken.lock() = true;
        self.wake.notify_all();
    }

    /// The reason, once failed.
    pub(crate) fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }

    /// Blocks until the store fails.
    pub(crate) fn wait(&self) {
        let mut woken = self.woken.lock();
        while !*woken {
            self.wake.wait(&mut woken);
        }
    }
}
