//! The clock's high-water mark: refusing a clock set back, and keeping the mark in a file that
//! is replaced atomically.

use koolicense_verify::{ClockMark, MarkFile};

use crate::call::{borrow, guard, Failure, KoolicenseError, KoolicenseStatus};
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
/// (`KoolicenseListStamp.issued_at`) and status answers (`KoolicenseStatusAnswer.server_time`).
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
