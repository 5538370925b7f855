//! The outbox worker: makes the calls to the marketplace that must happen after an answer
//! (license uploads for getLicenseAsync, order queries after newInstance), one worker thread.
//!
//! The jobs themselves are durable records owned by the core (`licensing::jobs`): a job is
//! written in the same batch as the change that needs it, so it is durable before the
//! marketplace gets its answer and survives restarts; the worker scans the pending jobs at start.
//! It is woken on enqueue, runs every due job, and retries a failed attempt after
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

use chrono::Utc;
use rand::Rng;

use super::client::MarketClient;
use super::MarketError;
use crate::licensing::{Attempt, Licensing, LicensingError};
use crate::settings::MarketplaceSettings;
use crate::store::market_records::{JobKind, JobState, OutboxJob};

/// The longest the worker sleeps without looking at the pending jobs again.
const IDLE_POLL: Duration = Duration::from_secs(30);
/// How long a claim on a job keeps other instances from sending it (PostgreSQL): longer than
/// any attempt; a claim of an instance killed mid-attempt lapses after it and the job is retried.
const CLAIM_LEASE: Duration = Duration::from_secs(120);
/// How soon to look again when every due job was being sent by another instance.
const CLAIMED_ELSEWHERE_POLL: Duration = Duration::from_secs(1);

/// The retry policy of `[marketplace]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RetryPolicy {
    retry_base_ms: u64,
    retry_max_ms: u64,
    max_attempts: u32,
}

impl RetryPolicy {
    /// From `[marketplace]`.
    pub(crate) fn new(settings: &MarketplaceSettings) -> RetryPolicy {
        RetryPolicy {
            retry_base_ms: settings.retry_base_ms,
            retry_max_ms: settings.retry_max_secs.saturating_mul(1000),
            max_attempts: settings.max_attempts,
        }
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

    /// The backoff, or `None` once the attempts are used up.
    fn next(&self, attempts: u32) -> Option<Duration> {
        (attempts < self.max_attempts).then(|| self.backoff(attempts))
    }
}

/// The running worker; stopping (or dropping) it waits for the current attempt to end.
pub(crate) struct OutboxWorker {
    stop: Arc<AtomicBool>,
    licensing: Licensing,
    handle: Option<JoinHandle<()>>,
}

impl OutboxWorker {
    /// Starts the worker thread.
    pub(crate) fn start(
        licensing: Licensing,
        client: Arc<MarketClient>,
        policy: RetryPolicy,
    ) -> std::io::Result<OutboxWorker> {
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            licensing: licensing.clone(),
            client,
            policy,
            stop: stop.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("koolicense-outbox".into())
            .spawn(move || worker.run())?;
        Ok(OutboxWorker {
            stop,
            licensing,
            handle: Some(handle),
        })
    }

    /// Stops the worker and waits for it.
    pub(crate) fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.stop.store(true, Ordering::Release);
            self.licensing.jobs().wake();
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
    licensing: Licensing,
    client: Arc<MarketClient>,
    policy: RetryPolicy,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
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
            self.licensing.jobs().wait(wait, || self.stopping());
        }
        tracing::info!("outbox worker stopped");
    }

    /// Runs every due job (every pending job if `all`); returns how long to sleep until the
    /// next one is due.
    fn run_due(&self, mut all: bool) -> Result<Duration, LicensingError> {
        loop {
            let mut jobs = self.licensing.store().pending_jobs()?;
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
            let mut attempted = 0;
            for job in due {
                if self.stopping() {
                    return Ok(Duration::ZERO);
                }
                attempted += usize::from(self.claim_and_attempt(&job, force, now)?);
            }
            if attempted == 0 {
                return Ok(CLAIMED_ELSEWHERE_POLL);
            }
        }
    }

    /// Claims `job` (several instances may share the database) and, if it is still pending
    /// and due once claimed, attempts it. Returns whether it did.
    fn claim_and_attempt(
        &self,
        job: &OutboxJob,
        force: bool,
        now: chrono::DateTime<Utc>,
    ) -> Result<bool, LicensingError> {
        let store = self.licensing.store();
        if !store.claim_job(job.id, CLAIM_LEASE)? {
            return Ok(false);
        }
        // Another instance may have sent or rescheduled it since the list was read.
        let current = store
            .outbox_job(job.id)?
            .filter(|j| j.state == JobState::Pending && (force || j.next_attempt_at <= now));
        let outcome = match &current {
            Some(job) => self.attempt(job).map(|()| true),
            None => Ok(false),
        };
        store.release_job(job.id)?;
        outcome
    }

    fn attempt(&self, job: &OutboxJob) -> Result<(), LicensingError> {
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
        let now = Utc::now();
        let attempt = match result {
            Ok(details) => Attempt::Done(details),
            // Not an attempt: nothing was sent. Wait for the credentials (a restart).
            Err(e @ MarketError::NotConfigured) => Attempt::NotSent {
                error: e.to_string(),
                retry_at: now
                    + chrono::Duration::try_milliseconds(
                        i64::try_from(self.policy.retry_max_ms).unwrap_or(i64::MAX),
                    )
                    .unwrap_or(chrono::Duration::hours(1)),
            },
            Err(e) => Attempt::Failed {
                permanent: e.is_permanent(),
                error: e.to_string(),
            },
        };
        let policy = self.policy;
        self.licensing
            .record_attempt(job.id, attempt, &|attempts| policy.next(attempts), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy::new(&MarketplaceSettings {
            retry_base_ms: 1000,
            retry_max_secs: 10,
            ..MarketplaceSettings::default()
        });
        for _ in 0..50 {
            let first = policy.backoff(1).as_millis();
            assert!((500..1500).contains(&first), "{first}");
            let third = policy.backoff(3).as_millis();
            assert!((2000..6000).contains(&third), "{third}");
            assert!(policy.backoff(30).as_millis() <= 10_000);
        }
    }
}
