//! `GET /v1/keys`: every public key the service has signed with, so delivered software can pin
//! them all across rotations.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Serialize)]
struct PublishedKey {
    kid: String,
    active: bool,
    public_key_pem: String,
    first_used: chrono::DateTime<chrono::Utc>,
    retired_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Lists the public keys, the active one marked.
pub(crate) async fn list_keys(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let keys = crate::telemetry::blocking(move || store.signing_keys()).await??;
    let active = state.signer.kid().to_string();
    let keys: Vec<PublishedKey> = keys
        .into_iter()
        .map(|k| PublishedKey {
            active: k.kid == active,
            kid: k.kid,
            public_key_pem: k.public_key_pem,
            first_used: k.first_used,
            retired_at: k.retired_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "keys": keys })))
}
