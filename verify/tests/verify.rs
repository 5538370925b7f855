//! Integration tests for koolicense-verify: one test binary, one module per concern.
//!
//! Every token here is signed with the committed TEST-ONLY key in `keys/test/` (or with a
//! deterministic throw-away key), never with a production key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "verify/support.rs"]
mod support;

#[path = "verify/activations.rs"]
mod activations;
#[path = "verify/bindings.rs"]
mod bindings;
#[path = "verify/clock.rs"]
mod clock;
#[path = "verify/hardware.rs"]
mod hardware;
#[path = "verify/leases.rs"]
mod leases;
#[path = "verify/limits.rs"]
mod limits;
#[path = "verify/payload.rs"]
mod payload;
#[path = "verify/props.rs"]
mod props;
#[path = "verify/tamper.rs"]
mod tamper;
#[path = "verify/text_forms.rs"]
mod text_forms;
#[path = "verify/vectors.rs"]
mod vectors;
#[path = "verify/vectors_build.rs"]
mod vectors_build;
#[path = "verify/vectors_cases.rs"]
mod vectors_cases;
#[path = "verify/vectors_objects.rs"]
mod vectors_objects;
#[path = "verify/window.rs"]
mod window;
