//! The lease sweeper: a background thread that every `seats.lapse_sweep_interval_secs` audits
//! the leases that lapsed (their clients stopped renewing them) and drops them from the index
//! of held seats, so that a lapse reaches the audit trail when it happens rather than when the
//! next checkout of the license finds it. A failed write fails the store like any other, and
//! the service stops to be restarted.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::clock::Clock;
use crate::licensing::Licensing;

/// The sweeper thread's handle; stops the thread when stopped or dropped.
pub(crate) struct Sweeper {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Sweeper {
    /// Starts sweeping every `every` with the time of `clock`; none when `every` is zero.
    pub(crate) fn start(
        licensing: Licensing,
        clock: Clock,
        every: Duration,
    ) -> std::io::Result<Option<Sweeper>> {
        if every.is_zero() {
            return Ok(None);
        }
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = std::thread::Builder::new()
            .name("koolicense-sweep".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || run(&stop, &licensing, &clock, every)
            })?;
        Ok(Some(Sweeper {
            stop,
            thread: Some(thread),
        }))
    }

    /// Stops and joins the thread.
    pub(crate) fn stop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("lease sweeper panicked");
            }
        }
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(stop: &(Mutex<bool>, Condvar), licensing: &Licensing, clock: &Clock, every: Duration) {
    loop {
        {
            let mut stopped = stop.0.lock();
            if !*stopped {
                stop.1.wait_for(&mut stopped, every);
            }
            if *stopped {
                return;
            }
        }
        match licensing.sweep_lapsed_leases(clock.now()) {
            Ok(0) => {}
            Ok(lapsed) => tracing::info!(lapsed, "leases lapsed"),
            Err(e) => tracing::warn!(error = %e, "lease sweep failed"),
        }
    }
}
