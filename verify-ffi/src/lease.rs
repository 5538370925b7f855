//! The lease handle: a floating license's short-lived seat for one machine, verified like a
//! license (kind, time window, product, binding), with accessors and a JSON form.

use std::ffi::c_char;

use koolicense_verify::{Lease, LicenseId};
use serde::Serialize;

use crate::call::{borrow, free, guard, hand_over, Failure, KoolicenseError, KoolicenseStatus};
use crate::claims::KoolicenseClaims;
use crate::host::KoolicenseHost;
use crate::json::{claims_view, ClaimsJson};
use crate::text::{give_with, lend, optional, required, Text};
use crate::verifier::{clear, resolve_now, KoolicenseVerifier};

/// A verified lease. Immutable.
#[derive(Debug)]
pub struct KoolicenseLease {
    id: LicenseId,
    lease_id: Text,
    borrowed: bool,
    claims: KoolicenseClaims,
}

impl KoolicenseLease {
    fn new(lease: Lease) -> KoolicenseLease {
        KoolicenseLease {
            id: lease.lease_id,
            lease_id: Text::new(&lease.lease_id.to_string()),
            borrowed: lease.borrowed,
            claims: KoolicenseClaims::new(lease.claims),
        }
    }
}

/// The JSON form of a lease: the vectors' `expect.ok` fields (`lease_id`, `borrowed`,
/// `expires_at`, `license_id`, `revision`, `product_id`, `quantity`) and the rest of the claims.
#[derive(Serialize)]
struct LeaseJson<'a> {
    lease_id: String,
    borrowed: bool,
    #[serde(flatten)]
    claims: ClaimsJson<'a>,
}

/// Verifies a lease (one-line `kll1.` or armoured) at `now` (Unix seconds, or `KOOLICENSE_NOW`)
/// on the machine described by `host`: signature, that it is a lease
/// (`KOOLICENSE_STATUS_WRONG_OBJECT_KIND` for a license), the lease's time window with the
/// leeway (`KOOLICENSE_STATUS_EXPIRED` once it lapsed: beat again or check out a new one), the
/// product when `product` is not NULL, the test flag, and the machine binding. Stores the lease in
/// `*lease_out` when it is not NULL (free it with `koolicense_lease_free`).
///
/// Thread-safe: any number of threads may verify with the same verifier and host at once.
///
/// # Safety
/// `verifier` and `host` are live handles; `lease`/`product` are valid for their lengths
/// (`product` may be NULL); `lease_out` and `error_out` are NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verify_lease(
    verifier: *const KoolicenseVerifier,
    lease: *const u8,
    lease_len: usize,
    now: u64,
    product: *const u8,
    product_len: usize,
    host: *const KoolicenseHost,
    lease_out: *mut *mut KoolicenseLease,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            clear(lease_out);
            let verifier = borrow(verifier, "verifier")?;
            let host = borrow(host, "host")?;
            let text = required(lease, lease_len, "lease")?;
            let product = optional(product, product_len, "product")?;
            let lease = verifier.for_product(product).verify_lease(
                text,
                resolve_now(now),
                &host.as_host(),
            )?;
            hand_over(lease_out, KoolicenseLease::new(lease));
            Ok(())
        })
    }
}

/// Frees a lease. NULL is ignored.
///
/// Must not race with other uses of the same lease.
///
/// # Safety
/// `lease` is NULL or a lease handle that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn koolicense_lease_free(lease: *mut KoolicenseLease) {
    // SAFETY: forwarded from the caller.
    unsafe { free(lease) }
}

/// The lease id, hyphenated (stable across heartbeats); NULL for a NULL handle.
///
/// Thread-safe; cannot fail. The text lives as long as the lease handle.
///
/// # Safety
/// `lease` is NULL or a live lease handle; `len_out` is NULL or valid for writing a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_lease_id(
    lease: *const KoolicenseLease,
    len_out: *mut usize,
) -> *const c_char {
    // SAFETY: the caller guarantees both pointers are NULL or valid.
    unsafe { lend(lease.as_ref().map(|l| &l.lease_id), len_out) }
}

/// Whether the lease was borrowed for offline use (no heartbeats until it ends); false for NULL.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `lease` is NULL or a live lease handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_lease_borrowed(lease: *const KoolicenseLease) -> bool {
    // SAFETY: the caller guarantees `lease` is NULL or live.
    unsafe { lease.as_ref() }.is_some_and(|l| l.borrowed)
}

/// When the lease ends (Unix seconds); 0 for NULL. Beat (renew) before then.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `lease` is NULL or a live lease handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_lease_expires_at(lease: *const KoolicenseLease) -> u64 {
    // SAFETY: the caller guarantees `lease` is NULL or live.
    unsafe { lease.as_ref() }.map_or(0, |l| l.claims.claims().expires_at.unwrap_or(0))
}

/// The floating license's claims as of this lease (license id, revision, product, features,
/// quantity; `expires_at` is the end of the lease), read with the `koolicense_claims_*`
/// accessors. Borrowed: lives as long as the lease handle; do not free it. NULL for NULL.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `lease` is NULL or a live lease handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_lease_claims(
    lease: *const KoolicenseLease,
) -> *const KoolicenseClaims {
    // SAFETY: the caller guarantees `lease` is NULL or live.
    unsafe { lease.as_ref() }.map_or(std::ptr::null(), |l| &l.claims)
}

/// The lease as one JSON object: `lease_id`, `borrowed` and the claims' fields as
/// `koolicense_claims_to_json` writes them (the lease vectors' `expect.ok` names). Stores an
/// owned string in `*json_out` (free it with `koolicense_string_free`).
///
/// Thread-safe.
///
/// # Safety
/// `lease` is a live lease handle; `json_out` is valid for writing a pointer; `len_out` and
/// `error_out` are NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn koolicense_lease_to_json(
    lease: *const KoolicenseLease,
    json_out: *mut *mut c_char,
    len_out: *mut usize,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        give_with(json_out, len_out, error_out, || {
            let lease = borrow(lease, "lease")?;
            let json = LeaseJson {
                lease_id: lease.id.to_string(),
                borrowed: lease.borrowed,
                claims: claims_view(lease.claims.claims()),
            };
            serde_json::to_string(&json).map_err(|e| Failure::internal(e.to_string()))
        })
    }
}
