//! `POST <koomarket.path>?signature=…&timestamp=…&nonce=…`: the POST production interface of
//! the online-license (在线开通License, §6) and License 2.0 authorization-code (§5.2) products.
//!
//! Authentication (§2.5.1, formula B1, or the reading chosen with `koomarket.scheme_b_reading`):
//! the signature is checked over the raw body bytes as received (at most 64 KiB) against every
//! configured access key; then `|now − timestamp| ≤ koomarket.scheme_b_window_secs` (13 digits
//! are milliseconds, up to 10 seconds); then the nonce must be new (the persistent replay cache of
//! `nonces`). Any failure answers `000001`. The JSON body is dispatched on `activity`.
//!
//! Answers: HTTP 200, `{"resultCode","resultMsg"[,"instanceId"]}` and, although no signature of
//! POST answers is documented (§2.5.5, UNCONFIRMED), a `Body-Sign` header computed as for the GET
//! interface with the access key that authenticated the call (harmless if ignored).

use std::time::Instant;

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use futures_util::StreamExt as _;
use serde::Serialize;

use super::auth::{self, body_sign_header_value, check_scheme_b_window, parse_unix_timestamp};
use super::machines::PostError;
use super::nonces::MAX_NONCE_LEN;
use super::post_params::{Body, LicenseAsync, NewInstance, Refresh, Release, StatusChange};
use super::{codes, license_async, online};
use crate::state::AppState;

/// Largest accepted body.
const MAX_BODY: usize = 64 * 1024;

/// The result codes of the POST interfaces (§7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PostCode {
    /// 000000.
    Success,
    /// 000001 鉴权失败.
    AuthFailed,
    /// 000002 请求参数不合法.
    InvalidParams,
    /// 000003 实例ID不存在 / 授权码ID不存在.
    Unknown,
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

impl PostCode {
    /// The six digits.
    pub(crate) fn code(self) -> &'static str {
        match self {
            PostCode::Success => "000000",
            PostCode::AuthFailed => "000001",
            PostCode::InvalidParams => "000002",
            PostCode::Unknown => "000003",
            PostCode::Internal => "000005",
            PostCode::QuantityExhausted => "000900",
            PostCode::OutsideValidity => "000901",
            PostCode::ExpiryRequired => "000902",
            PostCode::FingerprintRequired => "000903",
        }
    }
}

/// One answer body, fields in this order.
#[derive(Debug, Serialize)]
pub(crate) struct PostAnswer {
    #[serde(rename = "resultCode")]
    result_code: &'static str,
    #[serde(rename = "resultMsg")]
    result_msg: String,
    #[serde(rename = "instanceId", skip_serializing_if = "Option::is_none")]
    instance_id: Option<String>,
}

impl PostAnswer {
    fn success(instance_id: Option<String>) -> PostAnswer {
        PostAnswer {
            result_code: PostCode::Success.code(),
            result_msg: "success.".into(),
            instance_id,
        }
    }

    fn failure(code: PostCode, message: impl Into<String>) -> PostAnswer {
        PostAnswer {
            result_code: code.code(),
            result_msg: message.into().chars().take(255).collect(),
            instance_id: None,
        }
    }

    fn into_response(self, key: &auth::SecretKey) -> HttpResponse {
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

impl From<PostError> for PostAnswer {
    fn from(e: PostError) -> Self {
        let code = match &e {
            PostError::Invalid(_) => PostCode::InvalidParams,
            PostError::Unknown(_) => PostCode::Unknown,
            PostError::QuantityExhausted(_) => PostCode::QuantityExhausted,
            PostError::OutsideValidity(_) => PostCode::OutsideValidity,
            PostError::ExpiryRequired(_) => PostCode::ExpiryRequired,
            PostError::FingerprintRequired(_) => PostCode::FingerprintRequired,
            PostError::NotYet(_) => PostCode::Internal,
            PostError::Storage(inner) => {
                tracing::error!(error = %inner, "storage failure answering a POST call");
                return PostAnswer::failure(PostCode::Internal, "internal error, please retry");
            }
            PostError::Internal(inner) => {
                tracing::error!(error = %inner, "internal error answering a POST call");
                return PostAnswer::failure(PostCode::Internal, "internal error, please retry");
            }
        };
        PostAnswer::failure(code, e.to_string())
    }
}

async fn read_body(mut payload: web::Payload) -> Result<web::Bytes, String> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| format!("cannot read the body: {e}"))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("the body is larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// What authentication established: the key that matched, the timestamp and the nonce.
struct Authenticated {
    key_index: usize,
    ts_ms: i64,
    nonce: String,
}

fn authenticate(state: &AppState, query: &str, body: &[u8]) -> Result<Authenticated, String> {
    let params = auth::parse_query(query);
    let get = |name: &str| params.get(name).unwrap_or("").to_string();
    let (signature, timestamp, nonce) = (get("signature"), get("timestamp"), get("nonce"));
    let market = &state.market;
    let key_index = auth::verify_scheme_b(
        &market.access_keys,
        &nonce,
        &timestamp,
        body,
        &signature,
        market.reading,
    )
    .map_err(|e| e.to_string())?;
    if nonce.len() > MAX_NONCE_LEN {
        return Err(format!("nonce is longer than {MAX_NONCE_LEN} bytes"));
    }
    let ts_ms = parse_unix_timestamp(&timestamp).ok_or("timestamp is malformed")?;
    check_scheme_b_window(ts_ms, Utc::now().timestamp_millis(), market.window_ms)
        .map_err(|e| e.to_string())?;
    Ok(Authenticated {
        key_index,
        ts_ms,
        nonce,
    })
}

/// `POST <koomarket.path>`.
#[tracing::instrument(name = "koomarket_post", skip_all, fields(activity, target, result))]
pub(crate) async fn handle_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = Instant::now();
    let span = tracing::Span::current();
    let mut activity = String::new();
    let (key_index, answer) = match read_body(payload).await {
        Err(e) => (0, PostAnswer::failure(PostCode::InvalidParams, e)),
        Ok(body) => match authenticate(&state, req.query_string(), &body) {
            Err(why) => {
                tracing::warn!(reason = %why, "KooMarket POST call rejected");
                (
                    0,
                    PostAnswer::failure(PostCode::AuthFailed, "authentication failed"),
                )
            }
            Ok(auth) => {
                activity = activity_of(&body);
                let index = auth.key_index;
                let state = state.clone();
                let answer = crate::telemetry::blocking(move || answer(&state, auth, &body))
                    .await
                    .unwrap_or_else(|e| PostError::Internal(e.to_string()).into());
                (index, answer)
            }
        },
    };
    span.record("result", answer.result_code);
    super::result::record_answer(&state, "post", &activity, answer.result_code);
    tracing::info!(
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "answered"
    );
    let keys = &state.market.access_keys;
    let key = keys.iter().nth(key_index).unwrap_or_else(|| keys.current());
    answer.into_response(key)
}

/// The `activity` of an authenticated body, for the metrics ("" when there is none).
fn activity_of(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Activity {
        activity: Option<String>,
    }
    serde_json::from_slice::<Activity>(body)
        .ok()
        .and_then(|a| a.activity)
        .unwrap_or_default()
}

fn answer(state: &AppState, auth: Authenticated, body: &[u8]) -> PostAnswer {
    let now = Utc::now();
    let market = &state.market;
    match market.nonces.check(
        &state.store,
        &auth.nonce,
        auth.ts_ms,
        now.timestamp_millis(),
        market.window_ms,
    ) {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("KooMarket POST call rejected: replayed nonce");
            return PostAnswer::failure(
                PostCode::AuthFailed,
                "authentication failed (replayed nonce)",
            );
        }
        Err(e) => return PostError::Storage(e).into(),
    }
    match run(state, body, now) {
        Ok(instance_id) => PostAnswer::success(instance_id),
        Err(e) => e.into(),
    }
}

fn run(
    state: &AppState,
    raw: &[u8],
    now: chrono::DateTime<Utc>,
) -> Result<Option<String>, PostError> {
    let body = Body::parse(raw)?;
    let activity = body.activity()?;
    let span = tracing::Span::current();
    span.record("activity", activity.as_str());
    for field in ["instanceId", "license", "orderId"] {
        if let Ok(Some(value)) = body.optional(field, 64) {
            span.record("target", value.as_str());
            break;
        }
    }
    match activity.as_str() {
        "newInstance" => online::new_instance(state, NewInstance::parse(&body)?, now).map(Some),
        "refreshInstance" => {
            online::refresh(state, Refresh::parse_instance(&body)?, now).map(|()| None)
        }
        "updateInstanceStatus" => {
            online::set_status(state, StatusChange::parse(&body, "instanceId")?, now).map(|()| None)
        }
        "releaseInstance" => {
            online::release(state, Release::parse(&body, "instanceId")?, now).map(|()| None)
        }
        "getLicenseAsync" => {
            license_async::license_async(state, LicenseAsync::parse(&body)?, now).map(|()| None)
        }
        "refreshLicenseCode" => {
            codes::refresh(state, Refresh::parse_code(&body)?, now).map(|()| None)
        }
        "updateLicenseCodeStatus" => {
            codes::set_status(state, StatusChange::parse(&body, "license")?, now).map(|()| None)
        }
        "releaseLicenseCode" => {
            codes::release(state, Release::parse(&body, "license")?, now).map(|()| None)
        }
        other => Err(PostError::Invalid(format!("unknown activity {other:?}"))),
    }
}
