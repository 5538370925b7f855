//! koolicense: the KooMarket License production interface, merchant API and CLI.

pub(crate) mod koomarket;
pub(crate) mod store;
