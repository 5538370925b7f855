//! The KooMarket production interface, inbound only: the marketplace's calls to this service.
//! Authentication (scheme A on GET, scheme B on POST, with the replay cache), parameters and
//! bodies → the core's commands (`params`, `post_params`, `extend`), and the core's outcomes →
//! the one answer type (`answer`: `resultCode` + `Body-Sign`), shared by GET and POST. Rejected
//! calls are recorded for the merchant (`rejected`); every answer is counted and every failed one
//! logged at WARN (`observed`).
//!
//! Calls this service makes TO the marketplace (open APIs, APIG signing, the outbox worker) are
//! in `marketplace`; this module never imports it.

pub(crate) mod answer;
pub(crate) mod auth;
pub(crate) mod extend;
pub(crate) mod handler;
pub(crate) mod interface;
pub(crate) mod nonces;
pub(crate) mod observed;
pub(crate) mod params;
pub(crate) mod percent;
pub(crate) mod post;
pub(crate) mod post_params;
pub(crate) mod rejected;
