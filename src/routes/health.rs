//! Liveness and readiness probes.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub(crate) async fn get_health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: storage answers and the service is not shutting down.
pub(crate) async fn get_readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.is_ready() {
        return Err(ApiError::NotReady);
    }
    let store = state.store.clone();
    let licenses = web::block(move || store.license_count()).await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "licenses": licenses})))
}
