//! The GET production interface: authenticate (scheme A), dispatch on `activity` (License 1.0
//! names and the generic SaaS names for the same lifecycle), run the operation off the async
//! runtime, and answer with a signed body.

use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::auth::{self, QueryParams};
use super::lifecycle::{self, Ctx, OpError};
use super::params::{FieldError, InstanceRequest, ProvisionRequest, RenewRequest, UpgradeRequest};
use super::result::{Answer, ResultCode};
use crate::state::AppState;

/// The operation an activity maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    /// getLicense, newInstance.
    Provision,
    /// refreshLicense, refreshInstance.
    Renew,
    /// expireLicense, expireInstance, instanceStatus=FREEZE.
    Freeze,
    /// instanceStatus=NORMAL.
    Unfreeze,
    /// releaseLicense, releaseInstance.
    Release,
    /// upgrade.
    Upgrade,
}

/// Maps an activity (and, for `instanceStatus`, its target status) to an operation.
pub(crate) fn operation(params: &QueryParams) -> Result<Operation, FieldError> {
    let activity = params.get("activity").unwrap_or("");
    let bad = |problem: String| FieldError {
        field: "activity",
        problem,
    };
    Ok(match activity {
        "getLicense" | "newInstance" => Operation::Provision,
        "refreshLicense" | "refreshInstance" => Operation::Renew,
        "expireLicense" | "expireInstance" => Operation::Freeze,
        "releaseLicense" | "releaseInstance" => Operation::Release,
        "upgrade" => Operation::Upgrade,
        "instanceStatus" => match params.get("instanceStatus") {
            Some("FREEZE") => Operation::Freeze,
            Some("NORMAL") => Operation::Unfreeze,
            other => {
                return Err(FieldError {
                    field: "instanceStatus",
                    problem: format!("{other:?} is not FREEZE or NORMAL"),
                })
            }
        },
        "" => return Err(bad("is required".into())),
        other => return Err(bad(format!("unknown activity {other:?}"))),
    })
}

/// `GET <koomarket.path>`.
#[tracing::instrument(
    name = "koomarket",
    skip_all,
    fields(activity, order_id, instance_id, result)
)]
pub(crate) async fn handle_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let params = auth::parse_query(req.query_string());
    let span = tracing::Span::current();
    span.record("activity", params.get("activity").unwrap_or(""));
    span.record("order_id", params.get("orderId").unwrap_or(""));
    span.record("instance_id", params.get("instanceId").unwrap_or(""));

    let activity = params.get("activity").unwrap_or("").to_owned();
    let (key_index, answer) = match authenticate(&state, &params) {
        Err((index, answer)) => (index, answer),
        Ok(index) => (index, answer(&state, params).await),
    };
    span.record("result", answer.result_code());
    super::result::record_answer(&state, "get", &activity, answer.result_code());
    tracing::info!(
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "answered"
    );
    // Answer with the key that authenticated the call (during a rotation the marketplace may
    // still use the previous one), also when only its timeStamp was refused; calls no key
    // authenticated are answered with the current key.
    let key = state
        .market_keys
        .iter()
        .nth(key_index)
        .unwrap_or_else(|| state.market_keys.current());
    answer.into_response(key)
}

/// The index of the key that authenticated the call; on failure, the index of the key to
/// answer with and the answer.
fn authenticate(state: &AppState, params: &QueryParams) -> Result<usize, (usize, Answer)> {
    let failed = |why: &dyn std::fmt::Display| {
        tracing::warn!(reason = %why, "KooMarket call rejected");
        Answer::failure(ResultCode::AuthFailed, "authentication failed")
    };
    let index = auth::verify_auth_token(&state.market_keys, params).map_err(|e| (0, failed(&e)))?;
    let window = state.settings.koomarket.timestamp_window_secs;
    if window > 0 {
        let ts = params.get("timeStamp").unwrap_or("");
        auth::check_timestamp_freshness(ts, Utc::now(), std::time::Duration::from_secs(window))
            .map_err(|e| (index, failed(&e)))?;
    }
    Ok(index)
}

async fn answer(state: &web::Data<AppState>, params: QueryParams) -> Answer {
    let op = match operation(&params) {
        Ok(op) => op,
        Err(e) => return Answer::failure(ResultCode::InvalidParams, e.to_string()),
    };
    let state = state.clone();
    let result = crate::telemetry::blocking(move || run(&state, op, &params)).await;
    match result {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => e.into(),
        Err(e) => OpError::Internal(e.to_string()).into(),
    }
}

fn run(state: &AppState, op: Operation, params: &QueryParams) -> Result<Answer, OpError> {
    let now = Utc::now();
    let ctx = Ctx {
        store: &state.store,
        signer: &state.signer,
        policies: &state.policies,
        locks: &state.locks,
        now,
    };
    let activity = params.get("activity").unwrap_or("");
    let invalid = |e: FieldError| OpError::Invalid(e.to_string());
    match op {
        Operation::Provision => {
            let req = ProvisionRequest::parse(params, now).map_err(invalid)?;
            let done = lifecycle::provision(&ctx, req, activity)?;
            Ok(Answer::provisioned(done.instance_id, done.license))
        }
        Operation::Renew => {
            let req = RenewRequest::parse(params).map_err(invalid)?;
            lifecycle::renew(&ctx, req, activity)?;
            Ok(Answer::success())
        }
        Operation::Freeze | Operation::Unfreeze => {
            let req = InstanceRequest::parse(params).map_err(invalid)?;
            lifecycle::set_frozen(&ctx, req, op == Operation::Freeze, activity)?;
            Ok(Answer::success())
        }
        Operation::Release => {
            let req = InstanceRequest::parse(params).map_err(invalid)?;
            lifecycle::release(&ctx, req, activity)?;
            Ok(Answer::success())
        }
        Operation::Upgrade => {
            let req = UpgradeRequest::parse(params).map_err(invalid)?;
            lifecycle::upgrade(&ctx, req, activity)?;
            Ok(Answer::success())
        }
    }
}
