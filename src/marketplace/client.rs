//! The HTTP client of the marketplace open APIs: every request signed with APIG
//! `SDK-HMAC-SHA256` (spec §2.7), strict TLS (rustls with the webpki roots; plain http only to a
//! loopback host, for the test marketplace), no redirects, bounded timeouts, and one retry on the
//! fallback domain when the primary cannot be reached at all ("域名不可用时…进行重试"). API errors
//! are never retried here: the caller (the outbox, or activation) decides.
//!
//! Calls: license upload (§6.6), order query (§6.7), authorization-code activation (§5.3.1) and
//! query/heartbeat (§5.3.2). Answers are parsed leniently (unknown fields ignored, `data`
//! optional), as the compatibility rule of §5.3 asks.

use std::time::Duration;

use serde_json::{json, Value};

use super::apig::{sdk_date_now, sign_request, ApigCredentials};
use super::{code_info, order_details, ApiCode, MarketError};
use crate::koomarket::auth::SecretKey;
use crate::koomarket::percent::encode_rfc3986;
use crate::licensing::{CodeInfo, OrderDetails};
use crate::settings::{allowed_base_url, MarketplaceSettings};

const API: &str = "/api/mkp-openapi-public/global/v1";
const JSON_TYPE: &str = "application/json;charset=UTF-8";
/// Characters of an answer kept in an error message.
const SNIPPET: usize = 300;

/// The open-API client (cheap to share; the agent pools connections).
pub(crate) struct MarketClient {
    agent: ureq::Agent,
    bases: Vec<String>,
    creds: Option<ApigCredentials>,
}

impl std::fmt::Debug for MarketClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketClient")
            .field("bases", &self.bases)
            .field("configured", &self.creds.is_some())
            .finish()
    }
}

impl MarketClient {
    /// A client for the configured marketplace.
    pub(crate) fn new(settings: &MarketplaceSettings) -> anyhow::Result<MarketClient> {
        let mut bases = vec![settings.base_url.trim_end_matches('/').to_string()];
        if !settings.fallback_base_url.is_empty() {
            bases.push(settings.fallback_base_url.trim_end_matches('/').to_string());
        }
        if let Some(bad) = bases.iter().find(|b| !allowed_base_url(b)) {
            anyhow::bail!("marketplace URL {bad:?} must be https (http only to a loopback host)");
        }
        let creds = match (&settings.access_key_id, &settings.secret_access_key) {
            (Some(ak), Some(sk)) if !ak.expose().is_empty() && !sk.expose().is_empty() => {
                let sk = SecretKey::new(sk.expose().to_string())
                    .map_err(|e| anyhow::anyhow!("marketplace secret_access_key: {e}"))?;
                Some(
                    ApigCredentials::new(ak.expose().to_string(), sk)
                        .map_err(|e| anyhow::anyhow!("marketplace access_key_id: {e}"))?,
                )
            }
            _ => None,
        };
        let timeout = Duration::from_secs(settings.timeout_secs);
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout)
            .timeout(timeout)
            .redirects(0)
            .user_agent(concat!("koolicense/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(MarketClient {
            agent,
            bases,
            creds,
        })
    }

    /// Whether AK/SK are configured.
    pub(crate) fn configured(&self) -> bool {
        self.creds.is_some()
    }

    /// Sends one signed request to the primary base URL, or to the fallback when the primary
    /// cannot be reached. Returns the HTTP status and body of any answer.
    fn send(
        &self,
        method: &str,
        path_and_query: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, String), MarketError> {
        let creds = self.creds.as_ref().ok_or(MarketError::NotConfigured)?;
        let mut last = MarketError::NotConfigured;
        for (i, base) in self.bases.iter().enumerate() {
            let url = format!("{base}{path_and_query}");
            let headers = [("Content-Type".to_string(), content_type.to_string())];
            let signed = sign_request(creds, method, &url, &headers, body, &sdk_date_now())
                .map_err(|e| MarketError::BadRequest(e.to_string()))?;
            let mut request = self
                .agent
                .request(method, &url)
                .set("Content-Type", content_type);
            for (name, value) in signed.iter() {
                request = request.set(name, value);
            }
            let result = if body.is_empty() && method == "GET" {
                request.call()
            } else {
                request.send_bytes(body)
            };
            let response = match result {
                Ok(r) => r,
                Err(ureq::Error::Status(_, r)) => r,
                Err(ureq::Error::Transport(t)) => {
                    let unreachable = matches!(
                        t.kind(),
                        ureq::ErrorKind::Dns | ureq::ErrorKind::ConnectionFailed
                    );
                    if unreachable {
                        last = MarketError::Unreachable(format!("{base}: {t}"));
                        if i + 1 < self.bases.len() {
                            tracing::warn!(%base, error = %t, "marketplace unreachable; trying the fallback domain");
                        }
                        continue;
                    }
                    return Err(MarketError::Transport(format!("{base}: {t}")));
                }
            };
            let status = response.status();
            let text = response
                .into_string()
                .map_err(|e| MarketError::Transport(format!("{base}: reading the answer: {e}")))?;
            return Ok((status, text));
        }
        Err(last)
    }

    /// Delivers a license string for a getLicenseAsync event (§6.6, type `CHARACTERS`).
    ///
    /// UNCONFIRMED: the multipart layout is documented only for `FILE`; for `CHARACTERS` the
    /// request carries the same `isvUpdateFileReq` JSON part without a `file` part.
    pub(crate) fn upload_license(
        &self,
        event_id: &str,
        characters: &str,
    ) -> Result<(), MarketError> {
        if characters.chars().count() > 1024 {
            return Err(MarketError::BadRequest(
                "a CHARACTERS upload is limited to 1024 characters".into(),
            ));
        }
        let boundary = format!("koolicense-{}", uuid::Uuid::new_v4().simple());
        let part = json!({ "type": "CHARACTERS", "characters": characters }).to_string();
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"isvUpdateFileReq\"\r\n\
             Content-Type: application/json\r\n\r\n{part}\r\n--{boundary}--\r\n"
        );
        let path = format!(
            "{API}/market-event/{}/file",
            encode_rfc3986(event_id.as_bytes())
        );
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let (status, text) = self.send("POST", &path, &content_type, body.as_bytes())?;
        envelope(status, &text).map(|_| ())
    }

    /// Reads an order's details (§6.7).
    pub(crate) fn query_order(
        &self,
        order_id: &str,
        order_line_id: &str,
    ) -> Result<OrderDetails, MarketError> {
        let path = format!(
            "{API}/order/query?orderId={}&orderLineId={}",
            encode_rfc3986(order_id.as_bytes()),
            encode_rfc3986(order_line_id.as_bytes())
        );
        let (status, text) = self.send("GET", &path, JSON_TYPE, b"")?;
        let value: Value = serde_json::from_str(&text).map_err(|_| http_or_bad(status, &text))?;
        match value.get("orderInfo") {
            Some(info) if info.is_object() => Ok(order_details(info, order_line_id)),
            // UNCONFIRMED: the success value of `resultCode` is not documented; an answer with
            // `orderInfo` is a success, one without is an error.
            _ => Err(MarketError::Api {
                code: ApiCode::parse(text_field(&value, "resultCode").unwrap_or("")),
                message: text_field(&value, "resultMsg")
                    .unwrap_or("")
                    .chars()
                    .take(SNIPPET)
                    .collect(),
            }),
        }
    }

    /// Activates an authorization code (§5.3.1). `Ok(None)` when the answer carries no
    /// `data` (an older revision of the API).
    pub(crate) fn activate_code(&self, code: &str) -> Result<Option<CodeInfo>, MarketError> {
        let body = json!({ "license": code }).to_string();
        let (status, text) = self.send(
            "POST",
            &format!("{API}/license/activate"),
            JSON_TYPE,
            body.as_bytes(),
        )?;
        let value = envelope(status, &text)?;
        Ok(value
            .get("data")
            .and_then(|d| d.get("license_code_info"))
            .map(code_info))
    }

    /// Queries an authorization code's status and validity (§5.3.2, formerly the heartbeat).
    pub(crate) fn query_code(&self, code: &str) -> Result<CodeInfo, MarketError> {
        let body = json!({ "license": code }).to_string();
        let (status, text) = self.send(
            "POST",
            &format!("{API}/license/heartbeat"),
            JSON_TYPE,
            body.as_bytes(),
        )?;
        let value = envelope(status, &text)?;
        value
            .get("data")
            .map(code_info)
            .ok_or_else(|| MarketError::BadResponse("the query answer carries no data".into()))
    }
}

fn text_field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

fn http_or_bad(status: u16, text: &str) -> MarketError {
    let snippet: String = text.chars().take(SNIPPET).collect();
    if (200..300).contains(&status) {
        MarketError::BadResponse(snippet)
    } else {
        MarketError::Http { status, snippet }
    }
}

/// Checks the `error_code`/`error_msg` envelope of the License 2.0 and upload APIs: `92020000`
/// and `CBC.0000` are success, anything else a typed error. Returns the parsed answer.
fn envelope(status: u16, text: &str) -> Result<Value, MarketError> {
    let value: Value = serde_json::from_str(text).map_err(|_| http_or_bad(status, text))?;
    let Some(code) = text_field(&value, "error_code") else {
        return Err(http_or_bad(status, text));
    };
    match ApiCode::parse(code) {
        ApiCode::Success => Ok(value),
        code => Err(MarketError::Api {
            code,
            message: text_field(&value, "error_msg")
                .unwrap_or("")
                .chars()
                .take(SNIPPET)
                .collect(),
        }),
    }
}
