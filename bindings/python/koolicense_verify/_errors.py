"""The exceptions, and turning a failed native call into one."""

from __future__ import annotations

from typing import Any, Callable, NoReturn, Type

from . import _native
from ._native import Failure

# Status codes of koolicense.h whose failures are the caller's input, not the license.
_INVALID_INPUT = {1, 2, 3}
_MACHINE_UNREADABLE = 4
_IO = 5
INVALID_ARGUMENT = 1


class LicenseError(Exception):
    """A license (or a revocation list, status answer, key or host) was not accepted.

    ``kind`` is the verifier's error name, as recorded in the known-answer vectors
    (``"Expired"``, ``"HardwareMismatch"``, ``"BadSignature"``, ``"TestLicense"``,
    ``"ClockBehind"``, ...); ``status`` is the ``KOOLICENSE_STATUS_*`` number of the C ABI."""

    def __init__(self, kind: str, message: str, status: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, message={self.message!r})"


class InvalidInputError(LicenseError, ValueError):
    """An unusable argument: a public key, hardware identifier or text that is not valid."""


class MachineUnreadableError(LicenseError, OSError):
    """This machine's hardware identifier could not be read."""


class MarkFileError(LicenseError, OSError):
    """The clock mark file could not be read or written (or does not hold a number)."""


def invalid(message: str) -> InvalidInputError:
    return InvalidInputError("InvalidArgument", message, INVALID_ARGUMENT)


def raise_failure(failure: Failure) -> NoReturn:
    cls: Type[LicenseError]
    if failure.status in _INVALID_INPUT:
        cls = InvalidInputError
    elif failure.status == _MACHINE_UNREADABLE:
        cls = MachineUnreadableError
    elif failure.status == _IO:
        cls = MarkFileError
    else:
        cls = LicenseError
    raise cls(failure.kind, failure.message, failure.status) from None


def call(function: Callable[..., int], *args: Any) -> None:
    """Calls a fallible native function; raises the matching :class:`LicenseError`."""
    try:
        _native.call(function, *args)
    except Failure as failure:
        raise_failure(failure)
