//! KooMarket's answer format (§7): HTTP 200, a JSON body with `resultCode`/`resultMsg`, and the
//! `Body-Sign` header over the exact bytes sent. This mapping is separate from the merchant API's
//! error table on purpose: the marketplace only understands result codes.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::HttpResponse;
use serde::Serialize;

use super::auth::{body_sign_header_value, SecretKey};
use super::lifecycle::OpError;

/// The result codes this service answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResultCode {
    /// 000000 成功.
    Success,
    /// 000001 鉴权失败.
    AuthFailed,
    /// 000002 请求参数不合法.
    InvalidParams,
    /// 000003 实例ID不存在.
    UnknownInstance,
    /// 000005 其它服务内部错误.
    Internal,
}

impl ResultCode {
    /// The six-digit code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            ResultCode::Success => "000000",
            ResultCode::AuthFailed => "000001",
            ResultCode::InvalidParams => "000002",
            ResultCode::UnknownInstance => "000003",
            ResultCode::Internal => "000005",
        }
    }
}

/// One answer body. Fields are serialised in this order.
#[derive(Debug, Serialize)]
pub(crate) struct Answer {
    #[serde(rename = "resultCode")]
    result_code: &'static str,
    #[serde(rename = "resultMsg")]
    result_msg: String,
    #[serde(rename = "instanceId", skip_serializing_if = "Option::is_none")]
    instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license: Option<String>,
}

impl Answer {
    /// `000000` with `success.`.
    pub(crate) fn success() -> Answer {
        Answer {
            result_code: ResultCode::Success.code(),
            result_msg: "success.".into(),
            instance_id: None,
            license: None,
        }
    }

    /// `000000` with the instance and its license.
    pub(crate) fn provisioned(instance_id: String, license: String) -> Answer {
        Answer {
            instance_id: Some(instance_id),
            license: Some(license),
            ..Answer::success()
        }
    }

    /// A failure with a message (`resultMsg` is capped at the spec's 255 characters).
    pub(crate) fn failure(code: ResultCode, message: impl Into<String>) -> Answer {
        let message: String = message.into().chars().take(255).collect();
        Answer {
            result_code: code.code(),
            result_msg: message,
            instance_id: None,
            license: None,
        }
    }

    /// The result code.
    pub(crate) fn result_code(&self) -> &'static str {
        self.result_code
    }

    /// Serialises once, signs exactly those bytes, and builds the HTTP response.
    pub(crate) fn into_response(self, key: &SecretKey) -> HttpResponse {
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| {
            br#"{"resultCode":"000005","resultMsg":"internal error"}"#.to_vec()
        });
        let signature = body_sign_header_value(key, &body);
        let mut response = HttpResponse::Ok();
        response.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        if let Ok(value) = HeaderValue::from_str(&signature) {
            response.insert_header(("Body-Sign", value));
        }
        response.body(body)
    }
}

impl From<OpError> for Answer {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Invalid(m) => Answer::failure(ResultCode::InvalidParams, m),
            OpError::UnknownInstance(_) => {
                Answer::failure(ResultCode::UnknownInstance, e.to_string())
            }
            OpError::Storage(ref inner) => {
                tracing::error!(error = %inner, "storage failure answering KooMarket");
                Answer::failure(ResultCode::Internal, "internal error, please retry")
            }
            OpError::Internal(ref inner) => {
                tracing::error!(error = %inner, "internal error answering KooMarket");
                Answer::failure(ResultCode::Internal, "internal error, please retry")
            }
        }
    }
}

/// Whether the marketplace counts an answer as a failed call (toward delisting): anything but
/// success (`000000`) and "delivered asynchronously" (`000004`).
pub(crate) fn counts_as_failure(result_code: &str) -> bool {
    !matches!(result_code, "000000" | "000004")
}

/// Counts an answer of either interface and logs every failed one at WARN (the marketplace
/// delists a product after more than 5 failed orders in a month, so each is worth a look).
pub(crate) fn record_answer(
    state: &crate::state::AppState,
    interface: &'static str,
    activity: &str,
    result_code: &'static str,
) {
    let activity = crate::metrics::activity_label(activity);
    state
        .metrics
        .koomarket_answer(interface, activity, result_code);
    if counts_as_failure(result_code) {
        tracing::warn!(
            interface,
            activity,
            result_code,
            "KooMarket call answered with a failure; the marketplace counts it toward delisting"
        );
    }
}
