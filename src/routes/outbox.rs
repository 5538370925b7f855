//! `/v1/outbox`: the marketplace calls waiting to be made after an answer (license uploads,
//! order queries), with their state, attempts and last error; and a manual retry.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::access::extract::{Read, Write};
use crate::error::ApiError;
use crate::licensing::RetryOutcome;
use crate::state::AppState;
use crate::store::market_records::JobState;

/// Largest page size.
const MAX_LIMIT: usize = 500;

/// Query of `GET /v1/outbox`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxQuery {
    /// `pending`, `done` or `failed`; all when absent.
    state: Option<String>,
    /// Jobs with a larger id than this (the previous page's `next_after`).
    after: Option<u64>,
    limit: Option<usize>,
}

/// `GET /v1/outbox`
pub(crate) async fn list_jobs(
    _caller: Read,
    state: web::Data<AppState>,
    query: web::Query<OutboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let job_state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            ApiError::InvalidRequest(format!("state {s:?} is not pending, done or failed"))
        })?),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let store = state.store.clone();
    let jobs =
        crate::telemetry::blocking(move || store.list_jobs(job_state, q.after, limit)).await??;
    let next_after = (jobs.len() == limit)
        .then(|| jobs.last().map(|j| j.id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "jobs": jobs, "next_after": next_after })))
}

/// `POST /v1/outbox/{id}/retry`
pub(crate) async fn retry_job(
    caller: Write,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: u64 = path
        .into_inner()
        .parse()
        .map_err(|_| ApiError::NotFound("no such outbox job".into()))?;
    let licensing = state.licensing.clone();
    let outcome = crate::telemetry::blocking(move || licensing.retry_job(id, Utc::now())).await??;
    match outcome {
        RetryOutcome::Scheduled(job) => {
            tracing::info!(job = id, actor = %caller.0.actor(), "outbox job retry scheduled");
            Ok(HttpResponse::Ok().json(job))
        }
        RetryOutcome::AlreadyDone(_) => Err(ApiError::Conflict(
            "the marketplace acknowledged this job; it is never sent again".into(),
        )),
        RetryOutcome::NotFound => Err(ApiError::NotFound("no such outbox job".into())),
    }
}
