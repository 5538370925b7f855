//! `POST /v1/activate`: the delivered software activates a License 2.0 authorization code for
//! its machine and receives its license. Public (the code is the credential), rate-limited per
//! address like every `/v1` route.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::licensing::{Activated, Step};
use crate::marketplace::pool::Busy;
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

/// `POST /v1/activate`.
pub(crate) async fn activate(
    state: web::Data<AppState>,
    body: web::Json<ActivateRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let activated = activate_code(&state, req.code().to_owned(), req.hardware_identifier).await?;
    Ok(HttpResponse::Ok().json(json!({
        "license": activated.license,
        "license_id": activated.license_id,
        "expires_at": activated.expires_at,
        "repeated": activated.repeated,
    })))
}

/// Activates `code` for the machine `identifier` (online and offline activation): what can be
/// done locally runs on the blocking pool; the marketplace call, when one is needed, runs on the
/// outbound pool (shared with concurrent activations of the same code) while this request waits
/// without holding a thread or a lock.
pub(crate) async fn activate_code(
    state: &web::Data<AppState>,
    code: String,
    identifier: String,
) -> Result<Activated, ApiError> {
    let code = web::Data::new(code);
    let identifier = web::Data::new(identifier);
    let now = state.clock.now();
    let local = {
        let (state, code, identifier) = (state.clone(), code.clone(), identifier.clone());
        crate::telemetry::blocking(move || state.licensing.activate_local(&code, &identifier, now))
            .await??
    };
    let lookup = match local {
        Step::Done(activated) => return Ok(activated),
        Step::Needs(lookup) => lookup,
    };
    let licensing = state.licensing.clone();
    let asked = code.to_string();
    let pending = state
        .outbound
        .call(format!("{lookup:?}/{asked}"), move || {
            licensing.lookup_code(lookup, &asked, now)
        })
        .map_err(|Busy| {
            tracing::warn!("outbound pool full; activation refused for now");
            ApiError::MarketplaceUnavailable(
                "the marketplace cannot be reached right now; try again later".into(),
            )
        })?;
    let found = pending
        .await
        .map_err(|_| ApiError::Internal("the outbound call was dropped".into()))?;
    let state = state.clone();
    Ok(crate::telemetry::blocking(move || {
        state
            .licensing
            .activate_with(&code, &identifier, state.clock.now(), lookup, found)
    })
    .await??)
}

impl ActivateRequest {
    fn code(&self) -> &str {
        self.authorization_code.trim()
    }
}
