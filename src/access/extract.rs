//! Request extractors that authenticate the caller and enforce a scope: a handler that takes
//! `Read` or `Write` cannot run for a caller without it (401 without a valid token, 403 with a
//! token lacking the scope). A caller is a bearer token, or else a console session cookie; a
//! session's unsafe requests (POST, DELETE, ...) must also carry its CSRF token in a header.
//! A token's rate bucket is charged here, after the caller authenticated.

use std::future::{ready, Ready};

use actix_web::http::header::AUTHORIZATION;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use chrono::Utc;

use super::session::{Session, CSRF_HEADER, SESSION_COOKIE};
use super::{Caller, Gate};
use crate::error::ApiError;
use crate::store::records::Scope;

/// A caller holding the `read` scope (or `write`).
#[derive(Debug)]
pub(crate) struct Read(pub(crate) Caller);

/// A caller holding the `write` scope.
#[derive(Debug)]
pub(crate) struct Write(pub(crate) Caller);

/// The bearer token of a request, if any.
pub(crate) fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The console session named by a request's cookie, if it is live.
pub(crate) fn session(req: &HttpRequest, gate: &Gate) -> Option<(String, Session)> {
    let id = req.cookie(SESSION_COOKIE)?.value().to_string();
    let session = gate.sessions.find(&id, Utc::now())?;
    Some((id, session))
}

/// Whether an unsafe request of `session` carries its CSRF token (safe methods need none).
pub(crate) fn csrf_ok(req: &HttpRequest, session: &Session) -> bool {
    req.method().is_safe()
        || req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| session.csrf_matches(v))
}

fn authenticate(req: &HttpRequest, gate: &Gate) -> Result<Caller, ApiError> {
    if let Some(token) = bearer(req) {
        return gate
            .tokens
            .authenticate(&gate.store, token, Utc::now())
            .map_err(|_| ApiError::Unauthorized);
    }
    let (_, session) = session(req, gate).ok_or(ApiError::Unauthorized)?;
    let caller = gate
        .tokens
        .live(&session.caller.token_id)
        .ok_or(ApiError::Unauthorized)?;
    if !csrf_ok(req, &session) {
        return Err(ApiError::CsrfTokenRequired);
    }
    Ok(caller)
}

fn authorize(req: &HttpRequest, scope: Scope) -> Result<Caller, ApiError> {
    let gate = req
        .app_data::<web::Data<Gate>>()
        .ok_or_else(|| ApiError::Internal("access control missing".into()))?;
    let caller = authenticate(req, gate)?;
    gate.limiter.charge_token(&caller.token_id)?;
    if caller.has(scope) {
        Ok(caller)
    } else {
        Err(ApiError::Forbidden(scope))
    }
}

impl FromRequest for Read {
    type Error = ApiError;
    type Future = Ready<Result<Read, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize(req, Scope::Read).map(Read))
    }
}

impl FromRequest for Write {
    type Error = ApiError;
    type Future = Ready<Result<Write, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize(req, Scope::Write).map(Write))
    }
}
