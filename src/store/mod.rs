//! Durable storage.

pub(crate) mod commit;
