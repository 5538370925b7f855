//! `POST /v1/activate`: the delivered software activates a License 2.0 authorization code for
//! its machine and receives its license. Public (the code is the credential), rate-limited per
//! address like every `/v1` route.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// Body of `POST /v1/activate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActivateRequest {
    /// The authorization code (授权码) the buyer got from the marketplace.
    authorization_code: String,
    /// This machine's hardware identifier, `MAC|disk|board|CPU`.
    hardware_identifier: String,
}

/// `POST /v1/activate`
pub(crate) async fn activate(
    state: web::Data<AppState>,
    body: web::Json<ActivateRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let activated = crate::telemetry::blocking(move || {
        state.licensing.activate(
            req.authorization_code.trim(),
            &req.hardware_identifier,
            Utc::now(),
        )
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({
        "license": activated.license,
        "license_id": activated.license_id,
        "expires_at": activated.expires_at,
        "repeated": activated.repeated,
    })))
}
