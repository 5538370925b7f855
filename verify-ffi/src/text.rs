//! Text across the boundary: UTF-8 arguments given as pointer + length, and text handed back
//! NUL-terminated with its length, either borrowed from a handle or owned by the caller.

use std::ffi::{c_char, CString};
use std::ptr;

use crate::call::{guard, Failure, KoolicenseError, KoolicenseStatus};

/// Text kept inside a handle: the UTF-8 bytes followed by one NUL.
#[derive(Debug)]
pub(crate) struct Text(Box<[u8]>);

impl Text {
    pub(crate) fn new(text: &str) -> Text {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        Text(bytes.into_boxed_slice())
    }

    fn len(&self) -> usize {
        self.0.len() - 1
    }
}

/// Hands out borrowed text (NULL for absent text) and writes its length (0 when absent).
///
/// # Safety
/// `len_out` is NULL or valid for writing a `usize`.
pub(crate) unsafe fn lend(text: Option<&Text>, len_out: *mut usize) -> *const c_char {
    let (pointer, len) = match text {
        Some(text) => (text.0.as_ptr().cast::<c_char>(), text.len()),
        None => (ptr::null(), 0),
    };
    if !len_out.is_null() {
        // SAFETY: the caller guarantees that a non-NULL `len_out` is valid for writes.
        unsafe { len_out.write(len) };
    }
    pointer
}

/// A required UTF-8 argument. NULL is accepted only together with length 0.
///
/// # Safety
/// A non-NULL `pointer` is valid for reading `len` bytes for the lifetime `'a`.
pub(crate) unsafe fn required<'a>(
    pointer: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a str, Failure> {
    if len == 0 {
        return Ok("");
    }
    if pointer.is_null() {
        return Err(Failure::invalid_argument(format!(
            "{what} is NULL but its length is {len}"
        )));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid_argument(format!("{what} is too long")));
    }
    // SAFETY: `pointer` is non-NULL and, as the caller guarantees, valid for `len` bytes that
    // stay unchanged for `'a`; `len` fits in `isize`.
    let bytes = unsafe { std::slice::from_raw_parts(pointer, len) };
    std::str::from_utf8(bytes)
        .map_err(|e| Failure::invalid_argument(format!("{what} is not UTF-8: {e}")))
}

/// An optional UTF-8 argument: NULL means absent.
///
/// # Safety
/// As for [`required`].
pub(crate) unsafe fn optional<'a>(
    pointer: *const u8,
    len: usize,
    what: &str,
) -> Result<Option<&'a str>, Failure> {
    if pointer.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    unsafe { required(pointer, len, what) }.map(Some)
}

/// Fails unless an output pointer is non-NULL.
pub(crate) fn require_out<T>(out: *mut T, what: &str) -> Result<(), Failure> {
    if out.is_null() {
        Err(Failure::invalid_argument(format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

/// Hands owned text to the caller, to be freed with [`koolicense_string_free`].
///
/// # Safety
/// `out` is valid for writing a pointer; `len_out` is NULL or valid for writing a `usize`.
pub(crate) unsafe fn give(
    text: String,
    out: *mut *mut c_char,
    len_out: *mut usize,
) -> Result<(), Failure> {
    let len = text.len();
    let owned = CString::new(text)
        .map_err(|_| Failure::internal("text to hand out contains a NUL character"))?;
    // SAFETY: the caller guarantees both pointers (the second one when non-NULL) are valid.
    unsafe {
        out.write(owned.into_raw());
        if !len_out.is_null() {
            len_out.write(len);
        }
    }
    Ok(())
}

/// Frees a string this library handed out (JSON claims, this machine's identifier). NULL is
/// ignored.
///
/// Thread-safe for distinct strings.
///
/// # Safety
/// `text` is NULL or a string returned by this library that has not been freed yet.
#[no_mangle]
pub unsafe extern "C" fn koolicense_string_free(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: the caller guarantees `text` came from `CString::into_raw` in [`give`] and is
        // freed only once.
        drop(unsafe { CString::from_raw(text) });
    }
}

/// Shared body of functions that hand back one owned string.
///
/// # Safety
/// As for [`guard`] and [`give`].
pub(crate) unsafe fn give_with(
    out: *mut *mut c_char,
    len_out: *mut usize,
    error_out: *mut *mut KoolicenseError,
    produce: impl FnOnce() -> Result<String, Failure>,
) -> KoolicenseStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        guard(error_out, || {
            require_out(out, "string output")?;
            out.write(ptr::null_mut());
            give(produce()?, out, len_out)
        })
    }
}
