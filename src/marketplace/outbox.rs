//! The outbox: calls to the marketplace that must happen after an answer (license uploads for
//! getLicenseAsync, order queries after newInstance), kept in sled and run by one worker thread.
//!
//! A job is written in the same transaction as the change that needs it, so it is durable
//! before the marketplace gets its answer and survives restarts: the worker scans the pending
//! jobs at start. It is woken on enqueue, runs every due job, and retries a failed attempt after
//! `retry_base_ms × 2^(attempt−1)` (capped at `retry_max_secs`) with ±50 % jitter; after
//! `max_attempts`, or at once on an error that retrying cannot fix, the job becomes `failed`
//! (kept, visible at `GET /v1/outbox`, retried on `POST /v1/outbox/{id}/retry`).
//!
//! A job acknowledged by the marketplace is marked `done` durably before the worker moves on and
//! is never sent again; one job exists per deduplication key (`upload/<eventId>`), ever. The
//! only way to send twice is a crash between the marketplace's acknowledgement and that write
//! (at-least-once; the upload is keyed by `event_id`, so a repeat is the same delivery).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::{Condvar, Mutex};
use rand::Rng;

use super::client::MarketClient;
use super::{MarketError, OrderDetails};
use crate::koomarket::online;
use crate::licensing::KeyLocks;
use crate::settings::MarketplaceSettings;
use crate::store::market::MarketBatch;
use crate::store::market_records::{JobKind, JobState, OutboxJob};
use crate::store::{Store, StoreError};

/// The longest the worker sleeps without looking at the pending jobs again.
const IDLE_POLL: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Signal {
    woken: Mutex<bool>,
    cv: Condvar,
    stop: AtomicBool,
}

/// Handle shared by everyone who enqueues jobs or pokes the worker.
#[derive(Clone)]
pub(crate) struct Outbox {
    signal: Arc<Signal>,
    /// Serialises job-state changes between the worker and the merchant API.
    write_lock: Arc<Mutex<()>>,
    retry_base_ms: u64,
    retry_max_ms: u64,
    max_attempts: u32,
}

/// What `POST /v1/outbox/{id}/retry` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RetryOutcome {
    /// The job is pending again (from failed), or due now (if it was pending).
    Scheduled(OutboxJob),
    /// The job is done: never sent again.
    AlreadyDone(OutboxJob),
    /// No such job.
    NotFound,
}

impl Outbox {
    /// A handle configured from `[marketplace]`.
    pub(crate) fn new(settings: &MarketplaceSettings) -> Outbox {
        Outbox {
            signal: Arc::new(Signal::default()),
            write_lock: Arc::new(Mutex::new(())),
            retry_base_ms: settings.retry_base_ms,
            retry_max_ms: settings.retry_max_secs.saturating_mul(1000),
            max_attempts: settings.max_attempts,
        }
    }

    /// A new pending job, due now (not yet stored: put it in the batch of the change).
    pub(crate) fn job(
        store: &Store,
        key: String,
        kind: JobKind,
        now: DateTime<Utc>,
    ) -> Result<OutboxJob, StoreError> {
        Ok(OutboxJob {
            id: store.next_job_id()?,
            key,
            kind,
            state: JobState::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            updated_at: now,
            done_at: None,
        })
    }

    /// Wakes the worker (after a batch with new jobs is written).
    pub(crate) fn wake(&self) {
        let mut woken = self.signal.woken.lock();
        *woken = true;
        self.signal.cv.notify_all();
    }

    /// Makes a failed job pending again (attempts start over), or a pending one due now.
    pub(crate) fn retry(
        &self,
        store: &Store,
        id: u64,
        now: DateTime<Utc>,
    ) -> Result<RetryOutcome, StoreError> {
        let outcome = {
            let _w = self.write_lock.lock();
            let Some(mut job) = store.outbox_job(id)? else {
                return Ok(RetryOutcome::NotFound);
            };
            if job.state == JobState::Done {
                return Ok(RetryOutcome::AlreadyDone(job));
            }
            if job.state == JobState::Failed {
                job.attempts = 0;
            }
            job.state = JobState::Pending;
            job.next_attempt_at = now;
            job.updated_at = now;
            store.write_market(MarketBatch {
                jobs: vec![job.clone()],
                ..MarketBatch::default()
            })?;
            RetryOutcome::Scheduled(job)
        };
        self.wake();
        Ok(outcome)
    }

    /// The delay before attempt `attempts + 1`, after `attempts` failures (≥ 1).
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(40);
        let base = self
            .retry_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.retry_max_ms);
        let jittered = base as f64 * rand::thread_rng().gen_range(0.5..1.5);
        Duration::from_millis((jittered as u64).clamp(1, self.retry_max_ms.max(1)))
    }

    /// Starts the worker thread.
    pub(crate) fn start(
        &self,
        store: Store,
        client: Arc<MarketClient>,
        locks: Arc<KeyLocks>,
    ) -> std::io::Result<OutboxWorker> {
        self.signal.stop.store(false, Ordering::Release);
        let worker = Worker {
            outbox: self.clone(),
            store,
            client,
            locks,
        };
        let handle = std::thread::Builder::new()
            .name("koolicense-outbox".into())
            .spawn(move || worker.run())?;
        Ok(OutboxWorker {
            outbox: self.clone(),
            handle: Some(handle),
        })
    }
}

/// The running worker; stopping (or dropping) it waits for the current attempt to end.
pub(crate) struct OutboxWorker {
    outbox: Outbox,
    handle: Option<JoinHandle<()>>,
}

impl OutboxWorker {
    /// Stops the worker and waits for it.
    pub(crate) fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.outbox.signal.stop.store(true, Ordering::Release);
            self.outbox.wake();
            if handle.join().is_err() {
                tracing::error!("the outbox worker panicked");
            }
        }
    }
}

impl Drop for OutboxWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Worker {
    outbox: Outbox,
    store: Store,
    client: Arc<MarketClient>,
    locks: Arc<KeyLocks>,
}

impl Worker {
    fn stopping(&self) -> bool {
        self.outbox.signal.stop.load(Ordering::Acquire)
    }

    fn run(self) {
        tracing::info!("outbox worker started");
        // The first pass tries every pending job at once: a restart is often what fixed the
        // problem (credentials, network), so jobs backed off for long need not keep waiting.
        let mut first = true;
        while !self.stopping() {
            let wait = match self.run_due(std::mem::take(&mut first)) {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error = %e, "outbox: storage failure; retrying shortly");
                    Duration::from_secs(1)
                }
            };
            let mut woken = self.outbox.signal.woken.lock();
            if !*woken && !self.stopping() {
                self.outbox.signal.cv.wait_for(&mut woken, wait);
            }
            *woken = false;
        }
        tracing::info!("outbox worker stopped");
    }

    /// Runs every due job (every pending job if `all`); returns how long to sleep until the
    /// next one is due.
    fn run_due(&self, mut all: bool) -> Result<Duration, StoreError> {
        loop {
            let mut jobs = self.store.pending_jobs()?;
            jobs.sort_by_key(|j| (j.next_attempt_at, j.id));
            let now = Utc::now();
            let force = std::mem::take(&mut all);
            let due: Vec<OutboxJob> = jobs
                .iter()
                .filter(|j| force || j.next_attempt_at <= now)
                .cloned()
                .collect();
            if due.is_empty() {
                let next = jobs
                    .first()
                    .map(|j| (j.next_attempt_at - now).to_std().unwrap_or_default());
                return Ok(next.map_or(IDLE_POLL, |n| n.min(IDLE_POLL)));
            }
            for job in due {
                if self.stopping() {
                    return Ok(Duration::ZERO);
                }
                self.attempt(job)?;
            }
        }
    }

    fn attempt(&self, job: OutboxJob) -> Result<(), StoreError> {
        let result = match &job.kind {
            JobKind::UploadLicense {
                event_id,
                characters,
                ..
            } => self
                .client
                .upload_license(event_id, characters)
                .map(|()| None),
            JobKind::QueryOrder {
                order_id,
                order_line_id,
                ..
            } => self.client.query_order(order_id, order_line_id).map(Some),
        };
        self.record(&job, result)
    }

    /// Writes the attempt's outcome (and, for an order query, the instance's new details).
    ///
    /// Lock order, everywhere: the instance's lock first, then the outbox's write lock (the
    /// POST activities re-arm jobs while holding an instance lock).
    fn record(
        &self,
        job: &OutboxJob,
        result: Result<Option<OrderDetails>, MarketError>,
    ) -> Result<(), StoreError> {
        let _instance_guard = match &job.kind {
            JobKind::QueryOrder { instance_id, .. } => {
                Some(self.locks.lock(&online::instance_lock(instance_id)))
            }
            JobKind::UploadLicense { .. } => None,
        };
        let _w = self.outbox.write_lock.lock();
        let Some(mut job) = self.store.outbox_job(job.id)? else {
            return Ok(());
        };
        if job.state != JobState::Pending {
            return Ok(());
        }
        let now = Utc::now();
        job.updated_at = now;
        let mut batch = MarketBatch::default();
        if let Err(e @ MarketError::NotConfigured) = &result {
            // Not an attempt: nothing was sent. Wait for the credentials (a restart).
            job.last_error = Some(e.to_string());
            let wait = i64::try_from(self.outbox.retry_max_ms).unwrap_or(i64::MAX);
            job.next_attempt_at = now
                + chrono::Duration::try_milliseconds(wait).unwrap_or(chrono::Duration::hours(1));
            batch.jobs.push(job);
            return self.store.write_market(batch);
        }
        job.attempts = job.attempts.saturating_add(1);
        match result {
            Ok(details) => {
                job.state = JobState::Done;
                job.done_at = Some(now);
                job.last_error = None;
                if let (Some(details), JobKind::QueryOrder { instance_id, .. }) =
                    (details, &job.kind)
                {
                    if let Some(mut instance) = self.store.online_instance(instance_id)? {
                        online::apply_order_details(&mut instance, &details, now);
                        batch.instances.push(instance);
                    }
                }
                tracing::info!(job = job.id, key = %job.key, attempts = job.attempts, "outbox job done");
            }
            Err(e) => {
                job.last_error = Some(e.to_string());
                if e.is_permanent() || job.attempts >= self.outbox.max_attempts {
                    job.state = JobState::Failed;
                    tracing::error!(job = job.id, key = %job.key, attempts = job.attempts, error = %e, "outbox job failed; giving up");
                } else {
                    let delay = self.outbox.backoff(job.attempts);
                    job.next_attempt_at =
                        now + chrono::Duration::from_std(delay).unwrap_or_default();
                    tracing::warn!(job = job.id, key = %job.key, attempts = job.attempts, retry_in_ms = delay.as_millis() as u64, error = %e, "outbox attempt failed");
                }
            }
        }
        batch.jobs.push(job);
        self.store.write_market(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let outbox = Outbox::new(&MarketplaceSettings {
            retry_base_ms: 1000,
            retry_max_secs: 10,
            ..MarketplaceSettings::default()
        });
        for _ in 0..50 {
            let first = outbox.backoff(1).as_millis();
            assert!((500..1500).contains(&first), "{first}");
            let third = outbox.backoff(3).as_millis();
            assert!((2000..6000).contains(&third), "{third}");
            assert!(outbox.backoff(30).as_millis() <= 10_000);
        }
    }
}
