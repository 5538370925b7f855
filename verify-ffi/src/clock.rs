//! The clock's high-water mark: refusing a clock set back, raising the mark from the signed
//! times of revocation lists and status answers, and keeping the mark in a file that is replaced
//! atomically.

use koolicense_verify::{ClockMark, ListStamp, MarkFile};

use crate::call::{borrow, guard, Failure, KoolicenseError, KoolicenseStatus};
use crate::claims::KoolicenseClaims;
use crate::revocation::KoolicenseListStamp;
use crate::status::KoolicenseStatusAnswer;
use crate::text::{require_out, required};
use crate::verifier::{resolve_now, KoolicenseVerifier};

fn io_failure(path: &str, error: &std::io::Error) -> Failure {
    Failure::new(
        KoolicenseStatus::Io,
        "Io",
        format!("clock mark file {path}: {error}"),
    )
}

/// Refuses a clock set back: `KOOLICENSE_STATUS_CLOCK_BEHIND` when `now` (or the system clock
/// for `KOOLICENSE_NOW`) plus the verifier's leeway is before the high-water `mark`. Raise the
/// mark with every verification time and with the signed server times of revocation lists
/// (`KoolicenseListStamp.issued_at`) and status answers (`KoolicenseStatusAnswer.server_time`),
/// or let `koolicense_check_revocation_guarded` and `koolicense_verify_status_guarded` do both.
///
/// Thread-safe.
///
/// # Safety
/// `verifier` is a live verifier; `error_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_check_clock(
    verifier: *const KoolicenseVerifier,
    now: u64,
    mark: u64,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            let verifier = borrow(verifier, "verifier")?;
            Ok(verifier
                .inner()
                .check_clock(resolve_now(now), ClockMark::new(mark))?)
        })
    }
}

/// Reads the high-water mark kept in the file at `path` (UTF-8); a missing file is a mark of 0.
/// A file that does not hold a number fails with `KOOLICENSE_STATUS_IO` (the mark is never reset
/// silently).
///
/// Thread-safe.
///
/// # Safety
/// `path` is valid for `path_len` bytes; `mark_out` is valid for writing a `uint64_t`;
/// `error_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_mark_load(
    path: *const u8,
    path_len: usize,
    mark_out: *mut u64,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            require_out(mark_out, "mark_out")?;
            let path = required(path, path_len, "path")?;
            let mark = MarkFile::new(path)
                .load()
                .map_err(|e| io_failure(path, &e))?;
            mark_out.write(mark.get());
            Ok(())
        })
    }
}

/// Writes the high-water mark to the file at `path` (UTF-8) atomically: a temporary file next to
/// it is written and synced, then renamed over it.
///
/// Thread-safe for distinct paths.
///
/// # Safety
/// `path` is valid for `path_len` bytes; `error_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn koolicense_mark_store(
    path: *const u8,
    path_len: usize,
    mark: u64,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            let path = required(path, path_len, "path")?;
            MarkFile::new(path)
                .store(ClockMark::new(mark))
                .map_err(|e| io_failure(path, &e))
        })
    }
}

/// Runs a guarded check on a copy of the caller's mark cell and writes the mark back whatever
/// the verdict (a refused license still moved the mark to `now`).
///
/// # Safety
/// `mark` is NULL or valid for reading and writing a `uint64_t`.
unsafe fn with_mark<T>(
    mark: *mut u64,
    check: impl FnOnce(&mut ClockMark) -> Result<T, koolicense_verify::Error>,
) -> Result<T, Failure> {
    // SAFETY: forwarded from the caller; the cell is used only inside this call.
    let cell = unsafe { mark.as_mut() }.ok_or_else(|| Failure::invalid_argument("mark is NULL"))?;
    let mut guarded = ClockMark::new(*cell);
    let verdict = check(&mut guarded);
    *cell = guarded.get();
    Ok(verdict?)
}

/// `koolicense_check_revocation` guarded against a clock set back: fails with
/// `KOOLICENSE_STATUS_CLOCK_BEHIND` when `now` plus the leeway is before `*mark`; otherwise
/// raises `*mark` to `now`, and an authentic list newer than `last_accepted` raises it to the
/// list's `issued_at` (also when it revokes this token). Persist `*mark` when it moved, whatever
/// the status.
///
/// Thread-safe for distinct `mark` cells.
///
/// # Safety
/// As for `koolicense_check_revocation`; `mark` is valid for reading and writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_check_revocation_guarded(
    verifier: *const KoolicenseVerifier,
    list: *const u8,
    list_len: usize,
    now: u64,
    last_accepted: *const KoolicenseListStamp,
    claims: *const KoolicenseClaims,
    mark: *mut u64,
    stamp_out: *mut KoolicenseListStamp,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            require_out(stamp_out, "stamp_out")?;
            let verifier = borrow(verifier, "verifier")?.inner();
            let claims = borrow(claims, "claims")?.claims();
            let list = required(list, list_len, "list")?;
            let last = last_accepted.as_ref().map(|&stamp| ListStamp::from(stamp));
            let now = resolve_now(now);
            let stamp = with_mark(mark, |mark| {
                verifier.check_revocation_guarded(list, now, last, claims, mark)
            })?;
            stamp_out.write(stamp.into());
            Ok(())
        })
    }
}

/// `koolicense_verify_status` guarded against a clock set back at `now` (or `KOOLICENSE_NOW`):
/// fails with `KOOLICENSE_STATUS_CLOCK_BEHIND` when `now` plus the leeway is before `*mark`;
/// otherwise raises `*mark` to `now`, and a verified answer raises it to the answer's
/// `server_time`. Persist `*mark` when it moved, whatever the status.
///
/// Thread-safe for distinct `mark` cells.
///
/// # Safety
/// As for `koolicense_verify_status`; `mark` is valid for reading and writing a `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_verify_status_guarded(
    verifier: *const KoolicenseVerifier,
    answer: *const u8,
    answer_len: usize,
    nonce: *const u8,
    nonce_len: usize,
    claims: *const KoolicenseClaims,
    now: u64,
    mark: *mut u64,
    answer_out: *mut KoolicenseStatusAnswer,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts documented above.
    unsafe {
        guard(error_out, || {
            require_out(answer_out, "answer_out")?;
            let verifier = borrow(verifier, "verifier")?.inner();
            let claims = borrow(claims, "claims")?.claims();
            let answer = required(answer, answer_len, "answer")?;
            let nonce = required(nonce, nonce_len, "nonce")?;
            let now = resolve_now(now);
            let verified = with_mark(mark, |mark| {
                verifier.verify_status_guarded(answer, nonce, claims, now, mark)
            })?;
            answer_out.write((&verified).into());
            Ok(())
        })
    }
}
