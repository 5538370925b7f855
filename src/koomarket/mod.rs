//! KooMarket marketplace integration: request authentication and response signing, the GET
//! License production interface (getLicense, refreshLicense, expireLicense, releaseLicense and
//! the generic SaaS names), and the open-API request signing.

// The open-API signing is complete and tested; the outbound marketplace client (License 2.0 and
// online-license interfaces) is its caller.
#[allow(dead_code)]
pub(crate) mod apig;
pub(crate) mod auth;
pub(crate) mod extend;
pub(crate) mod handler;
pub(crate) mod lifecycle;
pub(crate) mod params;
mod percent;
pub(crate) mod result;
