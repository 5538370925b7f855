//! Tests of the C ABI: the committed header, the known-answer vectors through the exported
//! functions, and what the boundary does with bad arguments.

#[path = "ffi/arguments.rs"]
mod arguments;
#[path = "ffi/header.rs"]
mod header;
#[path = "ffi/support.rs"]
mod support;
#[path = "ffi/vectors.rs"]
mod vectors;
