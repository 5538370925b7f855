//! Helpers for the merchant API: tokens created with the binary before the app starts (as an
//! operator would), and JSON calls with a bearer token.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{new_dir, try_spawn, Config, TestApp};

/// An app with a write token and a read token created by `koolicense token create`.
pub(crate) struct ApiApp {
    pub(crate) app: TestApp,
    pub(crate) write: String,
    pub(crate) read: String,
}

/// Runs `koolicense token create` on a stopped data directory and returns the token.
pub(crate) fn create_token_offline(data_dir: &Path, name: &str, scopes: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_koolicense"));
    command.args(["token", "create", "--name", name, "--data-dir"]);
    command.arg(data_dir);
    command.envs(crate::support::storage_env(data_dir));
    for scope in scopes {
        command.args(["--scope", scope]);
    }
    let output = command.output().expect("run koolicense token create");
    assert!(
        output.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(token.starts_with("klt_"), "{token}");
    token
}

/// Starts an app whose database already holds a write and a read token.
pub(crate) fn spawn_api_app_with(config: Config) -> ApiApp {
    let dir: Arc<TempDir> = new_dir();
    let data_dir = dir.path().join("data");
    crate::helpers::pin(&config, &data_dir);
    let write = create_token_offline(&data_dir, "ops", &["write"]);
    let read = create_token_offline(&data_dir, "reports", &["read"]);
    let app = try_spawn(config, dir).expect("the app starts");
    ApiApp { app, write, read }
}

pub(crate) fn spawn_api_app() -> ApiApp {
    spawn_api_app_with(Config::default())
}

/// A response: status, JSON body (Null when not JSON), and headers of interest.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) text: String,
    pub(crate) retry_after: Option<String>,
    pub(crate) content_type: String,
}

impl ApiApp {
    /// A request with an optional bearer token and JSON body.
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let url = format!("{}{path}", self.app.base_url());
        let mut request = self.app.agent().request(method, &url);
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
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
        let retry_after = response.header("Retry-After").map(str::to_owned);
        let content_type = response.content_type().to_owned();
        let text = response.into_string().expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            text,
            retry_after,
            content_type,
        }
    }

    pub(crate) fn get(&self, path: &str, token: &str) -> Reply {
        self.request("GET", path, Some(token), None)
    }

    pub(crate) fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request("POST", path, Some(token), Some(body))
    }

    /// The record of the license issued for `order_id`.
    pub(crate) fn license_of_order(&self, order_id: &str) -> Value {
        let reply = self.get(&format!("/v1/licenses?order_id={order_id}"), &self.read);
        assert_eq!(reply.status, 200, "{}", reply.text);
        let licenses = reply.body["licenses"].as_array().expect("licenses");
        assert_eq!(licenses.len(), 1, "{}", reply.text);
        licenses[0].clone()
    }
}

/// Asserts the stable error shape.
#[track_caller]
pub(crate) fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.body["code"], code, "{}", reply.text);
    assert!(reply.body["message"].is_string(), "{}", reply.text);
}
