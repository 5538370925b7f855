//! The GET production interface: authenticate (scheme A), turn the parameters into a command
//! (License 1.0 names and the generic SaaS names for the same lifecycle), hand it to the core off
//! the async runtime, and answer with a signed body. Rejected calls are recorded.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};

use super::answer::{Answer, ResultCode};
use super::auth::{self, QueryParams};
use super::interface::Interface;
use super::params::{self, FieldError};
use crate::licensing::Licensing;

/// `GET <koomarket.path>`. What the call was and its result code are recorded on the request's
/// span, so the access-log line (`routes::observe`) says it.
pub(crate) async fn handle_get(req: HttpRequest, state: web::Data<Interface>) -> HttpResponse {
    let params = auth::parse_query(req.query_string());
    let span = tracing::Span::current();
    span.record("activity", params.get("activity").unwrap_or(""));
    span.record("order_id", params.get("orderId").unwrap_or(""));
    span.record("instance_id", params.get("instanceId").unwrap_or(""));

    let authenticated = authenticate(&state, &params);
    let key_index = match &authenticated {
        Ok(index) | Err((index, _)) => *index,
    };
    let activity = params.get("activity").unwrap_or("").to_owned();
    let interface = state.clone();
    let answer = crate::telemetry::blocking(move || {
        let answer = match authenticated {
            Ok(_) => answer(&interface.licensing, &params, Utc::now()),
            Err((_, why)) => {
                tracing::warn!(reason = %why, "KooMarket call rejected");
                Answer::failure(ResultCode::AuthFailed, "authentication failed").with_detail(why)
            }
        };
        interface
            .rejected
            .record(&interface.licensing, "get", &answer, |name| {
                params.get(name).map(str::to_string)
            });
        answer
    })
    .await
    .unwrap_or_else(|e| {
        Answer::from_error(&crate::licensing::LicensingError::Internal(e.to_string()))
    });
    span.record("result", answer.result_code());
    super::observed::observe(&state.metrics, "get", &activity, &answer);
    // Answer with the key that authenticated the call (during a rotation the marketplace may
    // still use the previous one), also when only its timeStamp was refused; calls no key
    // authenticated are answered with the current key.
    let key = state
        .keys
        .iter()
        .nth(key_index)
        .unwrap_or_else(|| state.keys.current());
    answer.into_response(key)
}

/// The index of the key that authenticated the call; on failure, the index of the key to
/// answer with and why.
fn authenticate(state: &Interface, params: &QueryParams) -> Result<usize, (usize, String)> {
    let failed = |why: &dyn std::fmt::Display| why.to_string();
    let index = auth::verify_auth_token(&state.keys, params).map_err(|e| (0, failed(&e)))?;
    let window = state.timestamp_window_secs;
    if window > 0 {
        let ts = params.get("timeStamp").unwrap_or("");
        auth::check_timestamp_freshness(ts, Utc::now(), std::time::Duration::from_secs(window))
            .map_err(|e| (index, failed(&e)))?;
    }
    Ok(index)
}

/// Runs the activity's command (on the blocking pool).
fn answer(licensing: &Licensing, p: &QueryParams, now: DateTime<Utc>) -> Answer {
    run(licensing, p, now).unwrap_or_else(|refused| refused)
}

fn run(licensing: &Licensing, p: &QueryParams, now: DateTime<Utc>) -> Result<Answer, Answer> {
    let call = params::call(p)?;
    let done = Answer::success;
    match call.activity.as_str() {
        "getLicense" | "newInstance" => {
            let done = licensing.provision(params::provision(p, now)?, &call, now)?;
            Ok(Answer::provisioned(done.instance_id, done.license))
        }
        "refreshLicense" | "refreshInstance" => {
            licensing.renew_license(params::renew(p)?, &call, now)?;
            Ok(done())
        }
        "expireLicense" | "expireInstance" => {
            licensing.expire_license(params::expire(p)?, &call, now)?;
            Ok(done())
        }
        "instanceStatus" => {
            licensing.set_license_status(params::instance_status(p)?, &call, now)?;
            Ok(done())
        }
        "releaseLicense" | "releaseInstance" => {
            licensing.release_license(params::release(p)?, &call, now)?;
            Ok(done())
        }
        "upgrade" => {
            licensing.upgrade_license(params::upgrade(p)?, &call, now)?;
            Ok(done())
        }
        "" => Err(field("is required".into()).into()),
        other => Err(field(format!("unknown activity {other:?}")).into()),
    }
}

fn field(problem: String) -> FieldError {
    FieldError {
        field: "activity",
        problem,
    }
}
