//! `POST <koomarket.path>?signature=…&timestamp=…&nonce=…`: the POST production interface of
//! the online-license (在线开通License, §6) and License 2.0 authorization-code (§5.2) products.
//!
//! Authentication (§2.5: formula B1 or its plain-SHA-256 reading, both by default; the setting
//! `koomarket.scheme_b_reading` narrows it):
//! the signature is checked over the raw body bytes as received (at most 64 KiB) against every
//! configured access key; then `|now − timestamp| ≤ koomarket.scheme_b_window_secs` (13 digits
//! are milliseconds, up to 10 seconds); then the nonce must be new (the persistent replay cache of
//! `nonces`). Any failure answers `000001`. The JSON body is dispatched on `activity`.
//!
//! Answers: the one answer type of the interface (`answer`), the same as the GET interface's.
//! Rejected calls are recorded.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;

use super::answer::{Answer, ResultCode};
use super::auth::{self, check_scheme_b_window, parse_unix_timestamp, KeyRing, SchemeBReading};
use super::interface::Interface;
use super::nonces::{NonceCache, MAX_NONCE_LEN};
use super::post_params::{self as body, Body};
use crate::licensing::{Delivery, Licensing, LicensingError};
use crate::settings::{SchemeBReadingSetting, Settings};

/// Largest accepted body.
const MAX_BODY: usize = 64 * 1024;

/// What authenticating the POST interfaces needs: the access keys, the accepted readings, the
/// timestamp window and the replay cache.
pub(crate) struct PostAuth {
    /// Access keys (访问密钥) of scheme B, current first.
    pub(crate) access_keys: KeyRing,
    /// The accepted reading(s) of scheme B.
    pub(crate) reading: SchemeBReading,
    /// The accepted timestamp distance, in milliseconds.
    pub(crate) window_ms: u64,
    /// The replay cache.
    pub(crate) nonces: NonceCache,
}

impl PostAuth {
    /// From the configuration and the loaded access keys.
    pub(crate) fn new(settings: &Settings, access_keys: KeyRing) -> PostAuth {
        let km = &settings.koomarket;
        PostAuth {
            access_keys,
            // CONFLICT in the spec (§2.5.1 vs §2.5.2, §10 item 1): both readings of the inner
            // digest are accepted by default until the seller-console debugger confirms one.
            reading: match km.scheme_b_reading {
                SchemeBReadingSetting::KeyedInner => SchemeBReading::KeyedInner,
                SchemeBReadingSetting::PlainSha256Inner => SchemeBReading::PlainSha256Inner,
                SchemeBReadingSetting::Either => SchemeBReading::Either,
            },
            window_ms: km.scheme_b_window_secs.saturating_mul(1000),
            nonces: NonceCache::default(),
        }
    }
}

impl std::fmt::Debug for PostAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostAuth")
            .field("reading", &self.reading)
            .finish_non_exhaustive()
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

fn authenticate(auth: &PostAuth, query: &str, body: &[u8]) -> Result<Authenticated, String> {
    let params = auth::parse_query(query);
    let get = |name: &str| params.get(name).unwrap_or("").to_string();
    let (signature, timestamp, nonce) = (get("signature"), get("timestamp"), get("nonce"));
    let key_index = auth::verify_scheme_b(
        &auth.access_keys,
        &nonce,
        &timestamp,
        body,
        &signature,
        auth.reading,
    )
    .map_err(|e| e.to_string())?;
    if nonce.len() > MAX_NONCE_LEN {
        return Err(format!("nonce is longer than {MAX_NONCE_LEN} bytes"));
    }
    let ts_ms = parse_unix_timestamp(&timestamp).ok_or("timestamp is malformed")?;
    check_scheme_b_window(ts_ms, Utc::now().timestamp_millis(), auth.window_ms)
        .map_err(|e| e.to_string())?;
    Ok(Authenticated {
        key_index,
        ts_ms,
        nonce,
    })
}

/// `POST <koomarket.path>`. What the call was and its result code are recorded on the request's
/// span, so the access-log line (`routes::observe`) says it.
pub(crate) async fn handle_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<Interface>,
) -> HttpResponse {
    let span = tracing::Span::current();
    let body = read_body(payload).await;
    let authenticated = match &body {
        Err(_) => Err(String::new()),
        Ok(body) => authenticate(&state.post, req.query_string(), body),
    };
    let key_index = authenticated.as_ref().map_or(0, |a| a.key_index);
    let interface = state.clone();
    let (answer, activity) = crate::telemetry::blocking(move || {
        let answer = match (&body, authenticated) {
            (Err(e), _) => Answer::failure(ResultCode::InvalidParams, e.clone()),
            (Ok(_), Err(why)) => {
                tracing::warn!(reason = %why, "KooMarket POST call rejected");
                Answer::failure(ResultCode::AuthFailed, "authentication failed").with_detail(why)
            }
            (Ok(raw), Ok(auth)) => answer(&interface.licensing, &interface.post, auth, raw),
        };
        let parsed = body.as_ref().ok().and_then(|raw| Body::parse(raw).ok());
        let field = |name| {
            parsed
                .as_ref()
                .and_then(|b| b.optional(name, 1024).ok().flatten())
        };
        interface
            .rejected
            .record(&interface.licensing, "post", &answer, field);
        (answer, field("activity").unwrap_or_default())
    })
    .await
    .unwrap_or_else(|e| {
        let answer = Answer::from_error(&LicensingError::Internal(e.to_string()));
        (answer, String::new())
    });
    span.record("result", answer.result_code());
    super::observed::observe(&state.metrics, "post", &activity, &answer);
    let keys = &state.post.access_keys;
    let key = keys.iter().nth(key_index).unwrap_or_else(|| keys.current());
    answer.into_response(key)
}

fn answer(licensing: &Licensing, post_auth: &PostAuth, auth: Authenticated, raw: &[u8]) -> Answer {
    let now = Utc::now();
    match post_auth.nonces.check(
        licensing.store(),
        &auth.nonce,
        auth.ts_ms,
        now.timestamp_millis(),
        post_auth.window_ms,
    ) {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("KooMarket POST call rejected: replayed nonce");
            return Answer::failure(
                ResultCode::AuthFailed,
                "authentication failed (replayed nonce)",
            );
        }
        Err(e) => return Answer::from_error(&LicensingError::Storage(e)),
    }
    let signed_at = DateTime::from_timestamp_millis(auth.ts_ms).unwrap_or(now);
    run(licensing, raw, signed_at, now).unwrap_or_else(|refused| refused)
}

fn run(
    licensing: &Licensing,
    raw: &[u8],
    signed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Answer, Answer> {
    let b = Body::parse(raw)?;
    let call = body::call(&b, signed_at)?;
    let span = tracing::Span::current();
    span.record("activity", call.activity.as_str());
    for field in ["instanceId", "license", "orderId"] {
        if let Ok(Some(value)) = b.optional(field, 64) {
            span.record("target", value.as_str());
            break;
        }
    }
    let done = Answer::success;
    let l = licensing;
    match call.activity.as_str() {
        "newInstance" => Ok(Answer::created(l.new_instance(
            body::new_instance(&b)?,
            &call,
            now,
        )?)),
        "refreshInstance" => {
            l.renew_instance(body::renew(&b, "instanceId")?, &call, now)?;
            Ok(done())
        }
        "updateInstanceStatus" => {
            l.set_instance_status(body::set_status(&b, "instanceId")?, &call, now)?;
            Ok(done())
        }
        "releaseInstance" => {
            l.release_instance(body::release(&b, "instanceId")?, &call, now)?;
            Ok(done())
        }
        "getLicenseAsync" => match l.deliver(body::deliver(&b)?, &call, now)? {
            Delivery::Issued => Ok(done()),
            Delivery::InProgress => Ok(Answer::failure(
                ResultCode::InProgress,
                "the order's details are being fetched; the license will be delivered",
            )),
        },
        "refreshLicenseCode" => {
            l.renew_code(body::renew(&b, "license")?, &call, now)?;
            Ok(done())
        }
        "updateLicenseCodeStatus" => {
            l.set_code_status(body::set_status(&b, "license")?, &call, now)?;
            Ok(done())
        }
        "releaseLicenseCode" => {
            l.release_code(body::release(&b, "license")?, &call, now)?;
            Ok(done())
        }
        other => Err(LicensingError::Invalid(format!("unknown activity {other:?}")).into()),
    }
}
