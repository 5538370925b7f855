//! Seats that come back: floating licenses' leases (checkout, heartbeat, return, lapse,
//! borrowing, the race for the last seat) over HTTP against the real app. Deactivation and
//! offline activation need the fake marketplace and live under `post/`.

mod leases;
mod support;
