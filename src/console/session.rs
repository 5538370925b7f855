//! `/console/session`: sign in with an API token (a session cookie is set), ask who is signed in
//! (and the session's CSRF token, after a reload), and sign out.
//!
//! The cookie is HttpOnly (scripts never see it), SameSite=Strict (no other site's page sends
//! it), Path=/ (the console calls `/v1`), and Secure when the request arrived over TLS: served
//! directly, or through a proxy that says so (`Forwarded: proto=https`, `X-Forwarded-Proto`).
//! Trusting that header is safe here: a forged one can only add Secure, which stops the cookie
//! from travelling over plain HTTP.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access::extract::{csrf_ok, session};
use crate::access::session::{Session, SESSION_COOKIE};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::records::Scope;

/// Body of `POST /console/session`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    token: String,
}

/// Who is signed in, as the console shows it.
#[derive(Serialize)]
struct SessionView<'a> {
    token_id: &'a str,
    token_name: &'a str,
    scopes: &'a [Scope],
    /// To send as `X-CSRF-Token` with every change.
    csrf_token: &'a str,
    expires_at: DateTime<Utc>,
}

fn view(session: &Session) -> SessionView<'_> {
    SessionView {
        token_id: &session.caller.token_id,
        token_name: &session.token_name,
        scopes: &session.caller.scopes,
        csrf_token: &session.csrf_token,
        expires_at: session.expires_at,
    }
}

fn state(req: &HttpRequest) -> Result<&AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| ApiError::Internal("application state missing".into()))
}

/// Whether the browser reached us over TLS: directly, or via a proxy's header.
fn over_tls(req: &HttpRequest) -> bool {
    req.app_config().secure() || req.connection_info().scheme() == "https"
}

fn cookie(req: &HttpRequest, value: String) -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_tls(req))
        .finish();
    if cookie.value().is_empty() {
        cookie.set_max_age(time::Duration::ZERO);
    }
    cookie
}

/// `POST /console/session`: a valid API token starts a session. JSON only, so no other site's
/// form can sign a browser in.
pub(crate) async fn sign_in(
    req: HttpRequest,
    body: web::Json<SignIn>,
) -> Result<HttpResponse, ApiError> {
    let state = state(&req)?;
    if req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return Err(ApiError::Unauthorized);
    }
    let caller = state
        .gate
        .tokens
        .authenticate(&state.store, body.token.trim(), Utc::now())
        .map_err(|_| ApiError::Unauthorized)?;
    if let Some(previous) = req.cookie(SESSION_COOKIE) {
        // A browser signing in again leaves no second session behind.
        state.gate.sessions.end(previous.value());
    }
    let name = state
        .gate
        .tokens
        .name_of(&caller.token_id)
        .unwrap_or_default();
    let new = state.gate.sessions.start(caller, name, Utc::now());
    tracing::info!(token = %new.session.caller.token_id, "console session started");
    Ok(HttpResponse::Created()
        .cookie(cookie(&req, new.id))
        .json(view(&new.session)))
}

/// `GET /console/session`: the signed-in token and the session's CSRF token.
pub(crate) async fn current(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let state = state(&req)?;
    let (_, session) = session(&req, &state.gate)
        .filter(|(_, s)| state.gate.tokens.live(&s.caller.token_id).is_some())
        .ok_or(ApiError::Unauthorized)?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(view(&session)))
}

/// `DELETE /console/session`: ends the session (with its CSRF token) and clears the cookie.
pub(crate) async fn sign_out(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let state = state(&req)?;
    if let Some((id, session)) = session(&req, &state.gate) {
        if !csrf_ok(&req, &session) {
            return Err(ApiError::CsrfTokenRequired);
        }
        state.gate.sessions.end(&id);
        tracing::info!(token = %session.caller.token_id, "console session ended");
    }
    Ok(HttpResponse::NoContent()
        .cookie(cookie(&req, String::new()))
        .finish())
}
