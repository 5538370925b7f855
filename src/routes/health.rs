//! Liveness and readiness probes: constant time, no data in the answer (they are public), and
//! rate-limited per client address like every public route.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub(crate) async fn get_health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: storage has not failed and the service is not shutting down. O(1) and
/// without counts: it reads nothing from the database.
pub(crate) async fn get_readiness(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if let Some(reason) = state.store.failure().reason() {
        return Err(ApiError::StorageFailed(reason.to_string()));
    }
    if !state.is_ready() {
        return Err(ApiError::NotReady);
    }
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}
