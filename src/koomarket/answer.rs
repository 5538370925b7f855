//! The one answer of the production interface, GET and POST alike (spec §7): HTTP 200, a JSON
//! body `{"resultCode","resultMsg"[,"instanceId"][,"license"]}`, and the `Body-Sign` header over
//! the exact bytes sent. [`Answer::from_error`] is the one table from the core's
//! [`LicensingError`] to a `resultCode`; it is separate from the merchant API's error table on
//! purpose: the marketplace only understands result codes.
//!
//! POST answers carry `Body-Sign` too, computed with the access key that authenticated the call:
//! no signature of POST answers is documented (§2.5.5, UNCONFIRMED), and the header is harmless
//! if ignored.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::HttpResponse;
use serde::Serialize;

use super::auth::{body_sign_header_value, SecretKey};
use super::params::FieldError;
use crate::licensing::LicensingError;

/// The result codes this service answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResultCode {
    /// 000000 成功.
    Success,
    /// 000001 鉴权失败.
    AuthFailed,
    /// 000002 请求参数不合法.
    InvalidParams,
    /// 000003 实例ID不存在 / 授权码ID不存在.
    UnknownInstance,
    /// 000004 请求处理中 (资源异步开通).
    InProgress,
    /// 000005 其它服务内部错误.
    Internal,
    /// 000900 可用License额度不足.
    QuantityExhausted,
    /// 000901 请在当前订单有效日期区间内申请License.
    OutsideValidity,
    /// 000902 包周期License必须输入失效日期.
    ExpiryRequired,
    /// 000903 申请License必须输入设备指纹或硬件识别编码.
    FingerprintRequired,
}

impl ResultCode {
    /// The six digits.
    pub(crate) fn code(self) -> &'static str {
        match self {
            ResultCode::Success => "000000",
            ResultCode::AuthFailed => "000001",
            ResultCode::InvalidParams => "000002",
            ResultCode::UnknownInstance => "000003",
            ResultCode::InProgress => "000004",
            ResultCode::Internal => "000005",
            ResultCode::QuantityExhausted => "000900",
            ResultCode::OutsideValidity => "000901",
            ResultCode::ExpiryRequired => "000902",
            ResultCode::FingerprintRequired => "000903",
        }
    }

    /// Whether the marketplace counts this answer as a failed call that it will retry (and
    /// that counts toward delisting): these are recorded for the merchant to reconcile.
    pub(crate) fn is_rejection(self) -> bool {
        matches!(
            self,
            ResultCode::AuthFailed
                | ResultCode::InvalidParams
                | ResultCode::UnknownInstance
                | ResultCode::Internal
        )
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
    #[serde(skip)]
    code: ResultCode,
    /// Why, for the merchant's record of rejected calls (never answered).
    #[serde(skip)]
    detail: Option<String>,
}

impl Answer {
    /// `000000` with `success.`.
    pub(crate) fn success() -> Answer {
        Answer::failure(ResultCode::Success, "success.")
    }

    /// `000000` with an instance id (POST newInstance).
    pub(crate) fn created(instance_id: String) -> Answer {
        Answer {
            instance_id: Some(instance_id),
            ..Answer::success()
        }
    }

    /// `000000` with the instance and its license (getLicense).
    pub(crate) fn provisioned(instance_id: String, license: String) -> Answer {
        Answer {
            instance_id: Some(instance_id),
            license: Some(license),
            ..Answer::success()
        }
    }

    /// Any code with a message (`resultMsg` is capped at the spec's 255 characters).
    pub(crate) fn failure(code: ResultCode, message: impl Into<String>) -> Answer {
        Answer {
            result_code: code.code(),
            result_msg: message.into().chars().take(255).collect(),
            instance_id: None,
            license: None,
            code,
            detail: None,
        }
    }

    /// Adds a reason for the record of rejected calls that is not answered to the caller.
    pub(crate) fn with_detail(mut self, detail: String) -> Answer {
        self.detail = Some(detail);
        self
    }

    /// The reason recorded for a rejected call.
    pub(crate) fn reason(&self) -> &str {
        self.detail.as_deref().unwrap_or(&self.result_msg)
    }

    /// The table: the core's error → result code. Internal details are logged, never answered.
    pub(crate) fn from_error(e: &LicensingError) -> Answer {
        use LicensingError as E;
        let code = match e {
            E::Invalid(_)
            | E::BadHardwareId(_)
            | E::Encode(_)
            | E::Conflict { .. }
            | E::CodeUnknown(_)
            | E::CodeNotClaimed(_)
            | E::CodeInactive(_)
            | E::ProofRejected(_)
            | E::DeactivationLimit { .. } => ResultCode::InvalidParams,
            E::UnknownInstance(_) | E::NotFound(_) => ResultCode::UnknownInstance,
            E::QuantityExhausted(_) => ResultCode::QuantityExhausted,
            E::OutsideValidity(_) => ResultCode::OutsideValidity,
            E::ExpiryRequired(_) => ResultCode::ExpiryRequired,
            E::FingerprintRequired(_) | E::MissingIdentifier(_) => ResultCode::FingerprintRequired,
            E::Storage(_) | E::Corrupt(_) | E::Internal(_) | E::MarketplaceUnavailable(_) => {
                tracing::error!(error = ?e, "internal error answering KooMarket");
                return Answer::failure(ResultCode::Internal, "internal error, please retry")
                    .with_detail(e.to_string());
            }
        };
        Answer::failure(code, e.to_string())
    }

    /// The result code.
    pub(crate) fn result_code(&self) -> &'static str {
        self.result_code
    }

    /// The typed result code.
    pub(crate) fn code(&self) -> ResultCode {
        self.code
    }

    /// Serialises once, signs exactly those bytes, and builds the HTTP response.
    pub(crate) fn into_response(self, key: &SecretKey) -> HttpResponse {
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| {
            br#"{"resultCode":"000005","resultMsg":"internal error"}"#.to_vec()
        });
        let mut response = HttpResponse::Ok();
        response.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        if let Ok(value) = HeaderValue::from_str(&body_sign_header_value(key, &body)) {
            response.insert_header(("Body-Sign", value));
        }
        response.body(body)
    }
}

impl From<LicensingError> for Answer {
    fn from(e: LicensingError) -> Self {
        Answer::from_error(&e)
    }
}

impl From<FieldError> for Answer {
    fn from(e: FieldError) -> Self {
        Answer::failure(ResultCode::InvalidParams, e.to_string())
    }
}
