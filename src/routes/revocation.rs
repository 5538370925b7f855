//! What reaches delivered software: `GET /v1/revocations` (the signed revocation list, built and
//! re-signed by `licensing::revocations`) and `POST /v1/status` (a signed, nonce-bound answer
//! about one token of a license; format 1 by default for verifiers already delivered, format 2
//! on request). Both are public: they reveal only license ids and states, and are rate-limited
//! per address like every `/v1` route.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use koolicense_verify::{LicenseId, LicenseState, StatusAnswer, MAX_NONCE_LEN};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::licensing::revocations;
use crate::state::AppState;
use crate::store::records::LicenseStatus;

fn unix(t: chrono::DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp()).unwrap_or(0)
}

/// Query of `GET /v1/revocations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevocationsQuery {
    /// `text` (default: the one-line list), `armored`, or `json`.
    format: Option<String>,
}

/// `GET /v1/revocations`
pub(crate) async fn get_revocations(
    state: web::Data<AppState>,
    query: web::Query<RevocationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let state2 = state.clone();
    let list = crate::telemetry::blocking(move || {
        revocations::current(
            &state2.store,
            &state2.signer,
            &state2.settings.revocation,
            &state2.revocations,
            Utc::now(),
        )
    })
    .await??;
    let seq_header = ("X-Revocation-Sequence", list.sequence.to_string());
    Ok(match query.format.as_deref().unwrap_or("text") {
        "text" => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(seq_header)
            .body(list.text.clone()),
        "armored" => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(seq_header)
            .body(koolicense_verify::armor_revocation_list(&list.text)),
        "json" => HttpResponse::Ok().insert_header(seq_header).json(json!({
            "sequence": list.sequence,
            "issued_at": list.issued_at,
            "entries": list.entries,
            "list": list.text,
        })),
        other => {
            return Err(ApiError::InvalidRequest(format!(
                "format {other:?} is not text, armored or json"
            )))
        }
    })
}

/// Body of `POST /v1/status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusRequest {
    /// The license token (either form); or
    license: Option<String>,
    /// the license id.
    license_id: Option<String>,
    /// A fresh random value (1 to 64 characters), echoed in the signed answer.
    nonce: String,
    /// Answer format: 1 (the default, for verifiers already delivered) or 2 (names the token's
    /// revision and the revocation floor; what `Verifier::verify_status` accepts).
    version: Option<u8>,
}

/// `POST /v1/status`
pub(crate) async fn check_status(
    state: web::Data<AppState>,
    body: web::Json<StatusRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    if req.nonce.is_empty() || req.nonce.len() > MAX_NONCE_LEN {
        return Err(ApiError::InvalidRequest(format!(
            "nonce must be 1 to {MAX_NONCE_LEN} bytes"
        )));
    }
    if !matches!(req.version, None | Some(1) | Some(2)) {
        return Err(ApiError::InvalidRequest("version must be 1 or 2".into()));
    }
    let state2 = state.clone();
    let (state_now, answer) =
        crate::telemetry::blocking(move || status_answer(&state2, req)).await??;
    Ok(HttpResponse::Ok().json(json!({ "state": state_now.as_str(), "answer": answer })))
}

fn status_answer(state: &AppState, req: StatusRequest) -> Result<(LicenseState, String), ApiError> {
    let (license_id, token_revision) = match (&req.license, &req.license_id) {
        (Some(token), None) => {
            let claims = state
                .licensing
                .issuer_verifier()?
                .authenticate(token)
                .map_err(|e| ApiError::InvalidRequest(format!("license: {e}")))?;
            (claims.license_id, Some(claims.revision))
        }
        (None, Some(id)) => (
            LicenseId::parse(id)
                .ok_or_else(|| ApiError::InvalidRequest("license_id is not a license id".into()))?,
            None,
        ),
        _ => {
            return Err(ApiError::InvalidRequest(
                "give exactly one of license or license_id".into(),
            ))
        }
    };
    let now = Utc::now();
    let record = state.store.license(&license_id.to_string())?;
    let (license_state, current_revision, expires_at) = match &record {
        None => (LicenseState::Unknown, 0, None),
        Some(r) => {
            let superseded = token_revision.is_some_and(|rev| rev < r.revoked_below);
            let s = match r.status {
                LicenseStatus::Suspended => LicenseState::Suspended,
                LicenseStatus::Revoked => LicenseState::Revoked,
                LicenseStatus::Released => LicenseState::Released,
                _ if superseded => LicenseState::Revoked,
                LicenseStatus::Frozen => LicenseState::Frozen,
                LicenseStatus::Active if r.expires_at.is_some_and(|e| e <= now) => {
                    LicenseState::Expired
                }
                LicenseStatus::Active => LicenseState::Valid,
            };
            (s, r.revision, r.expires_at.map(unix))
        }
    };
    let answer = StatusAnswer {
        server_time: unix(now),
        license_id,
        // Asked by license id, the answer is about the current token; a program holding an
        // earlier one refuses it (`StatusMismatch`).
        revision: token_revision.unwrap_or(current_revision),
        state: license_state,
        current_revision,
        revoked_below: record.as_ref().map_or(0, |r| r.revoked_below),
        expires_at,
        nonce: req.nonce,
    };
    let kid = state.signer.kid();
    let unsigned = match req.version {
        Some(2) => answer.to_unsigned(&kid),
        _ => answer.to_unsigned_v1(&kid),
    }
    .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let text = unsigned.finish(&state.signer.sign_raw(&unsigned.message()));
    Ok((license_state, text))
}
