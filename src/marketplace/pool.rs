//! The outbound pool: marketplace calls made on behalf of an inbound request (authorization
//! code activation and status queries) run here, on a few threads of their own with a bounded
//! queue, never on the HTTP workers' blocking pool and never under a lock. The inbound request
//! awaits the answer without holding a thread, so a marketplace that does not answer can slow
//! activations only, never a KooMarket callback.
//!
//! Calls are keyed: a call whose key is already in flight is not made again, its callers share
//! the one answer (500 activations of one code are one marketplace call). A full queue refuses
//! at once ([`Busy`]) instead of piling up.

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The queue is full: too many different calls are waiting already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy;

/// A bounded pool of outbound calls returning `T`.
pub(crate) struct CallPool<T> {
    queue: SyncSender<Job>,
    in_flight: Arc<Mutex<HashMap<String, Vec<oneshot::Sender<T>>>>>,
}

impl<T: Clone + Send + 'static> CallPool<T> {
    /// `threads` callers (at least 1) behind a queue of `queue` calls.
    pub(crate) fn start(name: &str, threads: usize, queue: usize) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || work(&rx))?;
        }
        Ok(CallPool {
            queue: tx,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// A pool without threads that refuses every call (before the real one is set up).
    pub(crate) fn idle() -> Self {
        let (tx, _) = sync_channel::<Job>(0);
        CallPool {
            queue: tx,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The answer of `call` for `key`: a call already in flight for `key` is joined instead of
    /// made again. `Err(Busy)` when the queue is full.
    pub(crate) fn call(
        &self,
        key: String,
        call: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, Busy> {
        let (tx, rx) = oneshot::channel();
        let mut in_flight = self.in_flight.lock();
        if let Some(waiters) = in_flight.get_mut(&key) {
            waiters.push(tx);
            return Ok(rx);
        }
        let shared = Arc::clone(&self.in_flight);
        let job_key = key.clone();
        let span = tracing::Span::current();
        let job: Job = Box::new(move || {
            let answer = span.in_scope(call);
            let waiters = shared.lock().remove(&job_key).unwrap_or_default();
            for waiter in waiters {
                // A waiter that gave up (its request ended) is simply skipped.
                let _ = waiter.send(answer.clone());
            }
        });
        match self.queue.try_send(job) {
            Ok(()) => {
                in_flight.insert(key, vec![tx]);
                Ok(rx)
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // Only the wait for the next job holds the lock, never the job itself.
        let job = queue.lock().recv();
        match job {
            Ok(job) => job(),
            Err(_) => return, // the pool is gone
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    #[test]
    fn callers_of_one_key_share_one_call_and_a_full_queue_refuses_at_once() {
        let pool: CallPool<usize> = CallPool::start("test-pool", 1, 1).expect("pool");
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, held) = mpsc::channel::<()>();
        let held = Arc::new(Mutex::new(held));
        let blocked = {
            let (calls, held) = (Arc::clone(&calls), Arc::clone(&held));
            move || {
                let _ = held.lock().recv();
                calls.fetch_add(1, Ordering::SeqCst) + 7
            }
        };
        let first = pool.call("a".into(), blocked).expect("queued");
        // The only thread is (or will be) busy with "a"; these join it.
        let joined: Vec<_> = (0..10)
            .map(|_| {
                pool.call("a".into(), || unreachable!("joined, not made"))
                    .expect("joined")
            })
            .collect();
        // One more key fits the queue (or runs), then the queue is full.
        let mut refused = 0;
        let mut others = Vec::new();
        for i in 0..5 {
            match pool.call(format!("b{i}"), || 1) {
                Ok(rx) => others.push(rx),
                Err(Busy) => refused += 1,
            }
        }
        assert!(refused >= 3, "a full queue refuses: {refused}");
        drop(release);
        actix_web::rt::System::new().block_on(async {
            assert_eq!(first.await, Ok(7));
            for rx in joined {
                assert_eq!(rx.await, Ok(7));
            }
            for rx in others {
                assert_eq!(rx.await, Ok(1));
            }
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one call for key a");
    }
}
