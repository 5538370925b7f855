//! The host handle: what the program knows about its machine (hardware identifier, system
//! identifier), and reading this machine's KooMarket hardware identifier.

use std::ffi::c_char;

use koolicense_verify::machine::{read_hardware_id, MachineError};
use koolicense_verify::{HardwareId, Host};

use crate::call::{free, guard, hand_over, Failure, KoolicenseError, KoolicenseStatus};
use crate::text::{give_with, optional, require_out};

/// A machine to check bindings against. Immutable.
#[derive(Debug)]
pub struct KoolicenseHost {
    hardware: Option<HardwareId>,
    system_identifier: Option<String>,
}

impl KoolicenseHost {
    pub(crate) fn as_host(&self) -> Host<'_> {
        Host {
            hardware: self.hardware.as_ref(),
            system_identifier: self.system_identifier.as_deref(),
        }
    }
}

impl From<MachineError> for Failure {
    fn from(error: MachineError) -> Failure {
        Failure::new(
            KoolicenseStatus::MachineUnreadable,
            "MachineUnreadable",
            error.to_string(),
        )
    }
}

/// Creates a host from a KooMarket hardware identifier (`MAC|disk|board|CPU`) and/or the system
/// identifier the customer entered; NULL means unknown.
///
/// Thread-safe. Fails with `KOOLICENSE_STATUS_INVALID_HARDWARE_IDENTIFIER`.
///
/// # Safety
/// The two strings are NULL or valid for their lengths; `host_out` is valid for writing a
/// pointer; `error_out` is NULL or valid for writing one.
#[no_mangle]
pub unsafe extern "C" fn koolicense_host_new(
    hardware_identifier: *const u8,
    hardware_identifier_len: usize,
    system_identifier: *const u8,
    system_identifier_len: usize,
    host_out: *mut *mut KoolicenseHost,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        new_host(
            system_identifier,
            system_identifier_len,
            host_out,
            error_out,
            || {
                let hardware = optional(
                    hardware_identifier,
                    hardware_identifier_len,
                    "hardware_identifier",
                )?;
                Ok(hardware.map(HardwareId::parse).transpose()?)
            },
        )
    }
}

/// Creates a host for this machine: its hardware identifier as read from the operating system,
/// and the system identifier the customer entered (NULL if none).
///
/// Thread-safe. Fails with `KOOLICENSE_STATUS_MACHINE_UNREADABLE`.
///
/// # Safety
/// As for `koolicense_host_new`.
#[no_mangle]
pub unsafe extern "C" fn koolicense_host_this_machine(
    system_identifier: *const u8,
    system_identifier_len: usize,
    host_out: *mut *mut KoolicenseHost,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        new_host(
            system_identifier,
            system_identifier_len,
            host_out,
            error_out,
            || Ok(Some(read_hardware_id()?)),
        )
    }
}

/// The shared body of the host constructors.
///
/// # Safety
/// As for `koolicense_host_new`.
unsafe fn new_host(
    system_identifier: *const u8,
    system_identifier_len: usize,
    host_out: *mut *mut KoolicenseHost,
    error_out: *mut *mut KoolicenseError,
    hardware: impl FnOnce() -> Result<Option<HardwareId>, Failure>,
) -> KoolicenseStatus {
    // SAFETY: the caller guarantees the pointer contracts of `koolicense_host_new`.
    unsafe {
        guard(error_out, || {
            require_out(host_out, "host_out")?;
            let system = optional(
                system_identifier,
                system_identifier_len,
                "system_identifier",
            )?;
            let host = KoolicenseHost {
                hardware: hardware()?,
                system_identifier: system.map(String::from),
            };
            hand_over(host_out, host);
            Ok(())
        })
    }
}

/// Frees a host. NULL is ignored.
///
/// Must not race with other uses of the same host.
///
/// # Safety
/// `host` is NULL or a host handle that is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn koolicense_host_free(host: *mut KoolicenseHost) {
    // SAFETY: forwarded from the caller.
    unsafe { free(host) }
}

/// This machine's KooMarket hardware identifier (`MAC,MAC|disk|board|CPU`), the string a
/// customer enters at purchase. Stores an owned string in `*identifier_out` (free it with
/// `koolicense_string_free`) and its length in `*len_out` when `len_out` is not NULL.
///
/// Thread-safe. Fails with `KOOLICENSE_STATUS_MACHINE_UNREADABLE`.
///
/// # Safety
/// `identifier_out` is valid for writing a pointer; `len_out` and `error_out` are NULL or valid
/// for writing.
#[no_mangle]
pub unsafe extern "C" fn koolicense_this_machine(
    identifier_out: *mut *mut c_char,
    len_out: *mut usize,
    error_out: *mut *mut KoolicenseError,
) -> KoolicenseStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        give_with(identifier_out, len_out, error_out, || {
            Ok(read_hardware_id()?.to_koomarket_string())
        })
    }
}
