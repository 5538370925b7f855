//! KooMarket marketplace integration.

pub(crate) mod apig;
pub(crate) mod auth;
pub(crate) mod extend;
mod percent;
