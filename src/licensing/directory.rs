//! The port through which the core reaches the marketplace's authorization-code directory
//! (activate and query, spec §5.3): the outbound client implements [`CodeDirectory`], tests
//! may implement it too, and the core never depends on the HTTP client.

use chrono::{DateTime, Utc};

use super::LicensingError;
use crate::store::market_records::CodeStatus;

/// An authorization code as the marketplace describes it (every field optional: the answers'
/// later fields are UNCONFIRMED).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CodeInfo {
    pub(crate) status: Option<CodeStatus>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) product_id: Option<String>,
    pub(crate) order_id: Option<String>,
    /// The purchased quantity.
    pub(crate) amount: Option<u32>,
}

/// Why the marketplace could not answer about a code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CodeLookupError {
    /// No such code.
    Unknown,
    /// The buyer has not claimed (领取) it.
    NotClaimed,
    /// It is already active (activate only).
    AlreadyActive,
    /// The marketplace refused the request itself.
    Refused(String),
    /// The marketplace could not be reached or failed.
    Unavailable(String),
}

/// The marketplace's authorization-code directory (activate and query, §5.3).
pub(crate) trait CodeDirectory: Send + Sync {
    /// Activates `code`; `Ok(None)` when the answer carries no details.
    fn activate(&self, code: &str) -> Result<Option<CodeInfo>, CodeLookupError>;
    /// Queries `code`'s status and validity.
    fn query(&self, code: &str) -> Result<CodeInfo, CodeLookupError>;
}

/// The core's error for a failed lookup of `code`.
pub(super) fn lookup_error(code: &str, e: CodeLookupError) -> LicensingError {
    match e {
        CodeLookupError::Unknown => LicensingError::CodeUnknown(format!(
            "the marketplace does not know authorization code {code}"
        )),
        CodeLookupError::NotClaimed => LicensingError::CodeNotClaimed(
            "the buyer has not claimed (领取) this authorization code yet in the marketplace"
                .into(),
        ),
        CodeLookupError::Refused(m) => {
            tracing::warn!(error = %m, "the marketplace refused an authorization code");
            LicensingError::Invalid("the marketplace refused this authorization code".into())
        }
        CodeLookupError::AlreadyActive => {
            LicensingError::MarketplaceUnavailable("the code is active but cannot be read".into())
        }
        CodeLookupError::Unavailable(m) => {
            // The caller is anonymous: the upstream detail (URLs, transport errors) is logged only.
            tracing::warn!(error = %m, "marketplace call for an authorization code failed");
            LicensingError::MarketplaceUnavailable(
                "the marketplace cannot be reached right now; try again later".into(),
            )
        }
    }
}
