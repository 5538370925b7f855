//! Writers sharing one transaction and one durable sync (see `Store::write`).
//!
//! Each writer submits its item. The first writer to find no group running becomes the leader:
//! it takes every queued item (at most `max_group`), runs the group once for all of them (the
//! sled transaction, then the durable sync) and hands the outcome to every writer of its group.
//! Writers arriving meanwhile queue up for the next group, which starts when this one is over.
//! Every writer returns its own group's outcome.
//!
//! Only one group runs at a time on purpose: in sled 0.34 a transaction and the flush of the
//! previous group exclude each other anyway (see `Store::write`), and letting them overlap only
//! made each wait for the other.
//!
//! A panic while running a group fails that group (with the caller's `panicked` error) instead of
//! leaving its writers waiting forever.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};

pub(super) struct Combiner<T, E> {
    state: Mutex<State<T, E>>,
    /// Writers whose item is still queued wait here for the running group to finish.
    turn: Condvar,
    /// Writers waiting for room in a full queue.
    room: Condvar,
    max_group: usize,
}

struct State<T, E> {
    /// Items of the next group.
    pending: Vec<T>,
    /// Where the next group's outcome will be published.
    slot: Arc<Slot<E>>,
    /// A group is running.
    running: bool,
}

/// One group's outcome, once known.
struct Slot<E> {
    outcome: Mutex<Option<Result<(), E>>>,
    published: Condvar,
}

impl<E: Clone> Slot<E> {
    fn new() -> Arc<Self> {
        Arc::new(Slot {
            outcome: Mutex::new(None),
            published: Condvar::new(),
        })
    }

    fn wait(&self) -> Result<(), E> {
        let mut outcome = self.outcome.lock();
        loop {
            if let Some(outcome) = outcome.as_ref() {
                return outcome.clone();
            }
            self.published.wait(&mut outcome);
        }
    }

    fn publish(&self, outcome: Result<(), E>) {
        *self.outcome.lock() = Some(outcome);
        self.published.notify_all();
    }
}

impl<T, E: Clone> Combiner<T, E> {
    /// Groups of at most `max_group` items (at least 1).
    pub(super) fn new(max_group: usize) -> Self {
        Combiner {
            state: Mutex::new(State {
                pending: Vec::new(),
                slot: Slot::new(),
                running: false,
            }),
            turn: Condvar::new(),
            room: Condvar::new(),
            max_group: max_group.max(1),
        }
    }

    /// Submits `item` and returns the outcome of its group. `run` runs only if this writer
    /// leads the group, with every item of the group; all writers should pass the same one.
    ///
    /// The first writer to queue an item while a group runs is the next group's leader and
    /// waits on `turn` for that group to finish; the writers queuing after it only wait for
    /// their group's outcome. Each writer is thus woken once, not by every group that ends
    /// before its own.
    pub(super) fn submit(
        &self,
        item: T,
        run: impl FnOnce(&[T]) -> Result<(), E>,
        panicked: impl FnOnce() -> E,
    ) -> Result<(), E> {
        let mut state = self.state.lock();
        while state.pending.len() >= self.max_group {
            self.room.wait(&mut state);
        }
        state.pending.push(item);
        let slot = Arc::clone(&state.slot);
        if state.pending.len() == 1 {
            while Arc::ptr_eq(&state.slot, &slot) {
                // Our item is still queued, and we queued the group's first.
                if !state.running {
                    return self.lead(state, &slot, run, panicked);
                }
                self.turn.wait(&mut state);
            }
        } else if !state.running {
            // A group ended and its next leader has not woken yet: lead in its place.
            return self.lead(state, &slot, run, panicked);
        }
        drop(state);
        slot.wait()
    }

    fn lead(
        &self,
        mut state: MutexGuard<'_, State<T, E>>,
        slot: &Slot<E>,
        run: impl FnOnce(&[T]) -> Result<(), E>,
        panicked: impl FnOnce() -> E,
    ) -> Result<(), E> {
        state.running = true;
        let items = std::mem::take(&mut state.pending);
        state.slot = Slot::new();
        drop(state);
        self.room.notify_all();

        let outcome =
            catch_unwind(AssertUnwindSafe(|| run(&items))).unwrap_or_else(|_| Err(panicked()));
        drop(items);
        self.state.lock().running = false;
        self.turn.notify_all();
        slot.publish(outcome.clone());
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;
    use std::time::Duration;

    use super::*;

    type Run = dyn Fn(&[usize]) -> Result<(), String> + Send + Sync;

    fn run_writers(
        combiner: &Arc<Combiner<usize, String>>,
        writers: usize,
        run: Arc<Run>,
    ) -> Vec<Result<(), String>> {
        let barrier = Arc::new(Barrier::new(writers));
        let threads: Vec<_> = (0..writers)
            .map(|i| {
                let (combiner, run, barrier) =
                    (Arc::clone(combiner), Arc::clone(&run), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    combiner.submit(i, |items| run(items), || "panic".into())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("writer panicked"))
            .collect()
    }

    #[test]
    fn every_item_runs_exactly_once_in_groups_of_at_most_max() {
        let combiner = Arc::new(Combiner::new(4));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let groups = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let (seen2, groups2) = (Arc::clone(&seen), Arc::clone(&groups));
        let results = run_writers(
            &combiner,
            32,
            Arc::new(move |items: &[usize]| {
                assert!(items.len() <= 4, "group of {}", items.len());
                assert_eq!(
                    running.fetch_add(1, Ordering::SeqCst),
                    0,
                    "one group at a time"
                );
                groups2.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
                seen2.lock().extend_from_slice(items);
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }),
        );
        assert!(results.iter().all(Result::is_ok));
        let mut seen = seen.lock().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..32).collect::<Vec<_>>());
        assert!(groups.load(Ordering::Relaxed) < 32, "writers were grouped");
    }

    #[test]
    fn writers_submitting_in_loops_never_strand_a_queued_item() {
        // Groups end while the next leader is still asleep, and late writers lead in its place:
        // every item must still run once and every writer return.
        const WRITERS: usize = 12;
        const ROUNDS: usize = 300;
        let combiner = Arc::new(Combiner::new(5));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        for w in 0..WRITERS {
            let (combiner, seen, done_tx) =
                (Arc::clone(&combiner), Arc::clone(&seen), done_tx.clone());
            std::thread::spawn(move || {
                for r in 0..ROUNDS {
                    let outcome = combiner.submit(
                        w * ROUNDS + r,
                        |items: &[usize]| {
                            if items.len() % 2 == 0 {
                                std::thread::sleep(Duration::from_micros(50));
                            }
                            seen.lock().extend_from_slice(items);
                            Ok(())
                        },
                        || "panic".to_owned(),
                    );
                    assert_eq!(outcome, Ok(()));
                }
                done_tx.send(()).expect("test alive");
            });
        }
        for _ in 0..WRITERS {
            done_rx
                .recv_timeout(Duration::from_secs(120))
                .expect("a writer was stranded");
        }
        let mut seen = seen.lock().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..WRITERS * ROUNDS).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_group_fails_all_its_writers_and_the_next_group_runs() {
        let combiner = Arc::new(Combiner::new(64));
        let results = run_writers(
            &combiner,
            16,
            Arc::new(|_: &[usize]| Err("disk on fire".into())),
        );
        assert!(results.iter().all(|r| r == &Err("disk on fire".to_owned())));
        assert_eq!(combiner.submit(99, |_| Ok(()), || "panic".into()), Ok(()));
    }

    #[test]
    fn a_panicking_group_fails_its_writers_instead_of_hanging() {
        let combiner = Arc::new(Combiner::new(64));
        let results = run_writers(&combiner, 8, Arc::new(|_: &[usize]| panic!("boom")));
        assert!(results.iter().all(|r| r == &Err("panic".to_owned())));
        assert_eq!(combiner.submit(2, |_| Ok(()), || "panic".into()), Ok(()));
    }
}
