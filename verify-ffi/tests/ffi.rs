//! Tests of the C ABI: the committed header, the known-answer vectors through the exported
//! functions, revocation lists, status answers and the clock mark, and what the boundary does
//! with bad arguments.

#[path = "ffi/arguments.rs"]
mod arguments;
#[path = "ffi/checks.rs"]
mod checks;
#[path = "ffi/header.rs"]
mod header;
#[path = "ffi/issuer.rs"]
mod issuer;
#[path = "ffi/objects.rs"]
mod objects;
#[path = "ffi/support.rs"]
mod support;
#[path = "ffi/vectors.rs"]
mod vectors;
