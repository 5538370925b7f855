//! A marketplace that does not answer: 500 concurrent activations wait for it while KooMarket's
//! getLicense callbacks keep being answered, and activations of one code share one call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use super::fake_market::{FakeCode, FakeMarket};
use super::online::MACHINE_A;
use super::support::{config, wait_until, App};
use crate::helpers::{Order, FLOAT_PRODUCT};
use crate::market::{signed_query, KEY};

const SHARED: &str = "PL-SHARED";
const ACTIVATIONS: usize = 500;
/// Generous bound for everything that must eventually happen (never a speed assertion).
const BOUND: Duration = Duration::from_secs(120);

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(BOUND).build()
}

fn activate(port: u16, code: &str) -> (u16, Value) {
    let url = format!("http://127.0.0.1:{port}/v1/activate");
    let body = json!({"authorization_code": code, "hardware_identifier": MACHINE_A});
    match agent().post(&url).send_json(body) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => {
            let status = r.status();
            (status, r.into_json().unwrap_or(Value::Null))
        }
        Err(e) => panic!("activation {code}: {e}"),
    }
}

#[test]
fn activations_waiting_on_a_silent_marketplace_never_delay_koomarket_callbacks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let market = FakeMarket::start();
    {
        let mut s = market.state.lock();
        s.hold = true;
        s.codes
            .insert(SHARED.to_string(), FakeCode::alive("P-CODE", 1000));
    }
    // One worker: its blocking pool (512 / cores threads) is smaller than the activations, so
    // an activation that held a blocking thread across the call would starve getLicense.
    let toml = config(
        dir.path(),
        market.port,
        "[[product]]\nproduct_id = \"P-CODE\"\nbinding = \"hardware\"\n",
    )
    .replace("timeout_secs = 1\n", "timeout_secs = 300\n")
    .replace("workers = 2\n", "workers = 1\n")
    .replace(
        "[koomarket]\n",
        &format!("[koomarket]\nkeys = [\"{KEY}\"]\n"),
    );
    let app = App::start(dir.path(), &toml);
    let port = app.port;

    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, u16, Value)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for i in 0..ACTIVATIONS {
            let (done, results) = (&done, &results);
            s.spawn(move || {
                // Half share one code; the others are distinct codes the marketplace never saw.
                let code = if i % 2 == 0 {
                    SHARED.to_string()
                } else {
                    format!("PL-OTHER-{i}")
                };
                let (status, body) = activate(port, &code);
                results.lock().expect("lock").push((code, status, body));
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        assert!(
            wait_until(BOUND, || market.state.lock().held >= 8),
            "the outbound calls reach the silent marketplace"
        );

        // KooMarket's callbacks are answered while every marketplace call is still unanswered.
        let callbacks = agent();
        for _ in 0..20 {
            let order = Order::new().product(FLOAT_PRODUCT).identifier(None);
            let url = format!(
                "http://127.0.0.1:{port}/koomarket/license?{}",
                signed_query(KEY, &order.params())
            );
            let answer: Value = callbacks
                .get(&url)
                .call()
                .expect("getLicense is answered")
                .into_json()
                .expect("JSON");
            assert_eq!(answer["resultCode"], "000000", "{answer}");
            assert!(
                market.state.lock().held > 0,
                "the marketplace is still silent"
            );
        }
        let shared_done = results
            .lock()
            .expect("lock")
            .iter()
            .filter(|(code, ..)| code == SHARED)
            .count();
        assert_eq!(
            shared_done, 0,
            "no activation of the held code has finished"
        );

        market.state.lock().hold = false;
        assert!(
            wait_until(BOUND, || done.load(Ordering::SeqCst) == ACTIVATIONS),
            "every activation finishes once the marketplace answers"
        );
    });

    let results = results.into_inner().expect("lock");
    let shared: Vec<_> = results.iter().filter(|(c, ..)| c == SHARED).collect();
    assert_eq!(shared.len(), ACTIVATIONS / 2);
    let license = shared[0].2["license"].clone();
    for (_, status, body) in &shared {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["license"], license, "one machine, one license");
    }
    for (code, status, body) in results.iter().filter(|(c, ..)| c != SHARED) {
        assert!(
            [404, 503].contains(status),
            "{code}: unknown, or refused at once by the full pool: {status} {body}"
        );
    }
    let s = market.state.lock();
    assert_eq!(
        s.activations.iter().filter(|c| *c == SHARED).count(),
        1,
        "concurrent activations of one code share one marketplace call"
    );
    assert_eq!(s.bad_signatures, 0);
}

#[test]
fn the_outbound_pool_takes_its_threads_and_queue_from_the_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let market = FakeMarket::start();
    {
        let mut s = market.state.lock();
        s.hold = true;
        for i in 0..4 {
            s.codes
                .insert(format!("PL-SIZED-{i}"), FakeCode::alive("P-CODE", 1000));
        }
    }
    let toml = config(
        dir.path(),
        market.port,
        "[[product]]\nproduct_id = \"P-CODE\"\nbinding = \"hardware\"\n",
    )
    .replace(
        "\ntimeout_secs = 1\n",
        "\ntimeout_secs = 300\noutbound_threads = 2\noutbound_queue = 1\n",
    );
    let app = App::start(dir.path(), &toml);
    let port = app.port;

    let results: Mutex<Vec<(usize, u16)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let start = |i: usize| {
            let results = &results;
            s.spawn(move || {
                let (status, _) = activate(port, &format!("PL-SIZED-{i}"));
                results.lock().expect("lock").push((i, status));
            });
        };
        // Two threads: the first two calls reach the marketplace, one after the other.
        for i in 0..2 {
            start(i);
            assert!(
                wait_until(BOUND, || market.state.lock().held as usize == i + 1),
                "call {i} reaches the silent marketplace"
            );
        }
        // A queue of one: of the next two, one waits and the other is refused at once.
        start(2);
        start(3);
        assert!(
            wait_until(BOUND, || results.lock().expect("lock").len() == 1),
            "one of the two is answered while the marketplace is still silent"
        );
        let refused = results.lock().expect("lock")[0];
        assert!(
            refused.0 >= 2,
            "the refused one is not in flight: {refused:?}"
        );
        assert_eq!(refused.1, 503, "a full queue refuses at once");
        assert_eq!(market.state.lock().held, 2, "never more calls than threads");

        market.state.lock().hold = false;
        assert!(
            wait_until(BOUND, || results.lock().expect("lock").len() == 4),
            "the others finish once the marketplace answers"
        );
    });
    let results = results.into_inner().expect("lock");
    assert_eq!(results.iter().filter(|(_, s)| *s == 200).count(), 3);
}
