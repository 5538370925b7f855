//! The C ABI of [`koolicense_verify`]: the one verifier, reachable from C, C++, Python and Java.
//!
//! Every exported function starts with `koolicense_`; the header `include/koolicense.h` is
//! generated from this crate by cbindgen (see `tests/ffi/header.rs`). The conventions, which
//! hold for every function unless its documentation says otherwise:
//!
//! * **Status and errors.** Fallible functions return a [`KoolicenseStatus`]
//!   (`KOOLICENSE_STATUS_OK` is 0) and take a last argument `KoolicenseError **error_out`. When
//!   it is not NULL it is set to NULL on success and to a new error handle on failure; the
//!   handle says the status, the kind (the name of the verifier's error, as in the known-answer
//!   vectors) and a readable message, and is freed with `koolicense_error_free`.
//! * **No panic crosses the boundary.** Each body runs under `catch_unwind`; a panic becomes
//!   `KOOLICENSE_STATUS_INTERNAL`.
//! * **Strings** go in as UTF-8 pointer + length (not NUL-terminated; NULL with length 0 is the
//!   empty string where text is required, and "absent" where it is optional). Strings come out
//!   as UTF-8 with their length and a terminating NUL. Borrowed ones live as long as the handle
//!   they came from; owned ones are freed with `koolicense_string_free`.
//! * **Handles** are opaque, created by `koolicense_*_new` (or returned by a call) and freed by
//!   the matching `koolicense_*_free`, which accepts NULL.
//! * **Threads.** Verifiers, hosts, claims and errors are immutable once created: any number of
//!   threads may use the same handle at once. Freeing a handle must not race with any other use
//!   of it.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod call;
pub mod claims;
pub mod clock;
pub mod host;
pub mod json;
pub mod lease;
pub mod offline;
pub mod revocation;
pub mod status;
pub mod text;
pub mod verifier;

pub use call::{KoolicenseError, KoolicenseStatus};
pub use claims::{KoolicenseBindingKind, KoolicenseClaims};
pub use host::KoolicenseHost;
pub use lease::KoolicenseLease;
pub use offline::{KoolicenseActivation, KoolicenseActivationRequest};
pub use revocation::{
    KoolicenseEntryStatus, KoolicenseListStamp, KoolicenseRevocationEntry, KoolicenseRevocationList,
};
pub use status::{KoolicenseLicenseState, KoolicenseStatusAnswer};
pub use verifier::{
    KoolicenseVerifier, KOOLICENSE_ALLOW_TEST_LICENSES, KOOLICENSE_DEFAULT_LEEWAY_SECS,
    KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS, KOOLICENSE_NOW,
};

/// The version of this library, e.g. `"0.1.0"`, as a static NUL-terminated string.
///
/// Thread-safe; cannot fail.
#[no_mangle]
pub extern "C" fn koolicense_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
