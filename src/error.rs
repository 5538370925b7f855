//! Errors of the merchant-facing HTTP API (`/v1`, health endpoints): one table maps each error
//! to its HTTP status and stable machine-readable code; the body is
//! `{"code": "...", "message": "..."}`. KooMarket callbacks have their own mapping to
//! `resultCode` in `koomarket::result`, separate from this one.

use actix_web::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::licensing::LicensingError;
use crate::store::records::Scope;
use crate::store::StoreError;

/// An error answered by the merchant API.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The request is malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// No valid bearer token.
    #[error("a valid API token is required: Authorization: Bearer klt_...")]
    Unauthorized,
    /// A console session's change without its CSRF token.
    #[error("a change from the console must carry the session's X-CSRF-Token header")]
    CsrfTokenRequired,
    /// The token lacks the scope.
    #[error("this API token lacks the {0} scope")]
    Forbidden(Scope),
    /// The change conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// Too many requests.
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Storage failed; details are logged, not returned.
    #[error("storage is unavailable")]
    Storage(#[from] StoreError),
    /// The service is not ready (starting or shutting down).
    #[error("service is not ready")]
    NotReady,
    /// Storage failed (the reason is the store's own, never a caller's or an upstream's); the
    /// process stops to be restarted.
    #[error("storage failed: {0}; the service stops to be restarted")]
    StorageFailed(String),
    /// An unexpected failure; details are logged, not returned.
    #[error("internal error")]
    Internal(String),
    /// Every machine slot of an authorization code is taken.
    #[error("{0}")]
    QuantityExhausted(String),
    /// The authorization code is frozen, expired or released.
    #[error("{0}")]
    LicenseCodeInactive(String),
    /// The marketplace does not know the authorization code.
    #[error("{0}")]
    LicenseCodeUnknown(String),
    /// The buyer has not claimed (领取) the authorization code yet.
    #[error("{0}")]
    LicenseCodeNotClaimed(String),
    /// The marketplace could not be reached or failed.
    #[error("{0}")]
    MarketplaceUnavailable(String),
    /// The caller did not prove it holds the license, lease or seat on its machine.
    #[error("{0}")]
    ProofRejected(String),
    /// Too many deactivations of one purchase within the window.
    #[error("{message}")]
    DeactivationLimit {
        /// The explanation.
        message: String,
        /// Seconds until the next deactivation is allowed.
        retry_after_secs: u64,
    },
}

/// The error table: (stable code, HTTP status) for each error.
impl ApiError {
    /// The stable code and status.
    pub(crate) fn code(&self) -> (&'static str, StatusCode) {
        match self {
            ApiError::InvalidRequest(_) => ("invalid_request", StatusCode::BAD_REQUEST),
            ApiError::NotFound(_) => ("not_found", StatusCode::NOT_FOUND),
            ApiError::Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED),
            ApiError::Forbidden(_) => ("forbidden", StatusCode::FORBIDDEN),
            ApiError::CsrfTokenRequired => ("csrf_token_required", StatusCode::FORBIDDEN),
            ApiError::Conflict(_) => ("conflict", StatusCode::CONFLICT),
            ApiError::RateLimited { .. } => ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
            ApiError::Storage(_) => ("storage_unavailable", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::NotReady => ("not_ready", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::StorageFailed(_) => ("storage_failed", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::Internal(_) => ("internal_error", StatusCode::INTERNAL_SERVER_ERROR),
            ApiError::QuantityExhausted(_) => ("quantity_exhausted", StatusCode::CONFLICT),
            ApiError::LicenseCodeInactive(_) => ("license_code_inactive", StatusCode::FORBIDDEN),
            ApiError::LicenseCodeUnknown(_) => ("license_code_unknown", StatusCode::NOT_FOUND),
            ApiError::LicenseCodeNotClaimed(_) => {
                ("license_code_not_claimed", StatusCode::CONFLICT)
            }
            ApiError::MarketplaceUnavailable(_) => {
                ("marketplace_unavailable", StatusCode::SERVICE_UNAVAILABLE)
            }
            ApiError::ProofRejected(_) => ("proof_rejected", StatusCode::FORBIDDEN),
            ApiError::DeactivationLimit { .. } => {
                ("deactivation_limit", StatusCode::TOO_MANY_REQUESTS)
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().1
    }

    fn error_response(&self) -> HttpResponse {
        let (code, status) = self.code();
        if status.is_server_error() {
            tracing::error!(error = ?self, code, "request failed");
        }
        let mut response = HttpResponse::build(status);
        match self {
            ApiError::RateLimited { retry_after_secs }
            | ApiError::DeactivationLimit {
                retry_after_secs, ..
            } => {
                response.insert_header((RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unauthorized => {
                response.insert_header((WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        response.json(ErrorBody {
            code,
            message: self.to_string(),
        })
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// The core's errors as the merchant API answers them.
impl From<LicensingError> for ApiError {
    fn from(e: LicensingError) -> Self {
        use LicensingError as E;
        let message = e.to_string();
        match e {
            E::Invalid(_)
            | E::BadHardwareId(_)
            | E::Encode(_)
            | E::MissingIdentifier(_)
            | E::FingerprintRequired(_)
            | E::ExpiryRequired(_)
            | E::OutsideValidity(_) => ApiError::InvalidRequest(message),
            E::NotFound(_) | E::UnknownInstance(_) => ApiError::NotFound(message),
            E::Conflict { .. } => ApiError::Conflict(message),
            E::QuantityExhausted(_) => ApiError::QuantityExhausted(message),
            E::CodeUnknown(_) => ApiError::LicenseCodeUnknown(message),
            E::CodeNotClaimed(_) => ApiError::LicenseCodeNotClaimed(message),
            E::CodeInactive(_) => ApiError::LicenseCodeInactive(message),
            E::MarketplaceUnavailable(_) => ApiError::MarketplaceUnavailable(message),
            E::ProofRejected(_) => ApiError::ProofRejected(message),
            E::DeactivationLimit {
                retry_after_secs, ..
            } => ApiError::DeactivationLimit {
                message,
                retry_after_secs,
            },
            E::Storage(inner) => ApiError::Storage(inner),
            E::Corrupt(inner) | E::Internal(inner) => ApiError::Internal(inner),
        }
    }
}
