//! Seats that come back: floating licenses' leases (checkout, heartbeat, return, lapse,
//! borrowing, the race for the last seat, what they leave in the audit trail) over HTTP
//! against the real app, and offline activation refused for licenses that hold no seats.
//! Deactivation and offline activation of codes and online-license orders need the fake
//! marketplace and live under `post/`.

mod audit;
mod leases;
mod offline;
mod support;
