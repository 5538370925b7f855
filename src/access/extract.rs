//! Request extractors that authenticate the bearer token and enforce a scope: a handler that
//! takes `Read` or `Write` cannot run for a caller without it (401 without a valid token, 403
//! with a token lacking the scope). A token's rate bucket is charged here, after it authenticated.

use std::future::{ready, Ready};

use actix_web::http::header::AUTHORIZATION;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use chrono::Utc;

use super::Caller;
use crate::error::ApiError;
use crate::state::AppState;
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

fn authorize(req: &HttpRequest, scope: Scope) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let token = bearer(req).ok_or(ApiError::Unauthorized)?;
    let caller = state
        .tokens
        .authenticate(&state.store, token, Utc::now())
        .map_err(|_| ApiError::Unauthorized)?;
    state.limiter.charge_token(&caller.token_id)?;
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
