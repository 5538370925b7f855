//! What an operator sees: Prometheus metrics (for a read token, or on the internal address
//! without one) and a request id on every answer and every log line of a request.

use std::collections::BTreeMap;
use std::net::TcpListener;

use crate::api::{assert_error, spawn_api_app_with, ApiApp};
use crate::binary::Server;
use crate::helpers::{new_dir, spawn_app_with, Config, Order};
use crate::market::{pairs, signed_query, KEY};

fn scrape(api: &ApiApp) -> String {
    let reply = api.get("/metrics", &api.read);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .content_type
            .starts_with("application/openmetrics-text"),
        "{}",
        reply.content_type
    );
    reply.text
}

/// The value of the sample `name{labels}` (labels as written), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split(' ').next()?.parse().ok())
}

#[test]
fn metrics_count_answers_time_routes_and_storage_for_a_read_token() {
    let api = spawn_api_app_with(Config::default());
    assert_error(
        &api.request("GET", "/metrics", None, None),
        401,
        "unauthorized",
    );
    api.app.provision(&Order::new());
    api.app
        .call("getLicense", &[("orderId", "CS-1")])
        .expect("000002");
    let unsigned = pairs(&[("activity", "getLicense"), ("orderId", "CS-2")]);
    let query = format!("{}&authToken=forged", signed_query("wrong-key", &unsigned));
    let url = format!("{}?{query}", api.app.market_url());
    let _ = api.app.agent().get(&url).call().expect("answered");
    let probe = api.get("/v1/licenses/L-raw-path-probe", &api.read);
    assert_eq!(probe.status, 404, "{}", probe.text);

    let text = scrape(&api);
    let answers = |code: &str| {
        sample(
            &text,
            &format!(
                "koolicense_koomarket_answers_total{{interface=\"get\",activity=\"getLicense\",result_code=\"{code}\"}}"
            ),
        )
    };
    assert_eq!(answers("000000"), Some(1.0), "{text}");
    assert_eq!(answers("000002"), Some(1.0), "{text}");
    assert_eq!(answers("000001"), Some(1.0), "{text}");
    assert!(
        sample(&text, "koolicense_storage_group_commit_batches_count").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "koolicense_storage_flush_duration_seconds_count").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "koolicense_http_request_duration_seconds_count{method=\"GET\",route=\"/koomarket/license\"}"
        ) >= Some(3.0),
        "{text}"
    );
    assert!(
        text.contains("route=\"/v1/licenses/{id}\"") && !text.contains("L-raw-path-probe"),
        "routes are labelled by pattern, never by raw path:\n{text}"
    );
    assert!(
        sample(&text, "koolicense_revocation_sequence").is_some(),
        "{text}"
    );
    for family in [
        "koolicense_outbox_jobs{state=\"pending\"}",
        "koolicense_outbox_jobs{state=\"failed\"}",
        "koolicense_outbox_jobs_retrying",
        "koolicense_outbox_oldest_pending_age_seconds",
    ] {
        assert!(text.contains(family), "{family} missing:\n{text}");
    }
    // Licenses by state are counted with the writes: the first scrape after one shows it.
    assert_eq!(
        sample(&text, "koolicense_licenses{state=\"active\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "koolicense_licenses{state=\"released\"}"),
        Some(0.0),
        "{text}"
    );
}

#[test]
fn the_internal_metrics_address_serves_metrics_without_a_token_and_nothing_else() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let app = spawn_app_with(Config {
        metrics_listen: Some(addr),
        ..Config::default()
    });
    app.provision(&Order::new());
    let response = app
        .agent()
        .get(&format!("http://{addr}/metrics"))
        .call()
        .expect("metrics without a token");
    let text = response.into_string().expect("text");
    assert!(
        text.contains("koolicense_koomarket_answers_total"),
        "{text}"
    );
    for path in ["/v1/licenses", "/healthz"] {
        match app.agent().get(&format!("http://{addr}{path}")).call() {
            Err(ureq::Error::Status(404, _)) => {}
            other => panic!("{path} on the metrics address: {other:?}"),
        }
    }
}

#[test]
fn every_answer_names_a_fresh_request_id() {
    let app = spawn_app_with(Config {
        rate_limits: Some((1000, 1000, 1, 2)),
        ..Config::default()
    });
    let mut ids = Vec::new();
    for path in ["/healthz", "/nope", "/readyz", "/readyz", "/readyz"] {
        let url = format!("{}{path}", app.base_url());
        let response = match app.agent().get(&url).call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let id = response
            .header("X-Request-Id")
            .expect("X-Request-Id")
            .to_owned();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "fresh per request, also on 404 and 429");
}

/// Starts the binary under `dir` logging at info in `format` to a file; returns the file's path.
fn logging_server(dir: &std::path::Path, format: &str) -> (Server, std::path::PathBuf) {
    let log = dir.join("server.log");
    let server = Server::start(
        &dir.join("data"),
        log.clone(),
        &[
            ("KOOLICENSE_LOG", "info"),
            ("KOOLICENSE_LOG_FORMAT", format),
        ],
    );
    (server, log)
}

#[test]
fn a_log_written_to_a_file_is_plain_text_without_colour_codes() {
    let dir = new_dir();
    let (mut server, log) = logging_server(dir.path(), "text");
    server.kill();
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("koolicense listening"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a file break grep and log parsers: {text:?}"
    );
}

#[test]
fn every_log_line_of_a_request_carries_its_id_also_from_the_blocking_pool() {
    let dir = new_dir();
    let (mut server, log) = logging_server(dir.path(), "json");
    // Without marketplace credentials activation fails inside blocking work, which logs why.
    let response =
        ureq::post(&format!("{}/v1/activate", server.url)).send_json(serde_json::json!({
            "authorization_code": "PL-LOGGED",
            "hardware_identifier": "00:1A:2B:3C:4D:5E|S1|B1|C1"
        }));
    let response = match response {
        Err(ureq::Error::Status(503, r)) => r,
        other => panic!("expected 503: {other:?}"),
    };
    let id = response.header("X-Request-Id").expect("id").to_owned();
    let order = Order::new();
    let query = signed_query(KEY, &order.params());
    let answer = ureq::get(&format!("{}?{query}", server.market_url()))
        .call()
        .expect("getLicense");
    let market_id = answer.header("X-Request-Id").expect("id").to_owned();
    let forged = signed_query("not-the-key", &Order::new().params());
    let failed = ureq::get(&format!("{}?{forged}", server.market_url()))
        .call()
        .expect("a rejected getLicense");
    let failed_id = failed.header("X-Request-Id").expect("id").to_owned();
    server.kill();

    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let of = |id: &str| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| l.to_string().contains(id))
            .collect()
    };
    let activation = of(&id);
    assert!(
        activation.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("authorization code failed"))),
        "the blocking pool's line carries the id: {activation:#?}\n{text}"
    );
    assert!(
        activation
            .iter()
            .any(|l| l["fields"]["message"] == "request" && l["fields"]["status"] == 503),
        "the access-log line carries the id: {activation:#?}"
    );
    let market = of(&market_id);
    let access: Vec<_> = market
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(access.len(), 1, "one line answers the call: {market:#?}");
    let span = &access[0]["span"];
    assert_eq!(span["activity"], "getLicense", "{span:#?}");
    assert_eq!(span["order_id"], order.order_id.as_str(), "{span:#?}");
    assert_eq!(span["result"], "000000", "{span:#?}");
    assert!(
        of(&failed_id).iter().any(|l| l["level"] == "WARN"
            && l["fields"]["result_code"] == "000001"
            && l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("toward delisting"))),
        "every failed answer is logged at WARN: {:#?}",
        of(&failed_id)
    );
    assert!(
        !text.contains("authToken"),
        "no line holds the production interface's query string"
    );
}

/// Lines of a JSON Lines export.
fn export(api: &ApiApp, what: &str) -> Vec<serde_json::Value> {
    let reply = api.get(&format!("/v1/export/{what}"), &api.read);
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .text
        .lines()
        .map(|line| serde_json::from_str(line).expect("json line"))
        .collect()
}

/// What `/v1/stats?include_test=true` must say, counted from the exports.
fn recount(api: &ApiApp) -> (BTreeMap<String, u64>, BTreeMap<String, (u64, u64)>) {
    let mut by_status = BTreeMap::new();
    let mut days: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let day = |at: &serde_json::Value| at.as_str().expect("time")[..10].to_owned();
    for license in export(api, "licenses") {
        let status = license["status"].as_str().expect("status").to_owned();
        *by_status.entry(status).or_default() += 1;
        days.entry(day(&license["created_at"])).or_default().0 += 1;
    }
    for event in export(api, "audit") {
        if event["actor"] == "koomarket" {
            days.entry(day(&event["at"])).or_default().1 += 1;
        }
    }
    (by_status, days)
}

#[test]
fn stats_and_gauges_equal_a_recount_of_the_exports_after_concurrent_calls_and_a_restart() {
    let api = spawn_api_app_with(Config::default());
    std::thread::scope(|s| {
        for t in 0..4 {
            let api = &api;
            s.spawn(move || {
                for i in 0..6 {
                    let order = if i % 3 == 0 {
                        Order::new().with("testFlag", "1")
                    } else {
                        Order::new()
                    };
                    let instance = api.app.provision(&order).instance_id().to_owned();
                    api.app.provision(&order); // a replay: the same license, one more call
                    if (t + i) % 2 == 0 {
                        for _ in 0..2 {
                            api.app
                                .call("releaseLicense", &[("instanceId", &instance)])
                                .expect("000000");
                        }
                    }
                }
            });
        }
    });
    let check = |api: &ApiApp| {
        let (by_status, days) = recount(api);
        assert_eq!(
            by_status.values().sum::<u64>(),
            24,
            "a replay adds no license"
        );
        assert_eq!(by_status["released"], 12);
        let stats = api.get("/v1/stats?days=2&include_test=true", &api.read);
        assert_eq!(stats.status, 200, "{}", stats.text);
        for (status, n) in stats.body["licenses_by_status"]
            .as_object()
            .expect("statuses")
        {
            let want = by_status.get(status).copied().unwrap_or(0);
            assert_eq!(n.as_u64(), Some(want), "{status}");
        }
        for day in stats.body["days"].as_array().expect("days") {
            let (issued, calls) = days
                .get(day["date"].as_str().expect("date"))
                .copied()
                .unwrap_or_default();
            assert_eq!(day["licenses_issued"].as_u64(), Some(issued), "{day}");
            assert_eq!(day["marketplace_events"].as_u64(), Some(calls), "{day}");
        }
        let text = scrape(api);
        for (status, n) in &by_status {
            let series = format!("koolicense_licenses{{state=\"{status}\"}}");
            assert_eq!(sample(&text, &series), Some(*n as f64), "{series}");
        }
    };
    check(&api);
    let api = ApiApp {
        app: api.app.restart(),
        ..api
    };
    check(&api);
}
