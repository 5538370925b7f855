//! The one gauge that still needs a read of many records — this month's failed orders (the
//! delisting guard: distinct orders among the month's rejected calls) — computed by one
//! background thread, at start, every [`PERIOD`] and (at most once per [`MIN_GAP`]) when a
//! scrape asks for it. A scrape reads the last result and never reads the calls. Licenses and
//! outbox jobs are counted by the store as they are written (`store::counters`), so their
//! gauges are read at scrape time and are current.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use parking_lot::{Condvar, Mutex};

use crate::store::Store;

/// Regular census interval.
const PERIOD: Duration = Duration::from_secs(30);
/// Least time between two censuses.
const MIN_GAP: Duration = Duration::from_secs(1);

/// One census.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Census {
    /// Distinct production orders with a failed answer this month (delisting guard).
    pub(crate) failed_orders_month: i64,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    last: Option<Census>,
    requested: bool,
    stop: bool,
}

/// The census thread's handle; stops the thread when stopped or dropped.
pub(crate) struct Censor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The readable side, shared with the scrape handler.
#[derive(Clone, Default)]
pub(crate) struct CensusReader(Arc<Shared>);

impl CensusReader {
    /// The last census (if one finished) and a request for a fresh one.
    pub(crate) fn latest(&self) -> Option<Census> {
        let mut state = self.0.state.lock();
        state.requested = true;
        self.0.wake.notify_one();
        state.last.clone()
    }
}

impl Censor {
    /// Starts the thread on `store`, publishing through `reader`.
    pub(crate) fn start(store: Store, reader: &CensusReader) -> std::io::Result<Censor> {
        let shared = Arc::clone(&reader.0);
        let thread = std::thread::Builder::new()
            .name("koolicense-census".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&shared, &store)
            })?;
        Ok(Censor {
            shared,
            thread: Some(thread),
        })
    }

    /// Stops and joins the thread (it lets go of the store).
    pub(crate) fn stop(&mut self) {
        self.shared.state.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("census thread panicked");
            }
        }
    }
}

impl Drop for Censor {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared, store: &Store) {
    loop {
        let started = Instant::now();
        match take(store) {
            Ok(census) => shared.state.lock().last = Some(census),
            Err(e) => tracing::warn!(error = %e, "metrics census failed"),
        }
        let mut state = shared.state.lock();
        state.requested = false;
        let earliest = started + MIN_GAP;
        let regular = started + PERIOD;
        loop {
            if state.stop {
                return;
            }
            let now = Instant::now();
            if now >= regular || (state.requested && now >= earliest) {
                break;
            }
            let until = if state.requested { earliest } else { regular };
            shared.wake.wait_for(&mut state, until - now);
        }
    }
}

fn take(store: &Store) -> crate::store::Result<Census> {
    let now = Utc::now();
    let (calls, truncated) =
        store.rejected_calls_since(crate::licensing::health::window_start(now), 200_000)?;
    let health = crate::licensing::health::summarize(&calls, now, truncated);
    Ok(Census {
        failed_orders_month: i64::try_from(health.month.failed_orders).unwrap_or(i64::MAX),
    })
}
