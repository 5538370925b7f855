//! The POST production interface (online license, License 2.0 authorization codes), activation
//! by the delivered software and the marketplace open-API client, against a fake marketplace.

pub(crate) mod codes;
pub(crate) mod fake_market;
pub(crate) mod online;
pub(crate) mod order_seats;
pub(crate) mod outbox;
mod replays;
mod revocations;
mod scheme_b;
pub(crate) mod seats;
mod silent_market;
pub(crate) mod support;
