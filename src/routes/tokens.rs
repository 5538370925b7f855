//! `/v1/tokens`: create, list and revoke merchant API tokens (write scope). A token's secret is
//! returned once, at creation; only its hash is stored.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::extract::Write;
use crate::access::new_token;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::{Scope, TokenRecord};

/// Body of `POST /v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTokenRequest {
    name: String,
    scopes: Vec<Scope>,
}

/// A token as listed (never its hash).
#[derive(Debug, Serialize)]
pub(crate) struct TokenView {
    id: String,
    name: String,
    scopes: Vec<Scope>,
    created_at: chrono::DateTime<Utc>,
    created_by: String,
    last_used_at: Option<chrono::DateTime<Utc>>,
    revoked_at: Option<chrono::DateTime<Utc>>,
}

impl From<TokenRecord> for TokenView {
    fn from(t: TokenRecord) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            created_at: t.created_at,
            created_by: t.created_by,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// `POST /v1/tokens`
pub(crate) async fn create_token(
    caller: Write,
    state: web::Data<AppState>,
    body: web::Json<CreateTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::InvalidRequest(
            "name must be 1 to 100 characters".into(),
        ));
    }
    if body.scopes.is_empty() {
        return Err(ApiError::InvalidRequest("give at least one scope".into()));
    }
    let new = new_token(&name, &body.scopes, &caller.0.actor(), Utc::now());
    let record = new.record.clone();
    let registry = state.gate.tokens.clone();
    let store = state.store.clone();
    crate::telemetry::blocking(move || registry.insert(&store, record)).await??;
    tracing::info!(token = %new.record.id, by = %caller.0.actor(), "API token created");
    Ok(HttpResponse::Created().json(json!({
        "token": new.token,
        "id": new.record.id,
        "name": new.record.name,
        "scopes": new.record.scopes,
        "created_at": new.record.created_at,
        "note": "store the token now: it is not shown again",
    })))
}

/// `GET /v1/tokens`
pub(crate) async fn list_tokens(_caller: Write, state: web::Data<AppState>) -> HttpResponse {
    let tokens: Vec<TokenView> = state
        .gate
        .tokens
        .list()
        .into_iter()
        .map(Into::into)
        .collect();
    HttpResponse::Ok().json(json!({ "tokens": tokens }))
}

/// `DELETE /v1/tokens/{id}`
pub(crate) async fn revoke_token(
    caller: Write,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let registry = state.gate.tokens.clone();
    let store = state.store.clone();
    let revoked =
        crate::telemetry::blocking(move || registry.revoke(&store, &id, Utc::now())).await??;
    let revoked = revoked.ok_or_else(|| ApiError::NotFound("no such token".into()))?;
    tracing::info!(token = %revoked.id, by = %caller.0.actor(), "API token revoked");
    Ok(HttpResponse::Ok().json(json!({ "token": TokenView::from(revoked) })))
}
