//! `/v1/leases`: floating licenses' seats for the delivered software: check out a lease,
//! renew it by heartbeats, return it. Public (the license or the lease plus the machine
//! identifier are the proof), rate-limited per address like every `/v1` route. And
//! `GET /v1/licenses/{id}/leases`: the leases holding the seats now, for the merchant.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::access::extract::Read;
use crate::error::ApiError;
use crate::licensing::{HeldLease, LeaseAnswer};
use crate::state::AppState;

/// Body of `POST /v1/leases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckoutRequest {
    /// The floating license (one-line or armoured).
    license: String,
    /// This machine's hardware identifier or system identifier.
    machine: String,
    /// Borrow the lease for offline use for this many seconds (up to the policy's limit).
    borrow_secs: Option<u64>,
}

/// Body of a heartbeat or return.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LeaseProof {
    /// The current lease (a retried heartbeat may send the one it replaced).
    lease: String,
    /// The machine identifier the lease is bound to.
    machine: String,
}

fn answer(lease: LeaseAnswer) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "lease": lease.lease,
        "lease_id": lease.lease_id,
        "license_id": lease.license_id,
        "expires_at": lease.expires_at,
        "heartbeat_at": lease.heartbeat_at,
        "borrowed": lease.borrowed,
    }))
}

/// `POST /v1/leases`
pub(crate) async fn check_out(
    state: web::Data<AppState>,
    body: web::Json<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let now = state.clock.now();
    let lease = crate::telemetry::blocking(move || {
        state
            .licensing
            .check_out(&req.license, &req.machine, req.borrow_secs, now)
    })
    .await??;
    Ok(answer(lease))
}

/// `POST /v1/leases/{id}/heartbeat`
pub(crate) async fn heartbeat(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<LeaseProof>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let id = path.into_inner();
    let now = state.clock.now();
    let lease = crate::telemetry::blocking(move || {
        state
            .licensing
            .heartbeat(&id, &req.lease, &req.machine, now)
    })
    .await??;
    Ok(answer(lease))
}

/// `DELETE /v1/leases/{id}`
pub(crate) async fn return_lease(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<LeaseProof>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let id = path.into_inner();
    let now = state.clock.now();
    let lease_id = id.clone();
    let returned_at = crate::telemetry::blocking(move || {
        state
            .licensing
            .return_lease(&id, &req.lease, &req.machine, now)
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "lease_id": lease_id, "returned_at": returned_at })))
}

fn held_json(lease: &HeldLease) -> serde_json::Value {
    json!({
        "lease_id": lease.lease_id,
        "machine_sha256": lease.machine_sha256,
        "checked_out_at": lease.checked_out_at,
        "renewed_at": lease.renewed_at,
        "heartbeats": lease.heartbeats,
        "expires_at": lease.expires_at,
        "borrowed": lease.borrowed,
    })
}

/// `GET /v1/licenses/{id}/leases` (read scope)
pub(crate) async fn list_held_leases(
    _caller: Read,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let now = state.clock.now();
    let state2 = state.clone();
    let (seats, held) =
        crate::telemetry::blocking(move || state2.licensing.leases_of(&id, now)).await??;
    Ok(HttpResponse::Ok().json(json!({
        "seats": seats,
        "leases": held.iter().map(held_json).collect::<Vec<_>>(),
    })))
}
