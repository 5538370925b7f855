//! Online status: the issuer's signed answer about one token, bound to the nonce the program
//! sent and to the token's license id and revision.

use koolicense_verify::{Claims, LicenseState, StatusAnswer};

use crate::call::{borrow, guard, Failure, KoolicenseError, KoolicenseStatus};
use crate::claims::{claims_for, KoolicenseClaims};
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
    /// The state of the token the answer is about.
    pub state: KoolicenseLicenseState,
    /// The token revision the answer is about (the one whose claims were checked).
    pub revision: u32,
    /// The revision of the license's current token.
    pub current_revision: u32,
    /// The revocation floor: tokens of the license with a lower revision are revoked.
    pub revoked_below: u32,
    /// The issuer's clock when it answered (Unix seconds): raise the clock mark with it.
    pub server_time: u64,
    /// The license's current expiry (Unix seconds), 0 when perpetual.
    pub expires_at: u64,
}

impl KoolicenseStatusAnswer {
    fn write(
        verifier: &KoolicenseVerifier,
        answer: &str,
        nonce: &str,
        claims: &Claims,
        out: *mut KoolicenseStatusAnswer,
    ) -> Result<(), Failure> {
        require_out(out, "answer_out")?;
        let verified = verifier.inner().verify_status(answer, nonce, claims)?;
        // SAFETY: `out` is non-NULL (checked above) and, as every caller's contract says, valid
        // for writing a `KoolicenseStatusAnswer`.
        unsafe { out.write((&verified).into()) };
        Ok(())
    }
}

impl From<&StatusAnswer> for KoolicenseStatusAnswer {
    fn from(verified: &StatusAnswer) -> KoolicenseStatusAnswer {
        KoolicenseStatusAnswer {
            state: verified.state.into(),
            revision: verified.revision,
            current_revision: verified.current_revision,
            revoked_below: verified.revoked_below,
            server_time: verified.server_time,
            expires_at: verified.expires_at.unwrap_or(0),
        }
    }
}

/// Verifies a signed status answer (one-line or armoured) about the token whose verified claims
/// are given: signature, that it echoes `nonce` (the fresh random value this program sent;
/// `KOOLICENSE_STATUS_NONCE_MISMATCH` otherwise, e.g. a replayed answer), that it is about this
/// license and this revision (`KOOLICENSE_STATUS_STATUS_MISMATCH` otherwise, e.g. an answer about
/// the current token passed off for a superseded one), and that the token is not below the
/// answer's revocation floor (`KOOLICENSE_STATUS_REVOKED`). Stores the answer in `*answer_out`;
/// the caller then acts on `answer_out->state` and raises its clock mark with
/// `answer_out->server_time`.
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
            let verifier = borrow(verifier, "verifier")?;
            let claims = borrow(claims, "claims")?;
            let answer = required(answer, answer_len, "answer")?;
            let nonce = required(nonce, nonce_len, "nonce")?;
            KoolicenseStatusAnswer::write(verifier, answer, nonce, claims.claims(), answer_out)
        })
    }
}

/// `koolicense_verify_status` for a program that keeps the license id (hyphenated or 32 hex
/// digits) and revision of its token rather than verified claims.
///
/// Thread-safe.
///
/// # Safety
/// As for `koolicense_verify_status`; `license_id` is valid for `license_id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verify_status_for_license(
    verifier: *const KoolicenseVerifier,
    answer: *const u8,
    answer_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    license_id: *const u8,
    license_id_len: usize,
    revision: u32,
    answer_out: *mut KoolicenseStatusAnswer,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            let verifier = borrow(verifier, "verifier")?;
            let answer = required(answer, answer_len, "answer")?;
            let nonce = required(nonce, nonce_len, "nonce")?;
            let claims = claims_for(
                required(license_id, license_id_len, "license_id")?,
                revision,
            )?;
            KoolicenseStatusAnswer::write(verifier, answer, nonce, &claims, answer_out)
        })
    }
}
