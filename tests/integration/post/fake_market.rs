//! A fake KooMarket open API on 127.0.0.1:0: it checks the APIG `SDK-HMAC-SHA256` signature of
//! every call with its own implementation of spec §2.7 (tested against the spec's vector below),
//! answers the license upload, order query, code activation and code query, records what it
//! received, and can be told to fail, delay or hang.

use std::collections::HashMap;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::support::{hmac_sha256, AK, SK};

const API: &str = "/api/mkp-openapi-public/global/v1";

/// An authorization code the fake marketplace knows.
#[derive(Clone, Debug)]
pub(crate) struct FakeCode {
    pub(crate) status: &'static str,
    pub(crate) expire_time: String,
    pub(crate) product_id: String,
    pub(crate) amount: u32,
    pub(crate) claimed: bool,
    pub(crate) activated: bool,
}

impl FakeCode {
    pub(crate) fn alive(product_id: &str, amount: u32) -> FakeCode {
        FakeCode {
            status: "ALIVE",
            expire_time: (chrono::Utc::now() + chrono::Duration::days(365))
                .format("%Y%m%d%H%M%S")
                .to_string(),
            product_id: product_id.into(),
            amount,
            claimed: true,
            activated: false,
        }
    }
}

/// An order line the fake marketplace knows.
#[derive(Clone, Debug)]
pub(crate) struct FakeOrder {
    pub(crate) product_id: String,
    pub(crate) linear_value: u32,
    pub(crate) expire_time: Option<String>,
}

/// What the fake does and what it saw.
#[derive(Default)]
pub(crate) struct FakeState {
    /// Answer the next N uploads with HTTP 500.
    pub(crate) fail_uploads: u32,
    /// Answer the next N order queries with HTTP 500.
    pub(crate) fail_queries: u32,
    /// Answer every code call with HTTP 500.
    pub(crate) fail_codes: bool,
    /// Hang (4 s, beyond the service's timeout) on the next N calls.
    pub(crate) hang_next: u32,
    /// Delay every answer.
    pub(crate) delay_ms: u64,
    /// Hold every call (answer nothing) while set: a marketplace that does not answer.
    pub(crate) hold: bool,
    /// Calls being held right now.
    pub(crate) held: u32,
    /// Calls whose signature did not verify (must stay 0).
    pub(crate) bad_signatures: u32,
    /// Acknowledged uploads: (event_id, characters).
    pub(crate) uploads: Vec<(String, String)>,
    /// Order queries: (orderId, orderLineId).
    pub(crate) order_queries: Vec<(String, String)>,
    /// Activation calls (code).
    pub(crate) activations: Vec<String>,
    /// Query (heartbeat) calls (code).
    pub(crate) queries: Vec<String>,
    pub(crate) codes: HashMap<String, FakeCode>,
    /// Orders by orderId; others get the default order.
    pub(crate) orders: HashMap<String, FakeOrder>,
}

impl FakeState {
    pub(crate) fn uploads_for(&self, event_id: &str) -> Vec<String> {
        self.uploads
            .iter()
            .filter(|(e, _)| e == event_id)
            .map(|(_, c)| c.clone())
            .collect()
    }
}

/// RFC 3986 encoding of every byte outside `A-Za-z0-9-_.~` (upper-case hex).
fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The APIG signature (spec §2.7) of a request, from its parts.
pub(crate) fn apig_signature(
    method: &str,
    path: &str,
    query: &str,
    signed: &[(String, String)],
    body: &[u8],
    sk: &str,
    sdk_date: &str,
) -> String {
    let mut uri: String = decode(path)
        .split(|&b| b == b'/')
        .map(encode)
        .collect::<Vec<_>>()
        .join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let mut headers = signed.to_vec();
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", v.trim()))
        .collect();
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let canonical = format!(
        "{method}\n{uri}\n{}\n{canonical_headers}\n{}\n{}",
        query.join("&"),
        names.join(";"),
        hex::encode(Sha256::digest(body))
    );
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    hex::encode(hmac_sha256(sk.as_bytes(), to_sign.as_bytes()))
}

fn verify(req: &HttpRequest, body: &[u8]) -> bool {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let auth = header("authorization");
    let Some(rest) = auth.strip_prefix("SDK-HMAC-SHA256 ") else {
        return false;
    };
    let mut access = "";
    let mut names = "";
    let mut signature = "";
    for part in rest.split(", ") {
        match part.split_once('=') {
            Some(("Access", v)) => access = v,
            Some(("SignedHeaders", v)) => names = v,
            Some(("Signature", v)) => signature = v,
            _ => {}
        }
    }
    let names: Vec<&str> = names.split(';').collect();
    if access != AK || !names.contains(&"host") || !names.contains(&"x-sdk-date") {
        return false;
    }
    let signed: Vec<(String, String)> = names.iter().map(|n| (n.to_string(), header(n))).collect();
    let expected = apig_signature(
        req.method().as_str(),
        req.path(),
        req.query_string(),
        &signed,
        body,
        SK,
        &header("x-sdk-date"),
    );
    expected == signature
}

fn ok(data: Option<Value>) -> HttpResponse {
    let mut body = json!({"error_code": "92020000", "error_msg": "success"});
    if let Some(data) = data {
        body["data"] = data;
    }
    HttpResponse::Ok().json(body)
}

fn error(code: &str, msg: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"error_code": code, "error_msg": msg}))
}

fn internal() -> HttpResponse {
    HttpResponse::InternalServerError()
        .json(json!({"error_code": "92020001", "error_msg": "internal error"}))
}

/// The `isvUpdateFileReq` part of a multipart upload.
fn upload_part(req: &HttpRequest, body: &[u8]) -> Option<Value> {
    let content_type = req.headers().get("content-type")?.to_str().ok()?;
    let boundary = content_type.split("boundary=").nth(1)?.trim();
    let text = std::str::from_utf8(body).ok()?;
    text.split(&format!("--{boundary}"))
        .find(|part| part.contains("name=\"isvUpdateFileReq\""))
        .and_then(|part| part.split("\r\n\r\n").nth(1))
        .and_then(|json| serde_json::from_str(json.trim_end()).ok())
}

fn code_info(code: &str, c: &FakeCode) -> Value {
    json!({"license_code": code, "status": c.status, "activate_time": "20240101000000",
           "expire_time": c.expire_time, "product_id": c.product_id, "amount": c.amount,
           "order_id": format!("CS-{code}")})
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<FakeState>>>,
) -> HttpResponse {
    let held = {
        let mut s = state.lock();
        let held = s.hold && verify(&req, &body);
        s.held += u32::from(held);
        held
    };
    if held {
        while state.lock().hold {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        state.lock().held -= 1;
    }
    let (hang, delay) = {
        let mut s = state.lock();
        if !verify(&req, &body) {
            s.bad_signatures += 1;
            return HttpResponse::Unauthorized().json(json!({"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information"}));
        }
        let hang = s.hang_next > 0;
        if hang {
            s.hang_next -= 1;
        }
        (hang, s.delay_ms)
    };
    if hang {
        // Long past the service's timeout; the service has given up on this call by now.
        actix_web::rt::time::sleep(Duration::from_secs(4)).await;
        return HttpResponse::GatewayTimeout().finish();
    }
    if delay > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    let path = req.path().to_string();
    let mut s = state.lock();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let code = json_body["license"].as_str().unwrap_or("").to_string();
    if path == format!("{API}/license/activate") {
        s.activations.push(code.clone());
        if s.fail_codes {
            return internal();
        }
        let Some(c) = s.codes.get_mut(&code) else {
            return error("92020005", "license code notexist");
        };
        if !c.claimed {
            return error("92020004", "can not active before user received.");
        }
        if c.activated {
            return error("92020003", "illegal state");
        }
        c.activated = true;
        let info = code_info(&code, c).to_string();
        return ok(Some(json!({ "license_code_info": info })));
    }
    if path == format!("{API}/license/heartbeat") {
        s.queries.push(code.clone());
        if s.fail_codes {
            return internal();
        }
        return match s.codes.get(&code) {
            None => error("92020005", "license code notexist"),
            Some(c) if !c.activated => error("92020011", "license code has been not activated."),
            Some(c) => ok(Some(code_info(&code, c))),
        };
    }
    if let Some(event) = path
        .strip_prefix(&format!("{API}/market-event/"))
        .and_then(|p| p.strip_suffix("/file"))
    {
        if s.fail_uploads > 0 {
            s.fail_uploads -= 1;
            return internal();
        }
        let Some(part) = upload_part(&req, &body) else {
            return HttpResponse::BadRequest()
                .json(json!({"error_code": "CBC.0101", "error_msg": "Invalid parameter"}));
        };
        if part["type"] != "CHARACTERS" {
            return HttpResponse::BadRequest()
                .json(json!({"error_code": "CBC.0101", "error_msg": "Invalid parameter"}));
        }
        let event = String::from_utf8_lossy(&decode(event)).into_owned();
        let characters = part["characters"].as_str().unwrap_or("").to_string();
        s.uploads.push((event, characters));
        return HttpResponse::Ok().json(json!({"error_code": "CBC.0000", "error_msg": "Success"}));
    }
    if path == format!("{API}/order/query") {
        let query: HashMap<String, String> = form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
        let order_id = query.get("orderId").cloned().unwrap_or_default();
        let line_id = query.get("orderLineId").cloned().unwrap_or_default();
        s.order_queries.push((order_id.clone(), line_id.clone()));
        if s.fail_queries > 0 {
            s.fail_queries -= 1;
            return internal();
        }
        let order = s.orders.get(&order_id).cloned().unwrap_or(FakeOrder {
            product_id: "P-HW".into(),
            linear_value: 1,
            expire_time: Some(
                (chrono::Utc::now() + chrono::Duration::days(365))
                    .format("%Y%m%d%H%M%S")
                    .to_string(),
            ),
        });
        let created = (chrono::Utc::now() - chrono::Duration::days(1))
            .format("%Y%m%d%H%M%S")
            .to_string();
        let mut line = json!({"orderLineId": line_id, "productId": order.product_id,
                              "productName": "Test product", "skuCode": "SKU-1", "linearValue": order.linear_value});
        if let Some(expiry) = order.expire_time {
            line["expireTime"] = json!(expiry);
        }
        return HttpResponse::Ok().json(json!({"resultCode": "MKT.0000", "resultMsg": "success",
            "orderInfo": {"orderId": order_id, "orderType": "NEW", "createTime": created, "orderLine": [line]}}));
    }
    HttpResponse::NotFound()
        .json(json!({"error_code": "APIGW.0101", "error_msg": "The API does not exist"}))
}

/// The running fake.
pub(crate) struct FakeMarket {
    pub(crate) port: u16,
    pub(crate) state: Arc<Mutex<FakeState>>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl FakeMarket {
    pub(crate) fn start() -> FakeMarket {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let shared = state.clone();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::new(shared);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .default_service(web::to(handle))
                })
                .workers(2)
                .disable_signals()
                .shutdown_timeout(1)
                .listen(listener)
                .expect("listen")
                .run();
                tx.send(server.handle()).expect("send");
                server.await.expect("fake marketplace");
            });
        });
        let handle = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("fake started");
        FakeMarket {
            port,
            state,
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeMarket {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            actix_web::rt::System::new().block_on(self.handle.stop(false));
            let _ = thread.join();
        }
    }
}

#[test]
fn the_fake_checks_apig_signatures_like_the_spec_vector() {
    let headers = [
        ("content-type".to_string(), "application/json".to_string()),
        ("host".to_string(), "mkt.myhuaweicloud.com".to_string()),
        ("x-sdk-date".to_string(), "20240317T144237Z".to_string()),
        ("x-stage".to_string(), "RELEASE".to_string()),
    ];
    let sig = apig_signature(
        "POST",
        "/api/mkp-openapi-public/global/v1/license/activate",
        "",
        &headers,
        b"",
        "123",
        "20240317T144237Z",
    );
    assert_eq!(
        sig,
        "77595ad624b6e4e49990b8c4e84bf1c287457fca61069c4e60b9b6765b52053d"
    );
}
