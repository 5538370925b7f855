//! Counts that would need a scan — licenses by state, outbox jobs by state, the oldest pending
//! job, this month's failed orders — computed by one background thread, at start, every [`PERIOD`] and (at most once per
//! [`MIN_GAP`]) when a scrape asks for it. A scrape reads the last result and never scans.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::{Condvar, Mutex};

use crate::store::Store;

/// Regular census interval.
const PERIOD: Duration = Duration::from_secs(30);
/// Least time between two censuses.
const MIN_GAP: Duration = Duration::from_secs(1);
/// Outbox jobs read per page.
const PAGE: usize = 1000;

/// One census.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Census {
    /// Licenses per status (`active`, `suspended`, …).
    pub(crate) licenses: BTreeMap<&'static str, i64>,
    /// Outbox jobs per state (`pending`, `done`, `failed`).
    pub(crate) jobs: BTreeMap<&'static str, i64>,
    /// When the oldest pending job was created.
    pub(crate) oldest_pending: Option<DateTime<Utc>>,
    /// Pending jobs whose last attempt failed.
    pub(crate) retrying: i64,
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
    let mut census = Census::default();
    store.for_each_license(|license| {
        *census.licenses.entry(license.status.as_str()).or_default() += 1;
        true
    })?;
    let now = Utc::now();
    let (calls, truncated) =
        store.rejected_calls_since(crate::licensing::health::window_start(now), 200_000)?;
    let health = crate::licensing::health::summarize(&calls, now, truncated);
    census.failed_orders_month = i64::try_from(health.month.failed_orders).unwrap_or(i64::MAX);
    let mut after = None;
    loop {
        let page = store.list_jobs(None, after, PAGE)?;
        for job in &page {
            *census.jobs.entry(job.state.as_str()).or_default() += 1;
            if job.state == crate::store::market_records::JobState::Pending {
                census.oldest_pending = Some(match census.oldest_pending {
                    Some(t) => t.min(job.created_at),
                    None => job.created_at,
                });
                census.retrying += i64::from(job.last_error.is_some());
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.id),
            _ => break,
        }
    }
    Ok(census)
}
