//! The merchant console at `/console`: a browser interface over the merchant JSON API (`/v1`).
//! It owns the embedded static assets (HTML, CSS and plain ES-module JavaScript, nothing fetched
//! from elsewhere), the security headers they are served with, and the sign-in / sign-out
//! endpoints that exchange an API token for a session cookie. Every page reads and changes data
//! through the same `/v1` routes and scope checks as any other client.

mod assets;
mod session;

use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::web;

use crate::access::ratelimit;

/// The console's Content-Security-Policy: only its own scripts, styles, images and API; no
/// inline script or style, no plugins, no framing, no `<base>`.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Registers `/console` (the page), `/console/assets/*` and `/console/session`.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, post};
    let headers = DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"))
        .add((header::CACHE_CONTROL, "no-cache"));
    cfg.service(
        web::scope("/console")
            .wrap(headers)
            .route("", get().to(assets::index))
            .route("/", get().to(assets::index))
            .route("/assets/{name:.+}", get().to(assets::asset))
            .service(
                web::resource("/session")
                    .wrap(from_fn(ratelimit::limit))
                    .route(get().to(session::current))
                    .route(post().to(session::sign_in))
                    .route(delete().to(session::sign_out)),
            ),
    );
}
