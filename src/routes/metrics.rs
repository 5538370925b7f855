//! `GET /metrics`: the Prometheus exposition, for a read-scoped token; the same without a token
//! on the internal `server.metrics_listen` address.

use actix_web::{web, HttpResponse};

use crate::access::extract::Read;
use crate::error::ApiError;
use crate::metrics::{StoreGauges, CONTENT_TYPE};
use crate::state::AppState;

/// `GET /metrics`
pub(crate) async fn get_metrics(
    _caller: Read,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    render(state).await
}

/// `GET /metrics` on the internal address (reachable only where it is bound).
pub(crate) async fn get_internal_metrics(
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    render(state).await
}

async fn render(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let text = crate::telemetry::blocking(move || -> Result<String, ApiError> {
        let gauges = StoreGauges::read(&state.store)?;
        Ok(state.metrics.render(&gauges))
    })
    .await??;
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(text))
}
