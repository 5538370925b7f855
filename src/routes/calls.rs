//! `GET /v1/marketplace/calls?result=failed`: the marketplace calls this service rejected
//! (000001, 000002, 000003, 000005), oldest first, so a merchant can reconcile them with the
//! seller console's 生产接口消息 before KooMarket's count of failed orders bites; and
//! `GET /v1/marketplace/health`, their summary (see `licensing::health`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::access::extract::Read;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest page size.
const MAX_LIMIT: usize = 500;

/// Query of `GET /v1/marketplace/calls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallsQuery {
    /// `failed` (the only result kept; the default).
    result: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<u64>,
    limit: Option<usize>,
}

/// `GET /v1/marketplace/calls`
pub(crate) async fn list_marketplace_calls(
    _caller: Read,
    state: web::Data<AppState>,
    query: web::Query<CallsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    if let Some(result) = q.result.as_deref().filter(|r| *r != "failed") {
        return Err(ApiError::InvalidRequest(format!(
            "result {result:?} is not failed (only rejected calls are recorded)"
        )));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let licensing = state.licensing.clone();
    let after = q.cursor.unwrap_or(0);
    let calls =
        crate::telemetry::blocking(move || licensing.rejected_calls(after, limit)).await??;
    let next_cursor = (calls.len() == limit)
        .then(|| calls.last().map(|c| c.id))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "calls": calls, "next_cursor": next_cursor })))
}

/// `GET /v1/marketplace/health`: the delisting guard — failed answers per day and activity for
/// the last 30 days and this month's failed orders against KooMarket's limit.
pub(crate) async fn marketplace_health(
    _caller: Read,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let licensing = state.licensing.clone();
    let health =
        crate::telemetry::blocking(move || licensing.marketplace_health(chrono::Utc::now()))
            .await??;
    Ok(HttpResponse::Ok().json(health))
}
