"""Verify koolicense license tokens offline, in the program a KooMarket customer bought.

The verification is the Rust crate ``koolicense-verify``, reached through its C ABI; this
package adds a typed Python face::

    from koolicense_verify import LicenseError, Verifier, this_machine

    verifier = Verifier(PINNED_PUBLIC_KEY_PEM)
    try:
        claims = verifier.verify_on(open("license.txt").read(), this_machine())
    except LicenseError as e:
        sys.exit(f"Not licensed ({e.kind}): {e}")

Every object is immutable and may be shared between threads; the native calls release the GIL.
"""

from __future__ import annotations

import json
import weakref
from ctypes import byref, c_uint64, c_void_p
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NoReturn, Optional, Type, Union

from . import _native
from ._claims import Binding, Claims
from ._native import Failure, lib

__all__ = [
    "Binding",
    "Claims",
    "Host",
    "InvalidInputError",
    "LicenseError",
    "MachineUnreadableError",
    "StatusAnswer",
    "Verifier",
    "DEFAULT_LEEWAY_SECS",
    "this_machine",
]

DEFAULT_LEEWAY_SECS = 300
"""Clock tolerance a verifier applies unless told otherwise, in seconds."""

Text = Union[str, bytes]

# Status codes of koolicense.h whose failures are the caller's input, not the license.
_INVALID_INPUT = {1, 2, 3}
_MACHINE_UNREADABLE = 4


class LicenseError(Exception):
    """A license (or a revocation list, status answer, key or host) was not accepted.

    ``kind`` is the verifier's error name, as recorded in the known-answer vectors
    (``"Expired"``, ``"HardwareMismatch"``, ``"BadSignature"``, ...); ``status`` is the
    ``KOOLICENSE_STATUS_*`` number of the C ABI."""

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


def _raise(failure: Failure) -> NoReturn:
    cls: Type[LicenseError]
    if failure.status in _INVALID_INPUT:
        cls = InvalidInputError
    elif failure.status == _MACHINE_UNREADABLE:
        cls = MachineUnreadableError
    else:
        cls = LicenseError
    raise cls(failure.kind, failure.message, failure.status) from None


def _call(function: Callable[..., int], *args: Any) -> None:
    try:
        _native.call(function, *args)
    except Failure as failure:
        _raise(failure)


def _handle(free: Callable[[Optional[int]], None], pointer: c_void_p, owner: object) -> int:
    """Ties a native handle's lifetime to its Python owner."""
    weakref.finalize(owner, free, pointer.value)
    return pointer.value  # type: ignore[return-value]


def _now(now: Optional[int]) -> int:
    if now is None:
        return _native.NOW
    if not 0 <= now < _native.NOW:
        raise InvalidInputError("InvalidArgument", f"now must be Unix seconds, got {now}", 1)
    return now


class Host:
    """A machine to check a license's binding against: its KooMarket hardware identifier
    (``MAC|disk|board|CPU``) and/or the system identifier the customer entered. ``None`` means
    unknown. See :func:`this_machine`."""

    def __init__(
        self, hardware_identifier: Optional[str] = None, system_identifier: Optional[str] = None
    ) -> None:
        self.hardware_identifier = hardware_identifier
        self.system_identifier = system_identifier
        out = c_void_p()
        _call(
            lib.koolicense_host_new,
            *_native.text(hardware_identifier),
            *_native.text(system_identifier),
            byref(out),
        )
        self._handle = _handle(lib.koolicense_host_free, out, self)

    def __repr__(self) -> str:
        return (
            f"Host(hardware_identifier={self.hardware_identifier!r}, "
            f"system_identifier={self.system_identifier!r})"
        )


def this_machine(system_identifier: Optional[str] = None) -> Host:
    """This machine as a :class:`Host`: its hardware identifier read from the operating system
    (``host.hardware_identifier`` is the string a customer enters at purchase), plus the system
    identifier the customer entered, if any. Raises :class:`MachineUnreadableError`."""
    try:
        identifier = _native.owned(
            lambda pointer, length: _native.call(
                lib.koolicense_this_machine, byref(pointer), byref(length)
            )
        )
    except Failure as failure:
        _raise(failure)
    return Host(hardware_identifier=identifier, system_identifier=system_identifier)


@dataclass(frozen=True)
class StatusAnswer:
    """A verified online status answer: the issuer's word on a license right now."""

    state: str
    """``valid``, ``suspended``, ``revoked``, ``expired``, ``frozen``, ``released``, ``unknown``."""
    current_revision: int
    server_time: int
    expires_at: Optional[int]


_STATES = ("valid", "suspended", "revoked", "expired", "frozen", "released", "unknown")


class _NativeClaims:
    """Claims still held by the library, for the checks that take them."""

    def __init__(self, pointer: c_void_p) -> None:
        self._handle = _handle(lib.koolicense_claims_free, pointer, self)

    def to_claims(self) -> Claims:
        text = _native.owned(
            lambda pointer, length: _native.call(
                lib.koolicense_claims_to_json, self._handle, byref(pointer), byref(length)
            )
        )
        claims = Claims.from_dict(json.loads(text))
        # Kept with the claims so that revocation and status checks can hand them back.
        object.__setattr__(claims, "_native", self)
        return claims


class Verifier:
    """Verifies licenses against the issuer's pinned Ed25519 public keys.

    ``public_keys_pem`` is one or more PEM ``PUBLIC KEY`` blocks (a string, or a list of them):
    every key the issuer has signed with. ``leeway_secs`` tolerates that much clock difference
    at both ends of a license's validity window."""

    def __init__(
        self, public_keys_pem: Union[Text, Iterable[Text]], leeway_secs: int = DEFAULT_LEEWAY_SECS
    ) -> None:
        if not isinstance(public_keys_pem, (str, bytes)):
            public_keys_pem = "\n".join(
                k.decode("utf-8") if isinstance(k, bytes) else k for k in public_keys_pem
            )
        if not 0 <= leeway_secs < 2**64:
            raise InvalidInputError("InvalidArgument", "leeway_secs must not be negative", 1)
        self.leeway_secs = leeway_secs
        out = c_void_p()
        _call(lib.koolicense_verifier_new, *_native.text(public_keys_pem), leeway_secs, byref(out))
        self._handle = _handle(lib.koolicense_verifier_free, out, self)

    def _verify(
        self, token: Text, host: Optional[Host], now: Optional[int], product: Optional[str]
    ) -> _NativeClaims:
        out = c_void_p()
        common = (self._handle, *_native.text(token), _now(now), *_native.text(product))
        if host is None:
            _call(lib.koolicense_verify, *common, byref(out))
        else:
            _call(lib.koolicense_verify_on, *common, host._handle, byref(out))
        return _NativeClaims(out)

    def verify(self, token: Text, *, now: Optional[int] = None, product: Optional[str] = None) -> Claims:
        """Verifies a license (one-line ``kl1.…`` or armoured) at ``now`` (Unix seconds; the
        system clock when None): signature, format, validity window and, when ``product`` is
        given, that the license's product id or sku code equals it. The machine binding is
        **not** checked; use :meth:`verify_on`. Raises :class:`LicenseError`."""
        return self._verify(token, None, now, product).to_claims()

    def verify_on(
        self, token: Text, host: Host, *, now: Optional[int] = None, product: Optional[str] = None
    ) -> Claims:
        """Verifies a license as :meth:`verify` does, then checks its machine binding against
        ``host`` (see :func:`this_machine`). Raises :class:`LicenseError`."""
        if not isinstance(host, Host):
            raise InvalidInputError("InvalidArgument", "host must be a koolicense_verify.Host", 1)
        return self._verify(token, host, now, product).to_claims()

    def check_revocation(
        self, revocation_list: Text, claims: Claims, *, last_accepted: Optional[int] = None
    ) -> int:
        """Verifies a signed revocation list newer than ``last_accepted`` (the sequence returned
        last time; persist it) and checks the ``claims`` of a license this verifier verified
        against it. Returns the list's sequence. Raises :class:`LicenseError` (``Revoked``,
        ``Stale``, ...)."""
        previous = None if last_accepted is None else byref(c_uint64(last_accepted))
        sequence = c_uint64()
        _call(
            lib.koolicense_check_revocation,
            self._handle,
            *_native.text(revocation_list),
            previous,
            _native_claims(claims)._handle,
            byref(sequence),
        )
        return sequence.value

    def verify_status(self, answer: Text, claims: Claims, *, nonce: str) -> StatusAnswer:
        """Verifies a signed status answer about the license whose verified ``claims`` are given:
        signature, that it echoes ``nonce`` (the fresh random value this program sent) and that
        it concerns this license. Raises :class:`LicenseError` (``NonceMismatch``, ...)."""
        out = _native.StatusAnswer()
        _call(
            lib.koolicense_verify_status,
            self._handle,
            *_native.text(answer),
            *_native.text(nonce),
            _native_claims(claims)._handle,
            byref(out),
        )
        state = _STATES[out.state] if 0 <= out.state < len(_STATES) else "other"
        return StatusAnswer(state, out.current_revision, out.server_time, out.expires_at or None)


def _native_claims(claims: Claims) -> _NativeClaims:
    native = getattr(claims, "_native", None)
    if not isinstance(native, _NativeClaims):
        raise InvalidInputError(
            "InvalidArgument", "claims must come from Verifier.verify or Verifier.verify_on", 1
        )
    return native


def version() -> str:
    """The version of the native verifier."""
    version: bytes = lib.koolicense_version()
    return version.decode("utf-8")

