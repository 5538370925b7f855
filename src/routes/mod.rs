//! The route table: every HTTP route of the service, in one place.

mod activate;
mod audit;
mod backup;
mod calls;
mod export;
mod health;
mod keys;
mod leases;
mod licenses;
mod metrics;
pub(crate) mod observe;
mod openapi;
mod outbox;
mod revocation;
mod seats;
mod stats;
mod tokens;

use actix_web::middleware::from_fn;
use actix_web::web;

use crate::access::ratelimit;
use crate::console;
use crate::error::ApiError;
use crate::koomarket;
use crate::state::AppState;

/// Every route but the production interface (its path is configured; see `docs/koomarket.md`) as
/// (method, path), in the order registered; the OpenAPI document must describe each (a test
/// checks).
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/keys"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/revocations"),
    ("post", "/v1/status"),
    ("get", "/v1/licenses"),
    ("get", "/v1/licenses/{id}"),
    ("post", "/v1/licenses/{id}/suspend"),
    ("post", "/v1/licenses/{id}/reinstate"),
    ("post", "/v1/licenses/{id}/revoke"),
    ("post", "/v1/licenses/{id}/expiry"),
    ("post", "/v1/licenses/{id}/reissue"),
    ("get", "/v1/audit"),
    ("get", "/v1/export/licenses"),
    ("get", "/v1/export/audit"),
    ("get", "/v1/tokens"),
    ("post", "/v1/tokens"),
    ("delete", "/v1/tokens/{id}"),
    ("post", "/v1/activate"),
    ("get", "/v1/outbox"),
    ("post", "/v1/outbox/{id}/retry"),
    ("get", "/v1/stats"),
    ("get", "/v1/marketplace/calls"),
    ("get", "/v1/marketplace/health"),
    ("get", "/v1/backup"),
    ("post", "/v1/leases"),
    ("post", "/v1/leases/{id}/heartbeat"),
    ("delete", "/v1/leases/{id}"),
    ("post", "/v1/deactivate"),
    ("post", "/v1/licenses/{id}/deactivate"),
    ("post", "/v1/activate/offline"),
    ("post", "/v1/deactivate/offline"),
    ("get", "/v1/licenses/{id}/leases"),
];

/// Registers every route.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    use web::{delete, get, post};
    cfg.service(
        web::resource("/healthz")
            .wrap(from_fn(ratelimit::limit))
            .route(get().to(health::get_health)),
    )
    .service(
        web::resource("/readyz")
            .wrap(from_fn(ratelimit::limit))
            .route(get().to(health::get_readiness)),
    )
    .service(
        web::resource("/metrics")
            .wrap(from_fn(ratelimit::limit))
            .route(get().to(metrics::get_metrics)),
    )
    .route(
        &state.settings.koomarket.path,
        get().to(koomarket::handler::handle_get),
    )
    .route(
        &state.settings.koomarket.path,
        post().to(koomarket::post::handle_post),
    )
    .configure(console::configure)
    .service(
        web::scope("/v1")
            .wrap(from_fn(ratelimit::limit))
            .route("/keys", get().to(keys::list_keys))
            .route("/openapi.json", get().to(openapi::get_openapi))
            .route("/revocations", get().to(revocation::get_revocations))
            .route("/status", post().to(revocation::check_status))
            .route("/licenses", get().to(licenses::list_licenses))
            .route("/licenses/{id}", get().to(licenses::get_license))
            .route(
                "/licenses/{id}/suspend",
                post().to(licenses::suspend_license),
            )
            .route(
                "/licenses/{id}/reinstate",
                post().to(licenses::reinstate_license),
            )
            .route("/licenses/{id}/revoke", post().to(licenses::revoke_license))
            .route(
                "/licenses/{id}/expiry",
                post().to(licenses::set_license_expiry),
            )
            .route(
                "/licenses/{id}/reissue",
                post().to(licenses::reissue_license),
            )
            .route("/audit", get().to(audit::list_audit_events))
            .route("/export/licenses", get().to(export::export_licenses))
            .route("/export/audit", get().to(export::export_audit))
            .route("/tokens", get().to(tokens::list_tokens))
            .route("/tokens", post().to(tokens::create_token))
            .route("/tokens/{id}", delete().to(tokens::revoke_token))
            .route("/activate", post().to(activate::activate))
            .route("/outbox", get().to(outbox::list_jobs))
            .route("/outbox/{id}/retry", post().to(outbox::retry_job))
            .route("/stats", get().to(stats::get_stats))
            .route(
                "/marketplace/calls",
                get().to(calls::list_marketplace_calls),
            )
            .route("/marketplace/health", get().to(calls::marketplace_health))
            .route("/backup", get().to(backup::get_backup))
            .route("/leases", post().to(leases::check_out))
            .route("/leases/{id}/heartbeat", post().to(leases::heartbeat))
            .route("/leases/{id}", delete().to(leases::return_lease))
            .route("/deactivate", post().to(seats::deactivate))
            .route(
                "/licenses/{id}/deactivate",
                post().to(seats::merchant_deactivate),
            )
            .route("/activate/offline", post().to(seats::activate_offline))
            .route("/deactivate/offline", post().to(seats::deactivate_offline))
            .route("/licenses/{id}/leases", get().to(leases::list_held_leases))
            .default_service(web::to(not_found)),
    )
    .default_service(web::to(not_found));
}

/// The internal metrics address: `GET /metrics` without a token, nothing else.
pub(crate) fn configure_internal(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics::get_internal_metrics))
        .default_service(web::to(not_found));
}

/// Any unknown route: the stable JSON error.
async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
