//! The outermost middleware: gives every request a fresh random id (never derived from anything
//! the caller sent, so never a secret), runs the request inside a `request{id=…}` span so every
//! log line of it carries the id (work on the blocking pool too, see
//! [`crate::telemetry::blocking`]), answers it in `X-Request-Id`, writes one access-log line
//! (path without the query string: KooMarket's `authToken` travels there; a production-interface
//! call's activity, order, instance or target and result code are fields of the span) and times
//! the request per route pattern for the metrics.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::field::Empty;
use tracing::Instrument;

use crate::state::AppState;

/// The answer header naming the request id.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// See the module documentation.
pub(crate) async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    // The production interface's handlers fill in what the call was and how it was answered
    // (`koomarket::handler`, `koomarket::post`), so its access line says it all in one line.
    let span = tracing::info_span!(
        "request",
        id = %id,
        activity = Empty,
        order_id = Empty,
        instance_id = Empty,
        target = Empty,
        result = Empty,
    );
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let client = state
        .as_ref()
        .map(|s| s.gate.limiter.client_of(req.request()))
        .unwrap_or_default();
    // Inner layers answer errors themselves (see `ratelimit::limit`); one that does not is
    // passed on, logged in the request's span.
    let mut res = match next.call(req).instrument(span.clone()).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => {
            span.in_scope(|| tracing::warn!(error = %e, "request failed in a middleware"));
            return Err(e);
        }
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let elapsed = started.elapsed();
    let route = res.request().match_pattern();
    let route = route.as_deref().unwrap_or("unmatched");
    let method = res.request().method().as_str();
    if let Some(state) = &state {
        state.metrics.http_request(method, route, elapsed);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "koolicense::http",
            %client,
            method,
            path = res.request().path(),
            status = res.status().as_u16(),
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "request"
        );
    });
    Ok(res)
}
