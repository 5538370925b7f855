//! KooMarket marketplace integration: request authentication and response signing, the GET
//! License production interface (getLicense, refreshLicense, expireLicense, releaseLicense and
//! the generic SaaS names), and the open-API request signing.

pub(crate) mod apig;
pub(crate) mod auth;
pub(crate) mod extend;
pub(crate) mod handler;
pub(crate) mod lifecycle;
pub(crate) mod params;
mod percent;
pub(crate) mod result;
