//! Status codes, the error handle, and the guard every exported function runs its body in, so
//! that no panic unwinds into the caller and every failure leaves a readable message.

use std::borrow::Cow;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use koolicense_verify::Error;

use crate::text::{lend, Text};

/// What a call returned: `KOOLICENSE_STATUS_OK` (0) or why it failed. The numbers are stable.
/// A verifier error newer than this list is reported as `KOOLICENSE_STATUS_OTHER_LICENSE_ERROR`
/// with its name in `koolicense_error_kind`.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KoolicenseStatus {
    /// Success.
    Ok = 0,
    /// An argument was NULL where it must not be, not UTF-8, or otherwise unusable.
    InvalidArgument = 1,
    /// A pinned public key could not be parsed.
    InvalidPublicKey = 2,
    /// A hardware identifier string could not be parsed.
    InvalidHardwareIdentifier = 3,
    /// This machine's hardware identifier could not be read.
    MachineUnreadable = 4,
    /// A file (the clock mark file) could not be read or written.
    Io = 5,
    /// The text is not a license token in either the one-line or the armoured form.
    Encoding = 10,
    /// The input is larger than any valid token.
    TooLarge = 11,
    /// The token's format version is not one this library understands.
    UnsupportedVersion = 12,
    /// No pinned public key has the token's key id.
    UnknownKey = 13,
    /// The signature does not verify against the pinned key.
    BadSignature = 14,
    /// The signature verified but the signed payload is not well formed.
    Malformed = 15,
    /// The payload carries a critical field this library does not know.
    UnsupportedCriticalField = 16,
    /// The license is not valid yet.
    NotYetValid = 17,
    /// The license has expired.
    Expired = 18,
    /// The license is for another product.
    WrongProduct = 19,
    /// The license is bound to a system identifier but none was given.
    MissingSystemIdentifier = 20,
    /// The license is bound to hardware but no hardware identifier was given.
    MissingHardwareIdentifier = 21,
    /// The given system identifier is not the one the license names.
    SystemIdentifierMismatch = 22,
    /// Too few hardware components match the license's binding.
    HardwareMismatch = 23,
    /// A signed object of another kind was given (e.g. a revocation list for a license).
    WrongObjectKind = 24,
    /// A revocation list or status answer is not newer than the one accepted before.
    Stale = 25,
    /// A status answer does not echo the nonce that was sent.
    NonceMismatch = 26,
    /// The license is revoked or suspended.
    Revoked = 27,
    /// The license was issued for marketplace test traffic and test licenses are not allowed.
    TestLicense = 28,
    /// The clock is behind the high-water mark by more than the leeway: it was set back.
    ClockBehind = 29,
    /// The revocation list was signed longer ago than the maximum age.
    ListTooOld = 30,
    /// The status answer is about another license or another token (revision) of it.
    StatusMismatch = 31,
    /// The hardware binding's anchor component does not match (an identifier assembled from
    /// several machines' parts).
    AnchorMismatch = 32,
    /// A verifier error without a dedicated status here; `koolicense_error_kind` names it.
    OtherLicenseError = 98,
    /// A bug in this library (a caught panic). Please report it.
    Internal = 99,
}

/// Why a call failed, before it becomes an error handle.
#[derive(Debug)]
pub(crate) struct Failure {
    status: KoolicenseStatus,
    kind: Cow<'static, str>,
    message: String,
}

impl Failure {
    pub(crate) fn new(
        status: KoolicenseStatus,
        kind: &'static str,
        message: impl Into<String>,
    ) -> Failure {
        Failure {
            status,
            kind: Cow::Borrowed(kind),
            message: message.into(),
        }
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Failure {
        Failure::new(
            KoolicenseStatus::InvalidArgument,
            "InvalidArgument",
            message,
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Failure {
        Failure::new(KoolicenseStatus::Internal, "Internal", message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            status: status_of(&error),
            kind: Cow::Owned(kind_of(&error)),
            message: error.to_string(),
        }
    }
}

/// The status for a verifier error.
fn status_of(error: &Error) -> KoolicenseStatus {
    use KoolicenseStatus as S;
    match error {
        Error::Encoding(_) => S::Encoding,
        Error::TooLarge => S::TooLarge,
        Error::UnsupportedVersion(_) => S::UnsupportedVersion,
        Error::UnknownKey(_) => S::UnknownKey,
        Error::BadSignature => S::BadSignature,
        Error::Malformed(_) => S::Malformed,
        Error::UnsupportedCriticalField(_) => S::UnsupportedCriticalField,
        Error::NotYetValid { .. } => S::NotYetValid,
        Error::Expired { .. } => S::Expired,
        Error::WrongProduct => S::WrongProduct,
        Error::MissingSystemIdentifier => S::MissingSystemIdentifier,
        Error::MissingHardwareIdentifier => S::MissingHardwareIdentifier,
        Error::SystemIdentifierMismatch => S::SystemIdentifierMismatch,
        Error::HardwareMismatch { .. } => S::HardwareMismatch,
        Error::InvalidPublicKey => S::InvalidPublicKey,
        Error::WrongObjectKind => S::WrongObjectKind,
        Error::Stale => S::Stale,
        Error::NonceMismatch => S::NonceMismatch,
        Error::Revoked => S::Revoked,
        Error::TestLicense => S::TestLicense,
        Error::ClockBehind { .. } => S::ClockBehind,
        Error::ListTooOld { .. } => S::ListTooOld,
        Error::StatusMismatch => S::StatusMismatch,
        Error::AnchorMismatch => S::AnchorMismatch,
        _ => S::OtherLicenseError,
    }
}

/// The name of the error's variant, as the known-answer vectors record it:
/// `Expired { .. }` → `Expired`.
pub(crate) fn kind_of(error: &Error) -> String {
    format!("{error:?}")
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// Why a call failed: status, kind and message. Immutable: any thread may read it.
#[derive(Debug)]
pub struct KoolicenseError {
    status: KoolicenseStatus,
    kind: Text,
    message: Text,
}

impl From<Failure> for KoolicenseError {
    fn from(failure: Failure) -> KoolicenseError {
        KoolicenseError {
            status: failure.status,
            kind: Text::new(&failure.kind),
            message: Text::new(&failure.message),
        }
    }
}

/// Runs an exported function's body: clears `*error_out`, catches panics, and on failure stores
/// a new error handle in `*error_out` and returns its status.
///
/// # Safety
/// `error_out` is NULL or valid for writing a pointer.
pub(crate) unsafe fn guard(
    error_out: *mut *mut KoolicenseError,
    body: impl FnOnce() -> Result<(), Failure>,
) -> KoolicenseStatus {
    if !error_out.is_null() {
        // SAFETY: the caller guarantees that a non-NULL `error_out` is valid for writes.
        unsafe { error_out.write(ptr::null_mut()) };
    }
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return KoolicenseStatus::Ok,
        Ok(Err(failure)) => failure,
        Err(_) => Failure::internal("internal error in the koolicense verifier (caught panic)"),
    };
    let status = failure.status;
    if !error_out.is_null() {
        let handle = Box::into_raw(Box::new(KoolicenseError::from(failure)));
        // SAFETY: as above.
        unsafe { error_out.write(handle) };
    }
    status
}

/// Borrows a handle the caller passed in.
///
/// # Safety
/// `handle` is NULL or a live handle of type `T` created by this library.
pub(crate) unsafe fn borrow<'a, T>(handle: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller guarantees a non-NULL `handle` points to a live `T`.
    unsafe { handle.as_ref() }.ok_or_else(|| Failure::invalid_argument(format!("{what} is NULL")))
}

/// Hands a new handle to the caller through `out` (when non-NULL).
///
/// # Safety
/// `out` is NULL or valid for writing a pointer.
pub(crate) unsafe fn hand_over<T>(out: *mut *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: the caller guarantees that a non-NULL `out` is valid for writes.
        unsafe { out.write(Box::into_raw(Box::new(value))) };
    }
}

/// Frees a handle created by [`hand_over`]. NULL is ignored.
///
/// # Safety
/// `handle` is NULL or a handle of type `T` from this library that is freed only once and not
/// used afterwards.
pub(crate) unsafe fn free<T>(handle: *mut T) {
    if !handle.is_null() {
        // SAFETY: the caller guarantees `handle` came from `Box::into_raw` and is freed once.
        drop(unsafe { Box::from_raw(handle) });
    }
}

/// The status of an error; `KOOLICENSE_STATUS_INVALID_ARGUMENT` for NULL.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `error` is NULL or a live error handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_error_status(
    error: *const KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees a non-NULL `error` is live.
    match unsafe { error.as_ref() } {
        Some(error) => error.status,
        None => KoolicenseStatus::InvalidArgument,
    }
}

/// The kind of an error: the verifier's error name as in the known-answer vectors (`Expired`,
/// `HardwareMismatch`, ...) or `InvalidArgument`, `InvalidHardwareIdentifier`,
/// `MachineUnreadable`, `Io`, `Internal`. Borrowed from the handle; NULL for a NULL handle.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `error` is NULL or a live error handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_error_kind(
    error: *const KoolicenseError,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    unsafe { lend(error.as_ref().map(|e| &e.kind), len_out) }
}

/// A readable English message for an error. Borrowed from the handle; NULL for a NULL handle.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// As for [`koolicense_error_kind`].
#[no_mangle]
pub unsafe extern "C" fn koolicense_error_message(
    error: *const KoolicenseError,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    unsafe { lend(error.as_ref().map(|e| &e.message), len_out) }
}

/// Frees an error handle. NULL is ignored.
///
/// Must not race with other uses of the same handle.
///
/// # Safety
/// `error` is NULL or an error handle that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn koolicense_error_free(error: *mut KoolicenseError) {
    // SAFETY: forwarded from the caller.
    unsafe { free(error) }
}
