//! `/v1/licenses`: list and search, one license with its history, and the merchant actions
//! (suspend, reinstate, revoke, change expiry, reissue).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::access::extract::{Read, Write};
use crate::error::ApiError;
use crate::licensing::admin::{Action, NewBinding};
use crate::state::AppState;
use crate::store::records::LicenseStatus;
use crate::store::LicenseFilter;

/// Largest page size.
const MAX_LIMIT: usize = 500;

/// Query of `GET /v1/licenses`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    status: Option<LicenseStatus>,
    product_id: Option<String>,
    sku_code: Option<String>,
    customer_id: Option<String>,
    order_id: Option<String>,
    instance_id: Option<String>,
    #[serde(default)]
    include_test: bool,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    expires_after: Option<DateTime<Utc>>,
    expires_before: Option<DateTime<Utc>>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/licenses`
pub(crate) async fn list_licenses(
    _caller: Read,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!(
            "limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let filter = LicenseFilter {
        status: q.status,
        product_id: q.product_id,
        sku_code: q.sku_code,
        customer_id: q.customer_id,
        order_id: q.order_id,
        instance_id: q.instance_id,
        include_test: q.include_test,
        created_after: q.created_after,
        created_before: q.created_before,
        expires_after: q.expires_after,
        expires_before: q.expires_before,
    };
    let store = state.store.clone();
    let cursor = q.cursor;
    let page =
        crate::telemetry::blocking(move || store.list_licenses(&filter, cursor.as_deref(), limit))
            .await??;
    Ok(HttpResponse::Ok().json(json!({
        "licenses": page.items,
        "next_cursor": page.next_cursor,
    })))
}

/// `GET /v1/licenses/{id}`: the license, every token it has had, and its audit events.
pub(crate) async fn get_license(
    _caller: Read,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let store = state.store.clone();
    let found = crate::telemetry::blocking(move || -> Result<_, crate::store::StoreError> {
        let Some(license) = store.license(&id)? else {
            return Ok(None);
        };
        let tokens = store.token_history(&id)?;
        let audit = store.audit_for_license(&id)?;
        Ok(Some((license, tokens, audit)))
    })
    .await??;
    let (license, tokens, audit) =
        found.ok_or_else(|| ApiError::NotFound("no such license".into()))?;
    let tokens: Vec<_> = tokens
        .into_iter()
        .map(|(revision, token)| {
            json!({
                "revision": revision,
                "token": token,
                "revoked": revision < license.revoked_below,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "license": license, "tokens": tokens, "audit": audit })))
}

/// Body of the simple actions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    reason: Option<String>,
}

/// Body of `POST /v1/licenses/{id}/expiry`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpiryBody {
    /// RFC 3339, or null for perpetual.
    expires_at: Option<DateTime<Utc>>,
    reason: Option<String>,
}

/// Body of `POST /v1/licenses/{id}/reissue`: exactly one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReissueBody {
    hardware_identifier: Option<String>,
    system_identifier: Option<String>,
    #[serde(default)]
    unbound: bool,
    reason: Option<String>,
}

async fn act(
    state: web::Data<AppState>,
    id: String,
    action: Action,
    reason: Option<String>,
    actor: String,
) -> Result<HttpResponse, ApiError> {
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::InvalidRequest(
            "reason is longer than 500 characters".into(),
        ));
    }
    let record = crate::telemetry::blocking(move || {
        state
            .licensing
            .merchant_action(&id, action, reason, &actor, Utc::now())
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "license": record })))
}

fn body(body: Option<web::Json<ReasonBody>>) -> Option<String> {
    body.and_then(|b| b.into_inner().reason)
}

/// `POST /v1/licenses/{id}/suspend`
pub(crate) async fn suspend_license(
    caller: Write,
    state: web::Data<AppState>,
    path: web::Path<String>,
    reason: Option<web::Json<ReasonBody>>,
) -> Result<HttpResponse, ApiError> {
    act(
        state,
        path.into_inner(),
        Action::Suspend,
        body(reason),
        caller.0.actor(),
    )
    .await
}

/// `POST /v1/licenses/{id}/reinstate`
pub(crate) async fn reinstate_license(
    caller: Write,
    state: web::Data<AppState>,
    path: web::Path<String>,
    reason: Option<web::Json<ReasonBody>>,
) -> Result<HttpResponse, ApiError> {
    act(
        state,
        path.into_inner(),
        Action::Reinstate,
        body(reason),
        caller.0.actor(),
    )
    .await
}

/// `POST /v1/licenses/{id}/revoke` (a reason is required)
pub(crate) async fn revoke_license(
    caller: Write,
    state: web::Data<AppState>,
    path: web::Path<String>,
    reason: web::Json<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let reason = reason
        .into_inner()
        .reason
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("revoking requires a reason".into()))?;
    act(
        state,
        path.into_inner(),
        Action::Revoke,
        Some(reason),
        caller.0.actor(),
    )
    .await
}

/// `POST /v1/licenses/{id}/expiry`: extend or shorten (or make perpetual).
pub(crate) async fn set_license_expiry(
    caller: Write,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<ExpiryBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let action = Action::SetExpiry(body.expires_at);
    act(
        state,
        path.into_inner(),
        action,
        body.reason,
        caller.0.actor(),
    )
    .await
}

/// `POST /v1/licenses/{id}/reissue`: a new token with a new binding; earlier tokens are revoked.
pub(crate) async fn reissue_license(
    caller: Write,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<ReissueBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let binding = match (
        body.hardware_identifier,
        body.system_identifier,
        body.unbound,
    ) {
        (Some(h), None, false) => NewBinding::Hardware(h),
        (None, Some(s), false) => NewBinding::System(s),
        (None, None, true) => NewBinding::None,
        _ => {
            return Err(ApiError::InvalidRequest(
                "give exactly one of hardware_identifier, system_identifier or unbound: true"
                    .into(),
            ))
        }
    };
    act(
        state,
        path.into_inner(),
        Action::Reissue(binding),
        body.reason,
        caller.0.actor(),
    )
    .await
}
