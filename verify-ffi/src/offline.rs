//! Offline activation through the C ABI: the request a machine that never reaches the service
//! writes, reading the merchant's signed response on that machine, and the deactivation proof
//! that gives the seat back.

use std::ffi::c_char;

use koolicense_verify::{ActivationRequest, OfflineActivation};

use crate::call::{borrow, free, guard, hand_over, KoolicenseError, KoolicenseStatus};
use crate::claims::KoolicenseClaims;
use crate::host::KoolicenseHost;
use crate::text::{lend, require_out, required, Text};
use crate::verifier::{clear, resolve_now, KoolicenseVerifier};

/// An activation request: authorization code or license of the purchase, machine identifier and
/// nonce. Immutable.
#[derive(Debug)]
pub struct KoolicenseActivationRequest {
    request: ActivationRequest,
    text: Text,
}

impl KoolicenseActivationRequest {
    fn new(request: ActivationRequest) -> KoolicenseActivationRequest {
        KoolicenseActivationRequest {
            text: Text::new(&request.to_text()),
            request,
        }
    }
}

/// A verified offline activation: the license to keep, its claims and the deactivation proof.
/// Immutable.
#[derive(Debug)]
pub struct KoolicenseActivation {
    license: Text,
    claims: KoolicenseClaims,
    deactivation_proof: Text,
}

impl KoolicenseActivation {
    fn new(activation: OfflineActivation) -> KoolicenseActivation {
        KoolicenseActivation {
            license: Text::new(&activation.license),
            deactivation_proof: Text::new(&activation.deactivation_proof()),
            claims: KoolicenseClaims::new(activation.claims),
        }
    }
}

/// A fresh request for `subject` (a code or a license) and the machine, made by `make`.
///
/// # Safety
/// As for `koolicense_activation_request_new`.
unsafe fn new_request(
    (subject, subject_len, name): (*const u8, usize, &'static str),
    (machine, machine_len): (*const u8, usize),
    make: fn(&str, &str) -> Result<ActivationRequest, koolicense_verify::Error>,
    request_out: *mut *mut KoolicenseActivationRequest,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        guard(error_out, || {
            require_out(request_out, "request_out")?;
            clear(request_out);
            let subject = required(subject, subject_len, name)?;
            let machine = required(machine, machine_len, "machine")?;
            hand_over(
                request_out,
                KoolicenseActivationRequest::new(make(subject, machine)?),
            );
            Ok(())
        })
    }
}

/// Creates an activation request for the License 2.0 authorization code and this machine's
/// identifier (its hardware identifier `MAC|disk|board|CPU`, or the system identifier, as the
/// product binds) with a fresh nonce. Keep its text (`koolicense_activation_request_text`)
/// until the response arrives: the response answers this request only.
///
/// Thread-safe. Fails with `KOOLICENSE_STATUS_MALFORMED` for an empty, over-long or
/// whitespace-holding code or an empty or over 5 KiB machine identifier.
///
/// # Safety
/// `code` and `machine` are valid for their lengths; `request_out` is valid for writing a
/// pointer; `error_out` is NULL or valid for writing one.
#[no_mangle]
pub unsafe extern "C" fn koolicense_activation_request_new(
    code: *const u8,
    code_len: usize,
    machine: *const u8,
    machine_len: usize,
    request_out: *mut *mut KoolicenseActivationRequest,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        new_request(
            (code, code_len, "code"),
            (machine, machine_len),
            ActivationRequest::with_fresh_nonce,
            request_out,
            error_out,
        )
    }
}

/// Creates an activation request for a seat of the purchase `license` belongs to (either text
/// form; for an online-license order, a license the marketplace delivered for it) and this
/// machine's identifier, with a fresh nonce. Keep its text as for
/// `koolicense_activation_request_new`. Its text is a version 2 request, which verifiers before
/// this function existed refuse (`KOOLICENSE_STATUS_UNSUPPORTED_VERSION`).
///
/// Thread-safe. Fails with `KOOLICENSE_STATUS_MALFORMED` when `license` is not a license or the
/// machine identifier is empty or over 5 KiB.
///
/// # Safety
/// `license` and `machine` are valid for their lengths; `request_out` is valid for writing a
/// pointer; `error_out` is NULL or valid for writing one.
#[no_mangle]
pub unsafe extern "C" fn koolicense_activation_request_for_license(
    license: *const u8,
    license_len: usize,
    machine: *const u8,
    machine_len: usize,
    request_out: *mut *mut KoolicenseActivationRequest,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        new_request(
            (license, license_len, "license"),
            (machine, machine_len),
            ActivationRequest::for_license_with_fresh_nonce,
            request_out,
            error_out,
        )
    }
}

/// Reads back a request's text (armoured or one-line `klq1.`), e.g. the one this program kept
/// while the person carried it to the merchant. A mistyped character is
/// `KOOLICENSE_STATUS_ENCODING`.
///
/// Thread-safe.
///
/// # Safety
/// As for `koolicense_activation_request_new`; `text` is valid for `text_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn koolicense_activation_request_parse(
    text: *const u8,
    text_len: usize,
    request_out: *mut *mut KoolicenseActivationRequest,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            require_out(request_out, "request_out")?;
            clear(request_out);
            let request = ActivationRequest::parse(required(text, text_len, "text")?)?;
            hand_over(request_out, KoolicenseActivationRequest::new(request));
            Ok(())
        })
    }
}

/// The request as the armoured text block a person carries to the merchant. NULL for NULL.
///
/// Thread-safe; cannot fail. The text lives as long as the request handle.
///
/// # Safety
/// `request` is NULL or a live request handle; `len_out` is NULL or valid for writing a
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_activation_request_text(
    request: *const KoolicenseActivationRequest,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    unsafe { lend(request.as_ref().map(|r| &r.text), len_out) }
}

/// Frees an activation request. NULL is ignored.
///
/// Must not race with other uses of the same request.
///
/// # Safety
/// `request` is NULL or a request handle that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn koolicense_activation_request_free(
    request: *mut KoolicenseActivationRequest,
) {
    // SAFETY: forwarded from the caller.
    unsafe { free(request) }
}

/// Reads the merchant's activation response (armoured or one-line `kla1.`) to `request` at
/// `now` (Unix seconds, or `KOOLICENSE_NOW`) on `host`: signature, that it answers this request
/// (its nonce and machine; `KOOLICENSE_STATUS_NONCE_MISMATCH` otherwise), then the enclosed
/// license as `koolicense_verify_on` checks it. Stores the activation in `*activation_out` (free
/// it with `koolicense_activation_free`): keep its license and verify that from then on.
///
/// Thread-safe.
///
/// # Safety
/// `verifier`, `request` and `host` are live handles; `response` is valid for `response_len`
/// bytes; `activation_out` is valid for writing a pointer; `error_out` is NULL or valid for
/// writing one.
#[no_mangle]
pub unsafe extern "C" fn koolicense_read_activation_response(
    verifier: *const KoolicenseVerifier,
    response: *const u8,
    response_len: usize,
    request: *const KoolicenseActivationRequest,
    now: u64,
    host: *const KoolicenseHost,
    activation_out: *mut *mut KoolicenseActivation,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            require_out(activation_out, "activation_out")?;
            clear(activation_out);
            let verifier = borrow(verifier, "verifier")?;
            let request = borrow(request, "request")?;
            let host = borrow(host, "host")?;
            let response = required(response, response_len, "response")?;
            let activation = verifier.inner().read_activation_response(
                response,
                &request.request,
                resolve_now(now),
                &host.as_host(),
            )?;
            hand_over(activation_out, KoolicenseActivation::new(activation));
            Ok(())
        })
    }
}

/// The activated license (one-line form): store it and verify it like any license from now on.
/// NULL for NULL.
///
/// Thread-safe; cannot fail. The text lives as long as the activation handle.
///
/// # Safety
/// `activation` is NULL or a live activation handle; `len_out` is NULL or valid for writing a
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_activation_license(
    activation: *const KoolicenseActivation,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    unsafe { lend(activation.as_ref().map(|a| &a.license), len_out) }
}

/// The activated license's verified claims, read with the `koolicense_claims_*` accessors.
/// Borrowed: lives as long as the activation handle; do not free it. NULL for NULL.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `activation` is NULL or a live activation handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_activation_claims(
    activation: *const KoolicenseActivation,
) -> *const KoolicenseClaims {
    // SAFETY: the caller guarantees `activation` is NULL or live.
    unsafe { activation.as_ref() }.map_or(std::ptr::null(), |a| &a.claims)
}

/// The deactivation proof (an armoured text block): once the program has deleted its license and
/// the response, the person carries this back to the merchant to free the seat. NULL for NULL.
///
/// Thread-safe; cannot fail. The text lives as long as the activation handle.
///
/// # Safety
/// `activation` is NULL or a live activation handle; `len_out` is NULL or valid for writing a
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_activation_deactivation_proof(
    activation: *const KoolicenseActivation,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    unsafe { lend(activation.as_ref().map(|a| &a.deactivation_proof), len_out) }
}

/// Frees an activation. NULL is ignored.
///
/// Must not race with other uses of the same activation.
///
/// # Safety
/// `activation` is NULL or an activation handle that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn koolicense_activation_free(activation: *mut KoolicenseActivation) {
    // SAFETY: forwarded from the caller.
    unsafe { free(activation) }
}
