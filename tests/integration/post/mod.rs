//! The POST production interface (online license, License 2.0 authorization codes), activation
//! by the delivered software and the marketplace open-API client, against a fake marketplace.

mod codes;
mod fake_market;
mod online;
mod outbox;
mod replays;
mod revocations;
mod scheme_b;
mod seats;
mod silent_market;
mod support;
