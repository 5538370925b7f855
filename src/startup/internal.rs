//! The internal address (`server.metrics_listen`): `GET /metrics` without a token, nothing else.

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::routes;
use crate::state::AppState;

/// The internal metrics server on `addr`: `GET /metrics` without a token, one worker.
pub(super) fn metrics_server(
    state: &AppState,
    addr: std::net::SocketAddr,
) -> anyhow::Result<Server> {
    let state = state.clone();
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .configure(routes::configure_internal)
    })
    .workers(1)
    .disable_signals()
    .bind(addr)
    .with_context(|| format!("while binding the metrics address {addr}"))?
    .run())
}
