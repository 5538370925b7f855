//! The route table: every HTTP route of the service, in one place.

mod health;
mod keys;

use actix_web::web;

use crate::error::ApiError;
use crate::koomarket;
use crate::state::AppState;

/// Registers every route. `koomarket_path` is the configured production-interface path.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    cfg.route("/healthz", web::get().to(health::get_health))
        .route("/readyz", web::get().to(health::get_readiness))
        .route("/v1/keys", web::get().to(keys::list_keys))
        .route(
            &state.settings.koomarket.path,
            web::get().to(koomarket::handler::handle_get),
        )
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
