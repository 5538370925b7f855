//! One answer of the production interface and the contract every answer must meet (§2.4, §7):
//! HTTP 200, `Content-Type: application/json`, a `Body-Sign` over the exact body bytes, and a
//! JSON body with `resultCode` and `resultMsg`.

use serde_json::Value;

use crate::market;

/// One JSON answer of the production interface, already checked against the contract.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The exact body bytes.
    pub(crate) body: Vec<u8>,
    /// The parsed body.
    pub(crate) json: Value,
    /// The `Body-Sign` header.
    pub(crate) body_sign: String,
}

impl Answer {
    /// `resultCode`.
    pub(crate) fn code(&self) -> &str {
        self.json["resultCode"].as_str().unwrap_or("<missing>")
    }

    /// `instanceId` (panics when absent).
    pub(crate) fn instance_id(&self) -> &str {
        self.json["instanceId"]
            .as_str()
            .unwrap_or_else(|| panic!("no instanceId in {}", self.json))
    }

    /// `license` (panics when absent).
    pub(crate) fn license(&self) -> &str {
        self.json["license"]
            .as_str()
            .unwrap_or_else(|| panic!("no license in {}", self.json))
    }

    /// Asserts the result code, showing the whole answer otherwise.
    #[track_caller]
    pub(crate) fn expect(&self, code: &str) -> &Answer {
        assert_eq!(self.code(), code, "unexpected answer {}", self.json);
        self
    }
}

/// An answer as received, before any check.
#[derive(Debug)]
pub(crate) struct RawAnswer {
    status: u16,
    content_type: Option<String>,
    body_sign: Option<String>,
    body: Vec<u8>,
}

impl RawAnswer {
    /// Reads the whole response; fails if the connection is cut while reading.
    pub(crate) fn read(response: ureq::Response) -> std::io::Result<RawAnswer> {
        let status = response.status();
        let content_type = response.header("Content-Type").map(str::to_owned);
        let body_sign = response.header("Body-Sign").map(str::to_owned);
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut body)?;
        Ok(RawAnswer {
            status,
            content_type,
            body_sign,
            body,
        })
    }

    /// Asserts HTTP 200, `Content-Type: application/json` and a Body-Sign valid for
    /// `answer_key`, then parses.
    #[track_caller]
    pub(crate) fn check(self, answer_key: &str) -> Answer {
        assert_eq!(self.status, 200);
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json"),
            "content type"
        );
        let body_sign = self.body_sign.expect("every answer carries Body-Sign");
        let body = self.body;
        assert!(
            market::body_sign_is_valid(answer_key, &body, &body_sign),
            "Body-Sign {body_sign:?} does not match the body {}",
            String::from_utf8_lossy(&body)
        );
        let json: Value = serde_json::from_slice(&body).expect("the body is JSON");
        assert!(json["resultCode"].is_string(), "{json}");
        assert!(json["resultMsg"].is_string(), "{json}");
        Answer {
            body,
            json,
            body_sign,
        }
    }
}

/// Reads a response and checks the contract (see [`RawAnswer::check`]).
#[track_caller]
pub(crate) fn check_contract(response: ureq::Response, answer_key: &str) -> Answer {
    RawAnswer::read(response)
        .expect("read the body")
        .check(answer_key)
}
