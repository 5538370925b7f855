//! `GET /v1/audit`: the append-only audit log, by license, by actor and by time range.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::access::extract::Read;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::AuditFilter;

/// Query of `GET /v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    license_id: Option<String>,
    /// `koomarket`, `cli` or `token:<id>`.
    actor: Option<String>,
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
    /// The `next_cursor` of the previous page.
    cursor: Option<u64>,
    limit: Option<usize>,
}

/// `GET /v1/audit`
pub(crate) async fn list_audit_events(
    _caller: Read,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidRequest("limit must be 1 to 1000".into()));
    }
    let filter = AuditFilter {
        license_id: q.license_id,
        actor: q.actor,
        after: q.after,
        before: q.before,
    };
    let store = state.store.clone();
    let after = q.cursor.unwrap_or(0);
    let page =
        crate::telemetry::blocking(move || store.query_audit(&filter, after, limit)).await??;
    Ok(HttpResponse::Ok().json(json!({ "events": page.events, "next_cursor": page.next_cursor })))
}
