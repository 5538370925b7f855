//! The delisting guard: failed answers summarised per day and activity, this month's failed
//! orders counted (tests apart), through the API, the command line and the metrics.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::spawn_api_app;
use crate::helpers::Order;
use crate::market::signed_query;

#[test]
fn failed_answers_are_summarised_and_failed_orders_counted_before_delisting() {
    let api = spawn_api_app();
    let app = &api.app;
    let forged = |order: &Order| {
        let url = format!(
            "{}?{}",
            app.market_url(),
            signed_query("not-the-key", &order.params())
        );
        let answer: Value = app
            .agent()
            .get(&url)
            .call()
            .expect("answered")
            .into_json()
            .expect("JSON");
        assert_eq!(answer["resultCode"], "000001");
    };
    let (a, b) = (Order::new(), Order::new());
    forged(&a);
    forged(&a);
    forged(&b);
    app.call("getLicense", &[("orderId", "CS-INCOMPLETE")])
        .expect("000002");
    app.call("getLicense", &[("orderId", "CS-TEST"), ("testFlag", "1")])
        .expect("000002");
    app.provision(&Order::new());

    let reply = api.get("/v1/marketplace/health", &api.read);
    assert_eq!(reply.status, 200, "{}", reply.text);
    let health = reply.body;
    assert_eq!(health["month"]["failed_orders"], 3, "{health:#}");
    assert_eq!(health["month"]["failed_answers"], 4, "{health:#}");
    assert_eq!(health["month"]["delisting_limit"], 5);
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string();
    let entry = health["days"]
        .as_array()
        .expect("days")
        .iter()
        .find(|d| d["activity"] == "getLicense")
        .expect("a getLicense entry");
    assert_eq!(entry["day"], today.as_str());
    assert_eq!(
        (entry["failed"].clone(), entry["failed_test"].clone()),
        (4.into(), 1.into())
    );
    assert_eq!(entry["result_codes"]["000001"], 3);
    assert_eq!(entry["result_codes"]["000002"], 2);

    let output = Command::new(env!("CARGO_BIN_EXE_koolicense"))
        .args([
            "marketplace",
            "health",
            "--url",
            &app.base_url(),
            "--token",
            &api.read,
        ])
        .env_remove("KOOLICENSE_API_TOKEN")
        .output()
        .expect("run the command");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("3 failed order(s)"), "{text}");
    assert!(text.contains("WARNING"), "{text}");
    assert!(text.contains(&format!("{today}  getLicense")), "{text}");

    // The metric an alert fires on.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = api.get("/metrics", &api.read).text;
        if metrics.contains("koolicense_marketplace_failed_orders_month 3") {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
