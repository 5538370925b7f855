//! Durability: a stopped or killed server comes back with every license it acknowledged,
//! byte-identical, signed by the same key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::binary::Server;
use crate::helpers::{spawn_app, Order, RawAnswer};
use crate::market::{signed_query, KEY};

#[test]
fn a_restarted_app_returns_the_same_license_signed_by_the_same_key() {
    let app = spawn_app();
    let order = Order::new().with("expireTime", "20300101000000");
    let first = app.provision(&order);
    let kid = app.active_kid();

    let app = app.restart();
    assert_eq!(app.active_kid(), kid, "the development key is reused");
    assert_eq!(app.keys().len(), 1);
    let again = app.provision(&order);
    assert_eq!(again.instance_id(), first.instance_id());
    assert_eq!(again.license(), first.license());
    assert_eq!(app.license_count(), 1);
    app.verify(again.license());
}

pub(crate) fn client() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
}

/// getLicense for `order` against `url`: `Ok((instanceId, license))` on a complete 000000
/// answer, `Err` on anything else (including a connection cut by the kill).
pub(crate) fn get_license(
    agent: &ureq::Agent,
    url: &str,
    order: &Order,
) -> Result<(String, String), String> {
    let query = signed_query(KEY, &order.params());
    let response = agent
        .get(&format!("{url}?{query}"))
        .call()
        .map_err(|e| e.to_string())?;
    let answer = RawAnswer::read(response)
        .map_err(|e| e.to_string())?
        .check(KEY);
    if answer.code() != "000000" {
        return Err(answer.json.to_string());
    }
    Ok((answer.instance_id().to_owned(), answer.license().to_owned()))
}

const CLIENTS: usize = 8;
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1500);
/// Hard bound on each client loop, whatever happens to the kill.
const CLIENT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn a_killed_server_keeps_every_acknowledged_license() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let log = dir.path().join("server.log");
    let mut server = Server::start(&data_dir, log.clone(), &[]);
    let url = server.market_url();

    let acknowledged: Mutex<Vec<(Order, String, String)>> = Mutex::new(Vec::new());
    let killed = AtomicBool::new(false);
    let cut_off: Mutex<Vec<Order>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for client_no in 0..CLIENTS {
            let (url, acknowledged, killed, failed) = (&url, &acknowledged, &killed, &cut_off);
            s.spawn(move || {
                let agent = client();
                let mut n = 0;
                while started.elapsed() < CLIENT_LIMIT {
                    n += 1;
                    let mut order = Order::new();
                    order.order_id = format!("CRASH-{client_no}-{n}");
                    order.identifier = Some(format!("SYSCODE-{client_no}-{n}"));
                    match get_license(&agent, url, &order) {
                        Ok((instance, license)) => acknowledged
                            .lock()
                            .expect("lock")
                            .push((order, instance, license)),
                        Err(_) if killed.load(Ordering::SeqCst) => {
                            failed.lock().expect("lock").push(order);
                            break;
                        }
                        Err(e) => panic!("call failed before the kill: {e}"),
                    }
                }
            });
        }
        std::thread::sleep(LOAD_BEFORE_KILL);
        killed.store(true, Ordering::SeqCst);
        server.kill();
    });
    let acknowledged = acknowledged.into_inner().expect("lock");
    let cut_off = cut_off.into_inner().expect("lock");
    let cut = cut_off.len();
    eprintln!(
        "crash test: {} getLicense calls acknowledged before SIGKILL, {cut} cut off by it",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() >= CLIENTS,
        "too little load before the kill"
    );
    drop(server);

    let restarted = Instant::now();
    let server = Server::start(&data_dir, log, &[]);
    let url = server.market_url();
    let keys: serde_json::Value = client()
        .get(&format!("{}/v1/keys", server.url))
        .call()
        .expect("keys")
        .into_json()
        .expect("JSON");
    let keys = keys["keys"].as_array().expect("keys").clone();
    assert_eq!(keys.len(), 1, "the same signing key is reused: {keys:?}");
    let verifier = koolicense_verify::Verifier::new([koolicense_verify::PublicKey::parse(
        keys[0]["public_key_pem"].as_str().expect("pem"),
    )
    .expect("public key")]);

    eprintln!("crash test: restarted in {:?}", restarted.elapsed());
    let rechecked = Instant::now();
    let chunk = acknowledged.len().div_ceil(CLIENTS).max(1);
    std::thread::scope(|s| {
        for part in acknowledged.chunks(chunk) {
            let (url, verifier) = (&url, &verifier);
            s.spawn(move || {
                let agent = client();
                for (order, instance, license) in part {
                    let (again_instance, again_license) = get_license(&agent, url, order)
                        .unwrap_or_else(|e| panic!("{} after restart: {e}", order.order_id));
                    assert_eq!(&again_instance, instance, "{}", order.order_id);
                    assert_eq!(&again_license, license, "{}", order.order_id);
                    verifier
                        .verify_now(license)
                        .unwrap_or_else(|e| panic!("{}: {e}", order.order_id));
                }
            });
        }
    });

    // A call the kill cut off is retried by the marketplace: it must now succeed, once.
    let agent = client();
    for order in &cut_off {
        let (instance, license) = get_license(&agent, &url, order)
            .unwrap_or_else(|e| panic!("retry of cut-off {}: {e}", order.order_id));
        verifier.verify_now(&license).expect("verifies");
        assert_eq!(
            get_license(&agent, &url, order).expect("again"),
            (instance, license)
        );
    }
    eprintln!(
        "crash test: {} licenses re-fetched and verified in {:?}",
        acknowledged.len(),
        rechecked.elapsed()
    );
}
