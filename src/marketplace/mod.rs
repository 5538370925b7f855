//! The marketplace side of the POST interfaces: the open-API client ([`client`]), the outbox
//! of calls that must happen after an answer ([`outbox`]), their typed errors (spec §5.3.3,
//! §6.6) and answers, and [`MarketState`], what the POST handlers and `/v1/activate` share.

pub(crate) mod client;
pub(crate) mod outbox;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use crate::koomarket::auth::{KeyRing, SchemeBReading};
use crate::koomarket::nonces::NonceCache;
use crate::settings::{SchemeBReadingSetting, Settings};
use crate::store::market_records::CodeStatus;

use self::client::MarketClient;
use self::outbox::Outbox;

/// What the POST interfaces, activation and the outbox share.
pub(crate) struct MarketState {
    /// Access keys (访问密钥) of scheme B, current first.
    pub(crate) access_keys: KeyRing,
    /// The accepted reading of scheme B.
    pub(crate) reading: SchemeBReading,
    /// The accepted timestamp distance, in milliseconds.
    pub(crate) window_ms: u64,
    /// The replay cache.
    pub(crate) nonces: NonceCache,
    /// The open-API client.
    pub(crate) client: std::sync::Arc<MarketClient>,
    /// The outbox.
    pub(crate) outbox: Outbox,
    /// Least time between two status queries of one authorization code.
    pub(crate) code_refresh_interval: chrono::Duration,
}

impl MarketState {
    /// Builds the state from the configuration and the loaded access keys.
    pub(crate) fn new(settings: &Settings, access_keys: KeyRing) -> anyhow::Result<MarketState> {
        let client = MarketClient::new(&settings.marketplace)?;
        if !client.configured() {
            tracing::warn!(
                "NO MARKETPLACE AK/SK CONFIGURED: license uploads and order queries wait in the \
                 outbox and authorization codes cannot be activated; set KOOLICENSE_MARKETPLACE_AK \
                 and KOOLICENSE_MARKETPLACE_SK"
            );
        }
        let km = &settings.koomarket;
        let secs =
            i64::try_from(settings.marketplace.code_refresh_interval_secs).unwrap_or(i64::MAX);
        Ok(MarketState {
            access_keys,
            reading: match km.scheme_b_reading {
                SchemeBReadingSetting::KeyedInner => SchemeBReading::KeyedInner,
                SchemeBReadingSetting::PlainSha256Inner => SchemeBReading::PlainSha256Inner,
                SchemeBReadingSetting::Either => SchemeBReading::Either,
            },
            window_ms: km.scheme_b_window_secs.saturating_mul(1000),
            nonces: NonceCache::default(),
            client: std::sync::Arc::new(client),
            outbox: Outbox::new(&settings.marketplace),
            code_refresh_interval: chrono::Duration::try_seconds(secs)
                .unwrap_or(chrono::Duration::days(1)),
        })
    }
}

impl std::fmt::Debug for MarketState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketState")
            .field("client", &self.client)
            .finish_non_exhaustive()
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

/// Parses a marketplace time: `yyyyMMddHHmmss` (or 17 digits with milliseconds),
/// `yyyy-MM-dd HH:mm:ss` with an optional `z`/`Z`/`UTC` suffix (the getLicenseAsync example is
/// `2023-10-27 10:30:15 z`), RFC 3339, or 13-digit UNIX milliseconds. All UTC.
pub(crate) fn parse_market_time(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return match v.len() {
            14 | 17 => NaiveDateTime::parse_from_str(&v[..14], "%Y%m%d%H%M%S")
                .ok()
                .map(|t| Utc.from_utc_datetime(&t)),
            13 => v.parse().ok().and_then(DateTime::from_timestamp_millis),
            _ => None,
        };
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    let mut bare = v;
    for suffix in [" UTC", "UTC", " z", " Z", "z", "Z"] {
        if let Some(stripped) = bare.strip_suffix(suffix) {
            bare = stripped.trim_end();
            break;
        }
    }
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(bare, f).ok())
    .map(|t| Utc.from_utc_datetime(&t))
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

/// An authorization code as the marketplace describes it (activation `license_code_info`, or
/// the query's `LicenseInfo`; fields after `activate_time` are UNCONFIRMED, so every field is
/// optional and both snake and camel case are read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CodeInfo {
    /// ALIVE / EXPIRED / RELEASED.
    pub(crate) status: Option<CodeStatus>,
    /// End of validity.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// productId.
    pub(crate) product_id: Option<String>,
    /// orderId.
    pub(crate) order_id: Option<String>,
    /// The purchased quantity.
    pub(crate) amount: Option<u32>,
}

impl CodeInfo {
    /// Reads an object, or a string holding a JSON object (`license_code_info` is one).
    pub(crate) fn from_value(value: &Value) -> CodeInfo {
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
}

/// What the order query tells about an order line (§6.7; only `linearValue`, `productName`,
/// `skuCode`, `productId` and `createTime` are documented, the rest is read when present).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OrderDetails {
    /// productId.
    pub(crate) product_id: Option<String>,
    /// skuCode.
    pub(crate) sku_code: Option<String>,
    /// productName.
    pub(crate) product_name: Option<String>,
    /// linearValue: the purchased quantity.
    pub(crate) amount: Option<u32>,
    /// chargingMode.
    pub(crate) charging_mode: Option<String>,
    /// periodType.
    pub(crate) period_type: Option<String>,
    /// End of validity.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    /// When the order was placed.
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// A trial order.
    pub(crate) trial: Option<bool>,
}

impl OrderDetails {
    /// Reads `orderInfo`, taking the order line with `order_line_id` (or the first one).
    pub(crate) fn from_order_info(info: &Value, order_line_id: &str) -> OrderDetails {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marketplace_times_in_every_documented_shape() {
        let t = Utc
            .with_ymd_and_hms(2023, 10, 27, 10, 30, 15)
            .single()
            .expect("time");
        for s in [
            "20231027103015",
            "20231027103015256",
            "2023-10-27 10:30:15 z",
            "2023-10-27 10:30:15Z",
            "2023-10-27 10:30:15",
            "2023-10-27T10:30:15Z",
            "2023-10-27 10:30:15 UTC",
        ] {
            assert_eq!(
                parse_market_time(s).map(|p| p.timestamp()),
                Some(t.timestamp()),
                "{s}"
            );
        }
        for bad in ["", "2023", "tomorrow", "2023-13-40 10:00:00"] {
            assert_eq!(parse_market_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn code_info_reads_the_documented_activation_answer() {
        let info = json!("{\"status\":\"ALIVE\",\"expire_time\":\"20230726121646\",\"product_id\":\"12345\",\"amount\":2,\"order_id\":\"CS123\"}");
        let info = CodeInfo::from_value(&info);
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
        let d = OrderDetails::from_order_info(&info, "O-2");
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
