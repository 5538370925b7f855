//! The merchant console: its session endpoints and headers over HTTP (`session`), and its pages
//! in a real headless Chromium (`pages`, `offline`, `screenshots`, harness in `driver`).

mod driver;
mod leases;
mod offline;
mod pages;
mod screenshots;
mod session;

use serde_json::{json, Value};

use crate::api::ApiApp;
use crate::helpers::Order;

/// A customer name a cheating buyer might choose.
pub(crate) const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>";

/// A signed-in console session as a plain HTTP client holds it.
pub(crate) struct ConsoleSession {
    /// `koolicense_session=<id>`.
    pub(crate) cookie: String,
    /// The raw `Set-Cookie` header of the sign-in.
    pub(crate) set_cookie: String,
    /// The session's CSRF token.
    pub(crate) csrf: String,
    /// The sign-in answer.
    pub(crate) body: Value,
}

/// The answer of a request: status, JSON body, and its headers of interest.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) set_cookie: Option<String>,
}

/// A request with optional cookie, CSRF header, extra header and JSON body.
pub(crate) fn send(
    app: &ApiApp,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Answer {
    send_with(app, method, path, cookie, csrf, None, body)
}

/// As [`send`], with one extra header.
pub(crate) fn send_with(
    app: &ApiApp,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
    header: Option<(&str, &str)>,
    body: Option<Value>,
) -> Answer {
    let url = format!("{}{path}", app.app.base_url());
    let mut request = app.app.agent().request(method, &url);
    if let Some(cookie) = cookie {
        request = request.set("Cookie", cookie);
    }
    if let Some(csrf) = csrf {
        request = request.set("X-CSRF-Token", csrf);
    }
    if let Some((name, value)) = header {
        request = request.set(name, value);
    }
    let result = match body {
        Some(body) => request.send_json(body),
        None => request.call(),
    };
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let set_cookie = response.header("Set-Cookie").map(str::to_owned);
    let text = response.into_string().expect("body");
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        set_cookie,
    }
}

/// `POST /console/session` with `token`, and an extra header.
pub(crate) fn post_sign_in(app: &ApiApp, token: &str, header: Option<(&str, &str)>) -> Answer {
    let body = Some(json!({ "token": token }));
    send_with(app, "POST", "/console/session", None, None, header, body)
}

/// Signs in with `token` over HTTP.
#[track_caller]
pub(crate) fn sign_in(app: &ApiApp, token: &str) -> ConsoleSession {
    let answer = post_sign_in(app, token, None);
    assert_eq!(answer.status, 201, "{}", answer.body);
    let set_cookie = answer.set_cookie.expect("a session cookie");
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    ConsoleSession {
        cookie,
        set_cookie,
        csrf: answer.body["csrf_token"]
            .as_str()
            .expect("csrf token")
            .to_owned(),
        body: answer.body,
    }
}

/// Provisions a license for a new order with `customer_name`; returns its license record.
pub(crate) fn license_for(app: &ApiApp, customer_name: &str) -> Value {
    let order = Order::new().with("customerName", customer_name);
    app.app.provision(&order);
    app.license_of_order(&order.order_id)
}
