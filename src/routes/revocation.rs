//! What reaches delivered software: `GET /v1/revocations` (the signed revocation list) and
//! `POST /v1/status` (a signed, nonce-bound answer about one license). Both are public: they
//! reveal only license ids and states, and are rate-limited per address like every `/v1` route.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use koolicense_verify::{
    EntryStatus, LicenseId, LicenseState, PublicKey, RevocationEntry, RevocationList, StatusAnswer,
    Verifier, MAX_NONCE_LEN,
};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::{LicenseRecord, LicenseStatus};
use crate::store::StoreError;

fn unix(t: chrono::DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp()).unwrap_or(0)
}

/// The current signed list, rebuilt only when the revocation sequence moved.
fn current_list(state: &AppState) -> Result<(u64, String), StoreError> {
    let sequence = state.store.revocation_sequence()?;
    if let Some((cached, text)) = state.revocations.lock().as_ref() {
        if *cached == sequence {
            return Ok((sequence, text.clone()));
        }
    }
    let mut entries = Vec::new();
    state.store.for_each_license(|record| {
        if let Some(entry) = revocation_entry(&record) {
            entries.push(entry);
        }
        true
    })?;
    let list = RevocationList::new(sequence, unix(Utc::now()), entries);
    let unsigned = list.to_unsigned(&state.signer.kid());
    let text = unsigned.finish(&state.signer.sign_raw(&unsigned.message()));
    *state.revocations.lock() = Some((sequence, text.clone()));
    Ok((sequence, text))
}

fn revocation_entry(record: &LicenseRecord) -> Option<RevocationEntry> {
    let license_id = LicenseId::parse(&record.license_id)?;
    let status = match record.status {
        LicenseStatus::Suspended => EntryStatus::Suspended,
        LicenseStatus::Revoked => EntryStatus::Revoked,
        LicenseStatus::Released => EntryStatus::Released,
        LicenseStatus::Active | LicenseStatus::Frozen if record.revoked_below > 0 => {
            EntryStatus::Superseded
        }
        LicenseStatus::Active | LicenseStatus::Frozen => return None,
    };
    let revoked_below = if status == EntryStatus::Superseded {
        record.revoked_below
    } else {
        u32::MAX
    };
    Some(RevocationEntry {
        license_id,
        revoked_below,
        status,
    })
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
    let (sequence, text) = crate::telemetry::blocking(move || current_list(&state2)).await??;
    let seq_header = ("X-Revocation-Sequence", sequence.to_string());
    Ok(match query.format.as_deref().unwrap_or("text") {
        "text" => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(seq_header)
            .body(text),
        "armored" => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header(seq_header)
            .body(koolicense_verify::armor_revocation_list(&text)),
        "json" => HttpResponse::Ok()
            .insert_header(seq_header)
            .json(json!({ "sequence": sequence, "list": text })),
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
    let state2 = state.clone();
    let (state_now, answer) =
        crate::telemetry::blocking(move || status_answer(&state2, req)).await??;
    Ok(HttpResponse::Ok().json(json!({ "state": state_now.as_str(), "answer": answer })))
}

fn status_answer(state: &AppState, req: StatusRequest) -> Result<(LicenseState, String), ApiError> {
    let (license_id, token_revision) = match (&req.license, &req.license_id) {
        (Some(token), None) => {
            let keys = state
                .store
                .signing_keys()?
                .iter()
                .filter_map(|k| PublicKey::parse(&k.public_key_pem).ok())
                .collect::<Vec<_>>();
            let claims = Verifier::new(keys)
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
    let (license_state, revision, expires_at) = match &record {
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
        state: license_state,
        current_revision: revision,
        expires_at,
        nonce: req.nonce,
    };
    let unsigned = answer
        .to_unsigned(&state.signer.kid())
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let text = unsigned.finish(&state.signer.sign_raw(&unsigned.message()));
    Ok((license_state, text))
}
