//! Outbound: every call this service makes to the marketplace. The open-API client
//! ([`client`]) with APIG `SDK-HMAC-SHA256` request signing ([`apig`]), the outbox worker that
//! makes the calls that must happen after an answer ([`outbox`]), the open APIs' typed errors
//! (spec §5.3.3, §6.6) and the reading of their answers into the core's values. The client is
//! the core's [`CodeDirectory`] (authorization-code activation and query).
//!
//! The inbound production interface (the marketplace calling this service) is `koomarket`.

pub(crate) mod apig;
pub(crate) mod client;
pub(crate) mod outbox;
pub(crate) mod pool;

use serde_json::Value;

use crate::koomarket::post_params::parse_market_time;
use crate::licensing::{CodeDirectory, CodeInfo, CodeLookupError, OrderDetails};
use crate::store::market_records::CodeStatus;

use self::client::MarketClient;

impl CodeDirectory for MarketClient {
    fn activate(&self, code: &str) -> Result<Option<CodeInfo>, CodeLookupError> {
        self.activate_code(code).map_err(lookup_error)
    }

    fn query(&self, code: &str) -> Result<CodeInfo, CodeLookupError> {
        self.query_code(code).map_err(lookup_error)
    }
}

fn lookup_error(e: MarketError) -> CodeLookupError {
    match e {
        MarketError::Api {
            code: ApiCode::NotExist,
            ..
        } => CodeLookupError::Unknown,
        MarketError::Api {
            code: ApiCode::NotReceived,
            ..
        } => CodeLookupError::NotClaimed,
        MarketError::Api {
            code: ApiCode::IllegalState,
            ..
        } => CodeLookupError::AlreadyActive,
        e @ MarketError::Api {
            code: ApiCode::InvalidParam | ApiCode::RequestInvalid,
            ..
        } => CodeLookupError::Refused(e.to_string()),
        e => CodeLookupError::Unavailable(e.to_string()),
    }
}

/// An open-API `error_code` (§5.3.3) or upload code (§6.6), typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ApiCode {
    /// 92020000 / CBC.0000.
    Success,
    /// 92020001 internal error.
    Internal,
    /// 92020002 invalid param.
    InvalidParam,
    /// 92020003 illegal state (e.g. the code is already active).
    IllegalState,
    /// 92020004 the buyer has not claimed (领取) the code yet.
    NotReceived,
    /// 92020005 no such code.
    NotExist,
    /// 92020011 the code is not activated.
    NotActivated,
    /// 92020020 invalid codes in a batch.
    InvalidCodes,
    /// 95000001 request parameter invalid.
    RequestInvalid,
    /// 95000002 method not supported.
    MethodNotSupported,
    /// 95000003 content type not supported.
    ContentTypeNotSupported,
    /// 95000004 body not readable.
    NotReadable,
    /// Anything else (`CBC.0101`, `CBC.0150`, gateway codes, …), verbatim.
    Other(String),
}

impl ApiCode {
    /// Types a code.
    pub(crate) fn parse(code: &str) -> ApiCode {
        match code.trim() {
            "92020000" | "CBC.0000" => ApiCode::Success,
            "92020001" => ApiCode::Internal,
            "92020002" => ApiCode::InvalidParam,
            "92020003" => ApiCode::IllegalState,
            "92020004" => ApiCode::NotReceived,
            "92020005" => ApiCode::NotExist,
            "92020011" => ApiCode::NotActivated,
            "92020020" => ApiCode::InvalidCodes,
            "95000001" => ApiCode::RequestInvalid,
            "95000002" => ApiCode::MethodNotSupported,
            "95000003" => ApiCode::ContentTypeNotSupported,
            "95000004" => ApiCode::NotReadable,
            other => ApiCode::Other(other.to_string()),
        }
    }

    /// The code as the marketplace writes it.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            ApiCode::Success => "92020000",
            ApiCode::Internal => "92020001",
            ApiCode::InvalidParam => "92020002",
            ApiCode::IllegalState => "92020003",
            ApiCode::NotReceived => "92020004",
            ApiCode::NotExist => "92020005",
            ApiCode::NotActivated => "92020011",
            ApiCode::InvalidCodes => "92020020",
            ApiCode::RequestInvalid => "95000001",
            ApiCode::MethodNotSupported => "95000002",
            ApiCode::ContentTypeNotSupported => "95000003",
            ApiCode::NotReadable => "95000004",
            ApiCode::Other(code) => code,
        }
    }
}

impl std::fmt::Display for ApiCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an open-API call failed. Never contains credentials.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum MarketError {
    /// No AK/SK configured.
    #[error("marketplace credentials (AK/SK) are not configured")]
    NotConfigured,
    /// Neither the primary nor the fallback domain could be reached.
    #[error("marketplace unreachable: {0}")]
    Unreachable(String),
    /// The connection broke or timed out after it was made.
    #[error("marketplace call failed: {0}")]
    Transport(String),
    /// An HTTP error without the marketplace's error envelope (e.g. a gateway page).
    #[error("marketplace answered HTTP {status}: {snippet}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        snippet: String,
    },
    /// The marketplace refused the call.
    #[error("marketplace error {code}: {message}")]
    Api {
        /// The typed code.
        code: ApiCode,
        /// `error_msg` / `resultMsg`.
        message: String,
    },
    /// The answer could not be understood.
    #[error("marketplace answer not understood: {0}")]
    BadResponse(String),
    /// The request could not be built (never sent).
    #[error("cannot build the marketplace request: {0}")]
    BadRequest(String),
}

impl MarketError {
    /// Errors that retrying the same request cannot fix: the request itself is wrong.
    pub(crate) fn is_permanent(&self) -> bool {
        match self {
            MarketError::BadRequest(_) => true,
            MarketError::Api { code, .. } => {
                matches!(
                    code,
                    ApiCode::InvalidParam
                        | ApiCode::RequestInvalid
                        | ApiCode::MethodNotSupported
                        | ApiCode::ContentTypeNotSupported
                        | ApiCode::NotReadable
                ) || code.as_str() == "CBC.0101"
            }
            _ => false,
        }
    }
}

fn field<'a>(v: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|n| v.get(*n))
        .filter(|v| !v.is_null())
}

fn text(v: &Value, names: &[&str]) -> Option<String> {
    match field(v, names)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(v: &Value, names: &[&str]) -> Option<u32> {
    match field(v, names)? {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads an authorization code as the marketplace describes it: activation's
/// `license_code_info` (an object, or a string holding one) or the query's `LicenseInfo`. Fields
/// after `activate_time` are UNCONFIRMED, so every field is optional and both snake and camel
/// case are read.
pub(crate) fn code_info(value: &Value) -> CodeInfo {
    let parsed;
    let v = match value {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            &parsed
        }
        other => other,
    };
    CodeInfo {
        status: text(v, &["status"]).and_then(|s| CodeStatus::parse(&s)),
        expires_at: text(v, &["expire_time", "expireTime"]).and_then(|t| parse_market_time(&t)),
        product_id: text(v, &["product_id", "productId"]),
        order_id: text(v, &["order_id", "orderId"]),
        amount: number(v, &["amount"]),
    }
}

/// Reads the order query's `orderInfo` (§6.7), taking the order line with `order_line_id` (or
/// the first one). Only `linearValue`, `productName`, `skuCode`, `productId` and `createTime`
/// are documented; the rest is read when present.
pub(crate) fn order_details(info: &Value, order_line_id: &str) -> OrderDetails {
    let lines = info.get("orderLine").and_then(Value::as_array);
    let line = lines
        .and_then(|l| {
            l.iter()
                .find(|line| text(line, &["orderLineId"]).as_deref() == Some(order_line_id))
                .or_else(|| l.first())
        })
        .cloned()
        .unwrap_or(Value::Null);
    let either = |names: &[&str]| text(&line, names).or_else(|| text(info, names));
    OrderDetails {
        product_id: either(&["productId"]),
        sku_code: either(&["skuCode"]),
        product_name: either(&["productName"]),
        amount: number(&line, &["linearValue", "amount", "quantity"]),
        charging_mode: either(&["chargingMode"]),
        period_type: either(&["periodType"]),
        expires_at: either(&["expireTime", "expiredTime"]).and_then(|t| parse_market_time(&t)),
        created_at: text(info, &["createTime"]).and_then(|t| parse_market_time(&t)),
        trial: either(&["trialFlag", "isTrial"]).map(|f| f == "1" || f == "true"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn code_info_reads_the_documented_activation_answer() {
        let info = json!("{\"status\":\"ALIVE\",\"expire_time\":\"20230726121646\",\"product_id\":\"12345\",\"amount\":2,\"order_id\":\"CS123\"}");
        let info = code_info(&info);
        assert_eq!(info.status, Some(CodeStatus::Alive));
        assert_eq!(info.product_id.as_deref(), Some("12345"));
        assert_eq!(info.order_id.as_deref(), Some("CS123"));
        assert_eq!(info.amount, Some(2));
        assert!(info.expires_at.is_some());
    }

    #[test]
    fn order_details_come_from_the_matching_line() {
        let info = json!({"orderId": "O", "createTime": "20240101000000", "orderLine": [
            {"orderLineId": "O-1", "productId": "P1", "linearValue": 1},
            {"orderLineId": "O-2", "productId": "P2", "skuCode": "S2", "linearValue": "3"}]});
        let d = order_details(&info, "O-2");
        assert_eq!(d.product_id.as_deref(), Some("P2"));
        assert_eq!(d.sku_code.as_deref(), Some("S2"));
        assert_eq!(d.amount, Some(3));
        assert!(d.created_at.is_some());
    }

    #[test]
    fn codes_are_typed_and_request_errors_are_permanent() {
        assert_eq!(ApiCode::parse("92020003"), ApiCode::IllegalState);
        assert_eq!(ApiCode::parse("CBC.0000"), ApiCode::Success);
        assert_eq!(ApiCode::parse("CBC.0150").as_str(), "CBC.0150");
        let api = |c: &str| MarketError::Api {
            code: ApiCode::parse(c),
            message: String::new(),
        };
        assert!(api("92020002").is_permanent());
        assert!(api("CBC.0101").is_permanent());
        assert!(!api("92020001").is_permanent());
        assert!(!MarketError::Unreachable("x".into()).is_permanent());
    }
}
