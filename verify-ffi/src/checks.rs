//! Online and offline revocation: checking a license's claims against a signed revocation list
//! and against a signed status answer from the issuer.

use koolicense_verify::LicenseState;

use crate::call::{borrow, guard, KoolicenseError, KoolicenseStatus};
use crate::claims::KoolicenseClaims;
use crate::text::{require_out, required};
use crate::verifier::KoolicenseVerifier;

/// The state of a license according to the issuer's signed status answer.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KoolicenseLicenseState {
    /// In force.
    Valid = 0,
    /// Suspended by the merchant.
    Suspended = 1,
    /// Revoked by the merchant, or this token was superseded by a reissue.
    Revoked = 2,
    /// Past its expiry.
    Expired = 3,
    /// Frozen at the marketplace (expired order; renewal restores it).
    Frozen = 4,
    /// Released at the marketplace.
    Released = 5,
    /// The issuer does not know the license.
    Unknown = 6,
    /// A state newer than this library's list.
    Other = 99,
}

impl From<LicenseState> for KoolicenseLicenseState {
    fn from(state: LicenseState) -> KoolicenseLicenseState {
        match state {
            LicenseState::Valid => KoolicenseLicenseState::Valid,
            LicenseState::Suspended => KoolicenseLicenseState::Suspended,
            LicenseState::Revoked => KoolicenseLicenseState::Revoked,
            LicenseState::Expired => KoolicenseLicenseState::Expired,
            LicenseState::Frozen => KoolicenseLicenseState::Frozen,
            LicenseState::Released => KoolicenseLicenseState::Released,
            LicenseState::Unknown => KoolicenseLicenseState::Unknown,
            _ => KoolicenseLicenseState::Other,
        }
    }
}

/// A verified status answer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KoolicenseStatusAnswer {
    /// The license's state.
    pub state: KoolicenseLicenseState,
    /// The revision of the license's current token.
    pub current_revision: u32,
    /// The issuer's clock when it answered (Unix seconds).
    pub server_time: u64,
    /// The license's current expiry (Unix seconds), 0 when perpetual.
    pub expires_at: u64,
}

/// Verifies a signed revocation list (one-line or armoured) and checks the claims of a verified
/// license against it. `last_accepted_sequence` points to the highest list sequence this program
/// accepted before (persist it), or is NULL for none; a list that is not newer fails with
/// `KOOLICENSE_STATUS_STALE`, so an old list cannot undo a revocation. A listed license fails
/// with `KOOLICENSE_STATUS_REVOKED`. On success stores the list's sequence in `*sequence_out`:
/// persist it as the new last accepted sequence.
///
/// Thread-safe.
///
/// # Safety
/// `verifier` and `claims` are live handles; `list` is valid for `list_len` bytes;
/// `last_accepted_sequence` is NULL or valid for reading; `sequence_out` is valid for writing;
/// `error_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_check_revocation(
    verifier: *const KoolicenseVerifier,
    list: *const u8,
    list_len: usize,
    last_accepted_sequence: *const u64,
    claims: *const KoolicenseClaims,
    sequence_out: *mut u64,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            require_out(sequence_out, "sequence_out")?;
            let verifier = borrow(verifier, "verifier")?;
            let claims = borrow(claims, "claims")?;
            let list = required(list, list_len, "list")?;
            let last = last_accepted_sequence.as_ref().copied();
            let sequence = verifier
                .inner()
                .check_revocation(list, last, claims.claims())?;
            sequence_out.write(sequence);
            Ok(())
        })
    }
}

/// Verifies a signed status answer (one-line or armoured) for the license whose verified claims
/// are given: signature, that it echoes `nonce` (the fresh random value this program sent) and
/// that it concerns this license. Stores the answer in `*answer_out`. The caller then acts on
/// `answer_out->state`.
///
/// Thread-safe.
///
/// # Safety
/// `verifier` and `claims` are live handles; `answer` and `nonce` are valid for their lengths;
/// `answer_out` is valid for writing; `error_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verify_status(
    verifier: *const KoolicenseVerifier,
    answer: *const u8,
    answer_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    claims: *const KoolicenseClaims,
    answer_out: *mut KoolicenseStatusAnswer,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            require_out(answer_out, "answer_out")?;
            let verifier = borrow(verifier, "verifier")?;
            let claims = borrow(claims, "claims")?;
            let answer = required(answer, answer_len, "answer")?;
            let nonce = required(nonce, nonce_len, "nonce")?;
            let verified =
                verifier
                    .inner()
                    .verify_status(answer, nonce, &claims.claims().license_id)?;
            answer_out.write(KoolicenseStatusAnswer {
                state: verified.state.into(),
                current_revision: verified.current_revision,
                server_time: verified.server_time,
                expires_at: verified.expires_at.unwrap_or(0),
            });
            Ok(())
        })
    }
}
