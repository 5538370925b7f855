//! KooMarket marketplace integration: request authentication and response signing, the GET
//! License production interface (getLicense, refreshLicense, expireLicense, releaseLicense and
//! the generic SaaS names), the POST interfaces (online license, License 2.0 authorization codes)
//! with activation by the delivered software, and the open-API request signing.

pub(crate) mod activate;
// The canonical request and string-to-sign helpers are exposed for tests and debugging.
#[allow(dead_code)]
pub(crate) mod apig;
pub(crate) mod auth;
pub(crate) mod codes;
pub(crate) mod extend;
pub(crate) mod handler;
pub(crate) mod license_async;
pub(crate) mod lifecycle;
pub(crate) mod machines;
pub(crate) mod nonces;
pub(crate) mod online;
pub(crate) mod params;
pub(crate) mod percent;
pub(crate) mod post;
pub(crate) mod post_params;
pub(crate) mod result;
