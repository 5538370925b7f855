//! Seats given back and offline activation: `POST /v1/deactivate` (the software frees its own
//! seat), `POST /v1/licenses/{id}/deactivate` (the merchant frees any seat), and
//! `POST /v1/activate/offline` / `POST /v1/deactivate/offline` (the text blocks a person
//! carries to and from a machine that never reaches the service; a request names an
//! authorization code or a license of an online-license order).

use actix_web::{web, HttpResponse};
use koolicense_verify::ActivationSubject;
use serde::Deserialize;
use serde_json::json;

use crate::access::extract::Write;
use crate::error::ApiError;
use crate::licensing::{Deactivated, FreedBy};
use crate::state::AppState;

/// Body of `POST /v1/deactivate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeactivateRequest {
    /// The license this machine holds (its current token).
    license: String,
    /// This machine's identifier, satisfying the license's binding.
    machine: String,
    /// The authorization code, for a license activated from one.
    authorization_code: Option<String>,
}

/// Body of `POST /v1/activate/offline`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OfflineRequest {
    /// The activation request block written by the software.
    request: String,
}

/// Body of `POST /v1/deactivate/offline`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OfflineProof {
    /// The deactivation proof block written by the software.
    proof: String,
}

fn answer(freed: Deactivated) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "license_id": freed.license_id,
        "pool": freed.pool,
        "deactivated_at": freed.deactivated_at,
    }))
}

/// `POST /v1/deactivate`
pub(crate) async fn deactivate(
    state: web::Data<AppState>,
    body: web::Json<DeactivateRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let now = state.clock.now();
    let freed = crate::telemetry::blocking(move || {
        state.licensing.deactivate(
            &req.license,
            &req.machine,
            req.authorization_code.as_deref(),
            now,
        )
    })
    .await??;
    Ok(answer(freed))
}

/// `POST /v1/licenses/{id}/deactivate`
pub(crate) async fn merchant_deactivate(
    caller: Write,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let actor = caller.0.actor();
    let now = state.clock.now();
    let freed = crate::telemetry::blocking(move || {
        state
            .licensing
            .free_seat(&id, FreedBy::Merchant(&actor), now)
    })
    .await??;
    Ok(answer(freed))
}

/// `POST /v1/activate/offline`
pub(crate) async fn activate_offline(
    state: web::Data<AppState>,
    body: web::Json<OfflineRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let request = state.licensing.read_activation_request(&req.request)?;
    let activated = match &request.subject {
        ActivationSubject::AuthorizationCode(code) => {
            super::activate::activate_code(&state, code.clone(), request.machine.clone()).await?
        }
        ActivationSubject::License(license) => {
            let (state, license, machine) =
                (state.clone(), license.clone(), request.machine.clone());
            let now = state.clock.now();
            crate::telemetry::blocking(move || {
                state.licensing.activate_by_license(&license, &machine, now)
            })
            .await??
        }
        _ => {
            return Err(ApiError::InvalidRequest(
                "activation request: unknown subject".into(),
            ))
        }
    };
    let answer = crate::telemetry::blocking(move || {
        state.licensing.activation_response(&request, activated)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "response": answer.response,
        "license_id": answer.license_id,
    })))
}

/// `POST /v1/deactivate/offline`
pub(crate) async fn deactivate_offline(
    state: web::Data<AppState>,
    body: web::Json<OfflineProof>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let now = state.clock.now();
    let freed =
        crate::telemetry::blocking(move || state.licensing.deactivate_offline(&req.proof, now))
            .await??;
    Ok(answer(freed))
}
