//! The outbox queue: calls to the marketplace that must happen after an answer (license
//! uploads, order queries), kept as durable jobs written in the same batch as the change that
//! needs them. This module owns the jobs' states and what a finished attempt changes (an order
//! query's details complete the instance and issue the licenses that waited for them); the
//! worker that makes the calls is outbound (`marketplace::outbox`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::{Condvar, Mutex};

use super::online::apply_order_details;
use super::{Licensing, LicensingError};
use crate::store::keys::{JobKey, LockKey};
use crate::store::market_records::{JobKind, JobState, OutboxJob};
use crate::store::{Store, StoreError, WriteBatch};

/// What the order query tells about an order line (§6.7).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OrderDetails {
    pub(crate) product_id: Option<String>,
    pub(crate) sku_code: Option<String>,
    pub(crate) product_name: Option<String>,
    /// linearValue: the purchased quantity.
    pub(crate) amount: Option<u32>,
    pub(crate) charging_mode: Option<String>,
    pub(crate) period_type: Option<String>,
    /// End of validity.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// When the order was placed.
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// A trial order.
    pub(crate) trial: Option<bool>,
}

/// How one attempt of a job ended.
#[derive(Clone, Debug)]
pub(crate) enum Attempt {
    /// The marketplace acknowledged it (with the order's details, for an order query).
    Done(Option<OrderDetails>),
    /// Nothing was sent (no credentials): not an attempt; look again at `retry_at`.
    NotSent {
        error: String,
        retry_at: DateTime<Utc>,
    },
    /// It failed; `permanent` when retrying the same request cannot help.
    Failed { error: String, permanent: bool },
}

/// What a merchant's retry did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RetryOutcome {
    /// The job is pending again (from failed), or due now (if it was pending).
    Scheduled(OutboxJob),
    /// The job is done: never sent again.
    AlreadyDone(OutboxJob),
    /// No such job.
    NotFound,
}

#[derive(Default)]
struct Signal {
    woken: Mutex<bool>,
    cv: Condvar,
}

/// The queue's in-memory part: the worker's wake-up signal and the lock that serialises job
/// state changes between the worker and everyone else.
#[derive(Clone, Default)]
pub(crate) struct Jobs {
    signal: Arc<Signal>,
    write_lock: Arc<Mutex<()>>,
}

impl Jobs {
    /// A new pending job, due now (not yet stored: put it in the batch of the change).
    pub(super) fn job(
        &self,
        store: &Store,
        key: JobKey<'_>,
        kind: JobKind,
        now: DateTime<Utc>,
    ) -> Result<OutboxJob, StoreError> {
        Ok(OutboxJob::pending(
            store.next_job_id()?,
            key.to_string(),
            kind,
            now,
        ))
    }

    /// The in-process write lock of the jobs.
    pub(super) fn write_lock(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.write_lock.lock()
    }

    /// Wakes the worker (after a batch with new or re-armed jobs is written).
    pub(crate) fn wake(&self) {
        *self.signal.woken.lock() = true;
        self.signal.cv.notify_all();
    }

    /// Waits until woken or `timeout` passes, unless `stop` already holds.
    pub(crate) fn wait(&self, timeout: Duration, stop: impl Fn() -> bool) {
        let mut woken = self.signal.woken.lock();
        if !*woken && !stop() {
            self.signal.cv.wait_for(&mut woken, timeout);
        }
        *woken = false;
    }
}

impl Licensing {
    /// Makes a failed job pending again (attempts start over), or a pending one due now.
    pub(crate) fn retry_job(
        &self,
        id: u64,
        now: DateTime<Utc>,
    ) -> Result<RetryOutcome, LicensingError> {
        let outcome = {
            let _w = self.lock_jobs();
            let Some(mut job) = self.store.outbox_job(id)? else {
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
            self.store.write(WriteBatch {
                jobs: vec![job.clone()],
                ..WriteBatch::default()
            })?;
            RetryOutcome::Scheduled(job)
        };
        self.jobs.wake();
        Ok(outcome)
    }

    /// Records how an attempt of job `id` ended. `backoff(attempts)` is the delay before the
    /// next attempt after `attempts` failures, `None` to give up. An order query's details
    /// complete its instance and issue the deliveries that waited for them, in the same batch.
    ///
    /// Lock order, everywhere: the instance's lock first, then the queue's write lock.
    pub(crate) fn record_attempt(
        &self,
        id: u64,
        attempt: Attempt,
        backoff: &dyn Fn(u32) -> Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<(), LicensingError> {
        let Some(job) = self.store.outbox_job(id)? else {
            return Ok(());
        };
        let instance_id = match &job.kind {
            JobKind::QueryOrder { instance_id, .. } => Some(instance_id.clone()),
            JobKind::UploadLicense { .. } => None,
        };
        let _instance = instance_id
            .as_deref()
            .map(|i| self.lock(LockKey::Instance(i)));
        let _w = self.lock_jobs();
        let Some(mut job) = self.store.outbox_job(id)? else {
            return Ok(());
        };
        if job.state != JobState::Pending {
            return Ok(());
        }
        job.updated_at = now;
        let mut batch = WriteBatch::default();
        match attempt {
            Attempt::NotSent { error, retry_at } => {
                job.last_error = Some(error);
                job.next_attempt_at = retry_at;
            }
            Attempt::Done(details) => {
                job.attempts = job.attempts.saturating_add(1);
                job.state = JobState::Done;
                job.done_at = Some(now);
                job.last_error = None;
                tracing::info!(job = job.id, key = %job.key, attempts = job.attempts, "outbox job done");
                if let (Some(details), Some(instance_id)) = (details, &instance_id) {
                    if let Some(mut instance) = self.store.online_instance(instance_id)? {
                        apply_order_details(&mut instance, &details, now);
                        if instance.product_id.is_some() {
                            self.issue_pending(&mut instance, now, &mut batch)?;
                        }
                        batch.instances.push(instance);
                    }
                }
            }
            Attempt::Failed { error, permanent } => {
                job.attempts = job.attempts.saturating_add(1);
                match backoff(job.attempts).filter(|_| !permanent) {
                    Some(delay) => {
                        job.next_attempt_at =
                            now + chrono::Duration::from_std(delay).unwrap_or_default();
                        tracing::warn!(job = job.id, key = %job.key, attempts = job.attempts, retry_in_ms = delay.as_millis() as u64, error = %error, "outbox attempt failed");
                    }
                    None => {
                        job.state = JobState::Failed;
                        tracing::error!(job = job.id, key = %job.key, attempts = job.attempts, error = %error, "outbox job failed; giving up");
                    }
                }
                job.last_error = Some(error);
            }
        }
        batch.jobs.push(job);
        let wake = batch.jobs.len() > 1;
        self.store.write(batch)?;
        if wake {
            self.jobs.wake();
        }
        Ok(())
    }
}
