//! Offline revocation: signed revocation lists, checked against a license's claims, kept as a
//! handle to look entries up, and stamped so that an older list cannot be replayed.

use std::sync::OnceLock;

use koolicense_verify::{Claims, EntryStatus, ListStamp, RevocationEntry, RevocationList};

use crate::call::{borrow, free, guard, hand_over, Failure, KoolicenseError, KoolicenseStatus};
use crate::claims::{claims_for, KoolicenseClaims};
use crate::text::{require_out, required};
use crate::verifier::{resolve_now, KoolicenseVerifier};

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

impl From<ListStamp> for KoolicenseListStamp {
    fn from(stamp: ListStamp) -> KoolicenseListStamp {
        KoolicenseListStamp {
            sequence: stamp.sequence,
            issued_at: stamp.issued_at,
        }
    }
}

/// Why a license is listed.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KoolicenseEntryStatus {
    /// Only tokens below `revoked_below` are revoked (the license was reissued).
    Superseded = 0,
    /// Suspended by the merchant.
    Suspended = 1,
    /// Revoked by the merchant.
    Revoked = 2,
    /// Released at the marketplace.
    Released = 3,
    /// A status newer than this library's list.
    Other = 99,
}

/// One listed license.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KoolicenseRevocationEntry {
    /// The license id's 16 bytes (shown hyphenated as a UUID).
    pub license_id: [u8; 16],
    /// Tokens of this license with a lower revision are revoked.
    pub revoked_below: u32,
    /// Why it is listed.
    pub status: KoolicenseEntryStatus,
}

impl From<RevocationEntry> for KoolicenseRevocationEntry {
    fn from(entry: RevocationEntry) -> KoolicenseRevocationEntry {
        KoolicenseRevocationEntry {
            license_id: entry.license_id.0,
            revoked_below: entry.revoked_below,
            status: match entry.status {
                EntryStatus::Superseded => KoolicenseEntryStatus::Superseded,
                EntryStatus::Suspended => KoolicenseEntryStatus::Suspended,
                EntryStatus::Revoked => KoolicenseEntryStatus::Revoked,
                EntryStatus::Released => KoolicenseEntryStatus::Released,
                _ => KoolicenseEntryStatus::Other,
            },
        }
    }
}

/// A verified revocation list. Immutable.
#[derive(Debug)]
pub struct KoolicenseRevocationList {
    list: RevocationList,
    /// The entries in order, decoded on the first access by index.
    entries: OnceLock<Vec<KoolicenseRevocationEntry>>,
}

fn verify_list(
    verifier: &KoolicenseVerifier,
    text: &str,
    now: u64,
    last: *const KoolicenseListStamp,
) -> Result<RevocationList, Failure> {
    // SAFETY: every caller's contract says `last` is NULL or valid for reading.
    let last = unsafe { last.as_ref() }.map(|&stamp| ListStamp::from(stamp));
    Ok(verifier
        .inner()
        .verify_revocation_list(text, resolve_now(now), last)?)
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

/// Verifies a signed revocation list as `koolicense_check_revocation` does (newer than
/// `last_accepted`, younger than the maximum age) and hands it over as a handle, to check
/// licenses against (`koolicense_revocation_list_check`) and to read (`..._stamp`, `..._len`,
/// `..._entry`). Free it with `koolicense_revocation_list_free`.
///
/// Thread-safe.
///
/// # Safety
/// `verifier` is a live verifier; `list` is valid for `list_len` bytes; `last_accepted` is NULL
/// or valid for reading; `list_out` is valid for writing a pointer; `error_out` is NULL or valid
/// for writing one.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verify_revocation_list(
    verifier: *const KoolicenseVerifier,
    list: *const u8,
    list_len: usize,
    now: u64,
    last_accepted: *const KoolicenseListStamp,
    list_out: *mut *mut KoolicenseRevocationList,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            require_out(list_out, "list_out")?;
            let verifier = borrow(verifier, "verifier")?;
            let text = required(list, list_len, "list")?;
            let list = verify_list(verifier, text, now, last_accepted)?;
            hand_over(
                list_out,
                KoolicenseRevocationList {
                    list,
                    entries: OnceLock::new(),
                },
            );
            Ok(())
        })
    }
}

fn check_list(list: *const KoolicenseRevocationList, claims: &Claims) -> Result<(), Failure> {
    // SAFETY: every caller's contract says `list` is NULL or a live list handle.
    let list = unsafe { borrow(list, "list") }?;
    Ok(list.list.check(claims)?)
}

/// `KOOLICENSE_STATUS_REVOKED` when the list revokes the token whose verified claims are given.
///
/// Thread-safe.
///
/// # Safety
/// `list` and `claims` are live handles; `error_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_revocation_list_check(
    list: *const KoolicenseRevocationList,
    claims: *const KoolicenseClaims,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            check_list(list, borrow(claims, "claims")?.claims())
        })
    }
}

/// `koolicense_revocation_list_check` for a token known by its license id (hyphenated or 32
/// hex digits) and revision.
///
/// Thread-safe.
///
/// # Safety
/// `list` is a live handle; `license_id` is valid for `license_id_len` bytes; `error_out` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_revocation_list_check_license(
    list: *const KoolicenseRevocationList,
    license_id: *const u8,
    license_id_len: usize,
    revision: u32,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            let claims = claims_for(
                required(license_id, license_id_len, "license_id")?,
                revision,
            )?;
            check_list(list, &claims)
        })
    }
}

/// The list's stamp (zeros for NULL): persist it as the last accepted one.
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `list` is NULL or a live list handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_revocation_list_stamp(
    list: *const KoolicenseRevocationList,
) -> KoolicenseListStamp {
    // SAFETY: the caller guarantees `list` is NULL or live.
    unsafe { list.as_ref() }.map_or_else(KoolicenseListStamp::default, |l| l.list.stamp().into())
}

/// How many licenses the list names (0 for NULL).
///
/// Thread-safe; cannot fail.
///
/// # Safety
/// `list` is NULL or a live list handle.
#[no_mangle]
pub unsafe extern "C" fn koolicense_revocation_list_len(
    list: *const KoolicenseRevocationList,
) -> usize {
    // SAFETY: the caller guarantees `list` is NULL or live.
    unsafe { list.as_ref() }.map_or(0, |l| l.list.len())
}

/// Entry number `index` (sorted by license id) into `*entry_out`; false when out of range. The
/// first call decodes all entries (about 24 bytes each).
///
/// Thread-safe.
///
/// # Safety
/// `list` is NULL or a live list handle; `entry_out` is NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn koolicense_revocation_list_entry(
    list: *const KoolicenseRevocationList,
    index: usize,
    entry_out: *mut KoolicenseRevocationEntry,
) -> bool {
    let found = std::panic::catch_unwind(|| {
        // SAFETY: the caller guarantees `list` is NULL or live.
        let list = unsafe { list.as_ref() }?;
        let entries = list
            .entries
            .get_or_init(|| list.list.entries().map(Into::into).collect());
        entries.get(index).copied()
    });
    match (found, entry_out.is_null()) {
        (Ok(Some(entry)), false) => {
            // SAFETY: `entry_out` is non-NULL and, as the caller guarantees, valid for writing.
            unsafe { entry_out.write(entry) };
            true
        }
        _ => false,
    }
}

/// Frees a revocation list. NULL is ignored.
///
/// Must not race with other uses of the same list.
///
/// # Safety
/// `list` is NULL or a list handle that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn koolicense_revocation_list_free(list: *mut KoolicenseRevocationList) {
    // SAFETY: forwarded from the caller.
    unsafe { free(list) }
}
