"""The C ABI of the verifier (verify-ffi/include/koolicense.h), loaded with ctypes.

Loads the library bundled in this package, or the one named by ``KOOLICENSE_VERIFY_LIB``.
ctypes releases the GIL during each call, so threads verify in parallel.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import POINTER, byref, c_char_p, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import Any, Callable, Optional, Tuple, Union

OK = 0
NOW = 2**64 - 1  # KOOLICENSE_NOW: the system clock


def _library_path() -> str:
    given = os.environ.get("KOOLICENSE_VERIFY_LIB")
    if given:
        return given
    name = {
        "win32": "koolicense_verify_ffi.dll",
        "darwin": "libkoolicense_verify_ffi.dylib",
    }.get(sys.platform, "libkoolicense_verify_ffi.so")
    bundled = Path(__file__).resolve().parent / name
    if not bundled.is_file():
        raise ImportError(
            f"koolicense_verify: the native library {name} is not installed next to the package; "
            "install with `pip install bindings/python` or set KOOLICENSE_VERIFY_LIB"
        )
    return str(bundled)


lib = ctypes.CDLL(_library_path())


class StatusAnswer(ctypes.Structure):
    """KoolicenseStatusAnswer."""

    _fields_ = [
        ("state", c_int32),
        ("revision", c_uint32),
        ("current_revision", c_uint32),
        ("revoked_below", c_uint32),
        ("server_time", c_uint64),
        ("expires_at", c_uint64),
    ]


class ListStamp(ctypes.Structure):
    """KoolicenseListStamp."""

    _fields_ = [
        ("sequence", c_uint64),
        ("issued_at", c_uint64),
    ]


class RevocationEntry(ctypes.Structure):
    """KoolicenseRevocationEntry."""

    _fields_ = [
        ("license_id", ctypes.c_uint8 * 16),
        ("revoked_below", c_uint32),
        ("status", c_int32),
    ]


def _declare(name: str, restype: Any, *argtypes: Any) -> None:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)


_text = (c_char_p, c_size_t)
_out = POINTER(c_void_p)
_len_out = POINTER(c_size_t)
_u64_cell = POINTER(c_uint64)

# Every function used here, as koolicense.h declares it (tests/test_native.py compares the two).
_declare("koolicense_version", c_char_p)
_declare("koolicense_error_status", c_int32, c_void_p)
_declare("koolicense_error_kind", c_void_p, c_void_p, _len_out)
_declare("koolicense_error_message", c_void_p, c_void_p, _len_out)
_declare("koolicense_error_free", None, c_void_p)
_declare("koolicense_string_free", None, c_void_p)
_declare("koolicense_verifier_new_with", c_int32, *_text, c_uint64, c_uint64, c_uint32, _out, _out)
_declare("koolicense_verifier_free", None, c_void_p)
_declare("koolicense_verify", c_int32, c_void_p, *_text, c_uint64, *_text, _out, _out)
_declare("koolicense_verify_on", c_int32, c_void_p, *_text, c_uint64, *_text, c_void_p, _out, _out)
_declare("koolicense_verify_guarded", c_int32, c_void_p, *_text, c_uint64, *_text, c_void_p, _u64_cell, _out, _out)
_declare("koolicense_check_clock", c_int32, c_void_p, c_uint64, c_uint64, _out)
_declare("koolicense_mark_load", c_int32, *_text, _u64_cell, _out)
_declare("koolicense_mark_store", c_int32, *_text, c_uint64, _out)
_declare("koolicense_host_new", c_int32, *_text, *_text, _out, _out)
_declare("koolicense_host_free", None, c_void_p)
_declare("koolicense_this_machine", c_int32, _out, _len_out, _out)
_declare("koolicense_claims_to_json", c_int32, c_void_p, _out, _len_out, _out)
_declare("koolicense_claims_free", None, c_void_p)
_declare(
    "koolicense_check_revocation", c_int32,
    c_void_p, *_text, c_uint64, POINTER(ListStamp), c_void_p, POINTER(ListStamp), _out,
)
_declare(
    "koolicense_verify_status", c_int32,
    c_void_p, *_text, *_text, c_void_p, POINTER(StatusAnswer), _out,
)
_declare(
    "koolicense_check_revocation_guarded", c_int32,
    c_void_p, *_text, c_uint64, POINTER(ListStamp), c_void_p, _u64_cell, POINTER(ListStamp), _out,
)
_declare(
    "koolicense_verify_status_guarded", c_int32,
    c_void_p, *_text, *_text, c_void_p, c_uint64, _u64_cell, POINTER(StatusAnswer), _out,
)

_declare(
    "koolicense_verify_status_for_license", c_int32,
    c_void_p, *_text, *_text, *_text, c_uint32, POINTER(StatusAnswer), _out,
)
_declare("koolicense_verify_revocation_list", c_int32, c_void_p, *_text, c_uint64, POINTER(ListStamp), _out, _out)
_declare("koolicense_revocation_list_check", c_int32, c_void_p, c_void_p, _out)
_declare("koolicense_revocation_list_check_license", c_int32, c_void_p, *_text, c_uint32, _out)
_declare("koolicense_revocation_list_stamp", ListStamp, c_void_p)
_declare("koolicense_revocation_list_len", c_size_t, c_void_p)
_declare("koolicense_revocation_list_entry", ctypes.c_bool, c_void_p, c_size_t, POINTER(RevocationEntry))
_declare("koolicense_revocation_list_free", None, c_void_p)

ALLOW_TEST_LICENSES = 1  # KOOLICENSE_ALLOW_TEST_LICENSES
DEFAULT_MAX_LIST_AGE_SECS = 604_800  # KOOLICENSE_DEFAULT_MAX_LIST_AGE_SECS


def text(value: Optional[Union[str, bytes]]) -> Tuple[Optional[bytes], int]:
    """A UTF-8 argument as (pointer, length); None stays NULL."""
    if value is None:
        return None, 0
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return data, len(data)


def borrowed(pointer: Optional[int], length: int) -> Optional[str]:
    """Text lent by a handle."""
    if not pointer:
        return None
    return ctypes.string_at(pointer, length).decode("utf-8")


def owned(fill: Callable[[ctypes.c_void_p, ctypes.c_size_t], None]) -> str:
    """Text handed over by the library (then freed)."""
    pointer, length = c_void_p(), c_size_t()
    fill(pointer, length)
    if not pointer.value:
        return ""
    try:
        return ctypes.string_at(pointer.value, length.value).decode("utf-8")
    finally:
        lib.koolicense_string_free(pointer)


class Failure(Exception):
    """A failed call, read from its error handle (turned into public exceptions by the caller)."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def call(function: Callable[..., int], *args: Any) -> None:
    """Calls a fallible function with an error out-pointer appended; raises Failure."""
    error = c_void_p()
    status = function(*args, byref(error))
    if status == OK:
        return
    try:
        length = c_size_t()
        kind = borrowed(lib.koolicense_error_kind(error, byref(length)), length.value) or "Internal"
        message = borrowed(lib.koolicense_error_message(error, byref(length)), length.value) or kind
    finally:
        lib.koolicense_error_free(error)
    raise Failure(status, kind, message)
