//! Safe wrappers over the exported functions, as a C caller would use them.

use std::ffi::c_char;
use std::ptr;

use koolicense_verify_ffi::call::*;
use koolicense_verify_ffi::claims::*;
use koolicense_verify_ffi::clock::koolicense_check_clock;
use koolicense_verify_ffi::host::*;
use koolicense_verify_ffi::json::koolicense_claims_to_json;
use koolicense_verify_ffi::text::koolicense_string_free;
use koolicense_verify_ffi::verifier::*;
use koolicense_verify_ffi::{
    KoolicenseClaims, KoolicenseError, KoolicenseHost, KoolicenseStatus, KoolicenseVerifier,
};

/// A failed call: status, kind and message read from the error handle.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) status: KoolicenseStatus,
    pub(crate) kind: String,
    pub(crate) message: String,
}

pub(crate) fn borrowed(text: *const c_char, len: usize) -> Option<String> {
    if text.is_null() {
        return None;
    }
    // SAFETY: the library hands out `len` UTF-8 bytes followed by a NUL.
    let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) };
    assert_eq!(
        // SAFETY: as above, the NUL follows the text.
        unsafe { *text.add(len) },
        0,
        "borrowed text is NUL-terminated"
    );
    Some(String::from_utf8(bytes.to_vec()).expect("UTF-8"))
}

pub(crate) fn outcome(status: KoolicenseStatus, error: *mut KoolicenseError) -> Result<(), Failed> {
    if status == KoolicenseStatus::Ok {
        assert!(error.is_null(), "no error handle on success");
        return Ok(());
    }
    let mut len = 0;
    // SAFETY: `error` is the handle this call produced; freed once below.
    let failed = unsafe {
        assert_eq!(koolicense_error_status(error), status);
        let kind = borrowed(koolicense_error_kind(error, &mut len), len);
        let message = borrowed(koolicense_error_message(error, &mut len), len);
        koolicense_error_free(error);
        Failed {
            status,
            kind: kind.expect("kind"),
            message: message.expect("message"),
        }
    };
    Err(failed)
}

#[derive(Debug)]
pub(crate) struct Verifier(pub(crate) *mut KoolicenseVerifier);

impl Verifier {
    pub(crate) fn new(pem: &str, leeway: u64) -> Result<Verifier, Failed> {
        let mut handle = ptr::null_mut();
        let mut error = ptr::null_mut();
        // SAFETY: valid pointers and lengths.
        let status = unsafe {
            koolicense_verifier_new(pem.as_ptr(), pem.len(), leeway, &mut handle, &mut error)
        };
        outcome(status, error).map(|()| Verifier(handle))
    }

    pub(crate) fn with(
        pem: &str,
        leeway: u64,
        max_list_age: u64,
        flags: u32,
    ) -> Result<Verifier, Failed> {
        let mut handle = ptr::null_mut();
        let mut error = ptr::null_mut();
        // SAFETY: valid pointers and lengths.
        let status = unsafe {
            koolicense_verifier_new_with(
                pem.as_ptr(),
                pem.len(),
                leeway,
                max_list_age,
                flags,
                &mut handle,
                &mut error,
            )
        };
        outcome(status, error).map(|()| Verifier(handle))
    }

    pub(crate) fn check_clock(&self, now: u64, mark: u64) -> Result<(), Failed> {
        let mut error = ptr::null_mut();
        // SAFETY: a live verifier and a valid error output.
        let status = unsafe { koolicense_check_clock(self.0, now, mark, &mut error) };
        outcome(status, error)
    }

    pub(crate) fn verify(
        &self,
        token: impl AsRef<[u8]>,
        now: u64,
        product: Option<&str>,
        host: Option<&Host>,
    ) -> Result<Claims, Failed> {
        let token = token.as_ref();
        let mut claims = ptr::null_mut();
        let mut error = ptr::null_mut();
        let (product_ptr, product_len) =
            product.map_or((ptr::null(), 0), |p| (p.as_ptr(), p.len()));
        // SAFETY: valid handles, pointers and lengths.
        let status = unsafe {
            match host {
                None => koolicense_verify(
                    self.0,
                    token.as_ptr(),
                    token.len(),
                    now,
                    product_ptr,
                    product_len,
                    &mut claims,
                    &mut error,
                ),
                Some(host) => koolicense_verify_on(
                    self.0,
                    token.as_ptr(),
                    token.len(),
                    now,
                    product_ptr,
                    product_len,
                    host.0,
                    &mut claims,
                    &mut error,
                ),
            }
        };
        outcome(status, error).map(|()| Claims(claims))
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        // SAFETY: created by `koolicense_verifier_new`, freed once.
        unsafe { koolicense_verifier_free(self.0) }
    }
}

#[derive(Debug)]
pub(crate) struct Host(pub(crate) *mut KoolicenseHost);

impl Host {
    pub(crate) fn new(hardware: Option<&str>, system: Option<&str>) -> Result<Host, Failed> {
        let split = |t: Option<&str>| t.map_or((ptr::null(), 0), |t| (t.as_ptr(), t.len()));
        let ((hw, hw_len), (sys, sys_len)) = (split(hardware), split(system));
        let mut handle = ptr::null_mut();
        let mut error = ptr::null_mut();
        // SAFETY: valid pointers and lengths.
        let status =
            unsafe { koolicense_host_new(hw, hw_len, sys, sys_len, &mut handle, &mut error) };
        outcome(status, error).map(|()| Host(handle))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: created by `koolicense_host_new`, freed once.
        unsafe { koolicense_host_free(self.0) }
    }
}

#[derive(Debug)]
pub(crate) struct Claims(pub(crate) *mut KoolicenseClaims);

impl Claims {
    pub(crate) fn json(&self) -> serde_json::Value {
        let mut json = ptr::null_mut();
        let mut len = 0;
        let mut error = ptr::null_mut();
        // SAFETY: a live claims handle and valid outputs; the string is freed once.
        unsafe {
            let status = koolicense_claims_to_json(self.0, &mut json, &mut len, &mut error);
            outcome(status, error).expect("claims JSON");
            let text = borrowed(json, len).expect("JSON text");
            koolicense_string_free(json);
            serde_json::from_str(&text).expect("valid JSON")
        }
    }

    pub(crate) fn product_id(&self) -> Option<String> {
        let mut len = 0;
        // SAFETY: a live claims handle.
        borrowed(
            unsafe { koolicense_claims_product_id(self.0, &mut len) },
            len,
        )
    }
}

impl Drop for Claims {
    fn drop(&mut self) {
        // SAFETY: handed out by a verify call, freed once.
        unsafe { koolicense_claims_free(self.0) }
    }
}
