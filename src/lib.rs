//! koolicense: the KooMarket License production interface, the merchant API and the CLI.
//!
//! `startup::Application` is the one app factory used by `main` and by the tests.
#![warn(missing_docs)]

pub(crate) mod access;
#[doc(hidden)]
pub mod bench_support;
pub mod cli;
pub mod clock;
pub(crate) mod console;
pub(crate) mod error;
pub(crate) mod koomarket;
pub(crate) mod licensing;
pub(crate) mod marketplace;
pub(crate) mod metrics;
pub(crate) mod routes;
pub mod settings;
pub mod signing;
pub mod startup;
pub(crate) mod state;
pub(crate) mod store;
#[doc(hidden)]
pub mod store_support;
pub mod telemetry;
