//! Online and offline revocation: checking a license's claims against a signed revocation list
//! and against a signed status answer from the issuer.

use koolicense_verify::{LicenseState, ListStamp};

use crate::call::{borrow, guard, KoolicenseError, KoolicenseStatus};
use crate::claims::KoolicenseClaims;
use crate::text::{require_out, required};
use crate::verifier::{resolve_now, KoolicenseVerifier};

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

/// Which revocation list a program accepted last: persist it and pass it next time.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KoolicenseListStamp {
    /// The list's sequence (grows with every change).
    pub sequence: u64,
    /// When the list was signed (Unix seconds): raise the clock mark with it.
    pub issued_at: u64,
}

impl From<KoolicenseListStamp> for ListStamp {
    fn from(stamp: KoolicenseListStamp) -> ListStamp {
        ListStamp {
            sequence: stamp.sequence,
            issued_at: stamp.issued_at,
        }
    }
}

/// Verifies a signed revocation list (one-line or armoured) at `now` (or `KOOLICENSE_NOW`) and
/// checks the claims of a verified license against it. `last_accepted` points to the stamp of
/// the list this program accepted before (persist it), or is NULL for none. Fails with
/// `KOOLICENSE_STATUS_STALE` for a list that is not newer (an old list cannot undo a
/// revocation), `KOOLICENSE_STATUS_LIST_TOO_OLD` for a list signed longer ago than the
/// verifier's maximum age, and `KOOLICENSE_STATUS_REVOKED` when the list revokes this token. On
/// success stores the list's stamp in `*stamp_out`: persist it as the new last accepted stamp.
///
/// Thread-safe.
///
/// # Safety
/// `verifier` and `claims` are live handles; `list` is valid for `list_len` bytes;
/// `last_accepted` is NULL or valid for reading; `stamp_out` is valid for writing;
/// `error_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_check_revocation(
    verifier: *const KoolicenseVerifier,
    list: *const u8,
    list_len: usize,
    now: u64,
    last_accepted: *const KoolicenseListStamp,
    claims: *const KoolicenseClaims,
    stamp_out: *mut KoolicenseListStamp,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            require_out(stamp_out, "stamp_out")?;
            let verifier = borrow(verifier, "verifier")?;
            let claims = borrow(claims, "claims")?;
            let list = required(list, list_len, "list")?;
            let last = last_accepted.as_ref().map(|&stamp| ListStamp::from(stamp));
            let stamp =
                verifier
                    .inner()
                    .check_revocation(list, resolve_now(now), last, claims.claims())?;
            stamp_out.write(KoolicenseListStamp {
                sequence: stamp.sequence,
                issued_at: stamp.issued_at,
            });
            Ok(())
        })
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
            require_out(answer_out, "answer_out")?;
            let verifier = borrow(verifier, "verifier")?;
            let claims = borrow(claims, "claims")?;
            let answer = required(answer, answer_len, "answer")?;
            let nonce = required(nonce, nonce_len, "nonce")?;
            let verified = verifier
                .inner()
                .verify_status(answer, nonce, claims.claims())?;
            answer_out.write(KoolicenseStatusAnswer {
                state: verified.state.into(),
                revision: verified.revision,
                current_revision: verified.current_revision,
                revoked_below: verified.revoked_below,
                server_time: verified.server_time,
                expires_at: verified.expires_at.unwrap_or(0),
            });
            Ok(())
        })
    }
}
