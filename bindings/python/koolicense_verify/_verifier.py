"""The verifier: pinned keys, licenses, revocation lists, status answers, the clock mark."""

from __future__ import annotations

import json
from ctypes import byref, c_uint64, c_void_p
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

from . import _native
from ._claims import Claims
from ._clock import ClockMark
from ._errors import call, invalid
from ._host import Host, own
from ._native import lib
from ._revocation import ListStamp, RevocationList

if TYPE_CHECKING:
    from ._lease import ActivationRequest, LeaseClaims, OfflineActivation

DEFAULT_LEEWAY_SECS = 300
"""Clock tolerance a verifier applies unless told otherwise, in seconds."""

DEFAULT_MAX_LIST_AGE_SECS = _native.DEFAULT_MAX_LIST_AGE_SECS
"""Maximum age of an accepted revocation list unless told otherwise (7 days), in seconds."""

Text = Union[str, bytes]

_STATES = ("valid", "suspended", "revoked", "expired", "frozen", "released", "unknown")


@dataclass(frozen=True)
class StatusAnswer:
    """A verified online status answer: the issuer's word on one token right now. ``state`` is
    ``valid``, ``suspended``, ``revoked``, ``expired``, ``frozen``, ``released`` or ``unknown``.
    Raise the :class:`ClockMark` with ``server_time``."""

    state: str
    revision: int
    current_revision: int
    revoked_below: int
    server_time: int
    expires_at: Optional[int]


def _now(now: Optional[int]) -> int:
    if now is None:
        return _native.NOW
    if not 0 <= now < _native.NOW:
        raise invalid(f"now must be Unix seconds, got {now}")
    return now


class _NativeClaims:
    """Claims still held by the library, for the checks that take them."""

    def __init__(self, pointer: c_void_p) -> None:
        self._handle = own(lib.koolicense_claims_free, pointer, self)

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


def native_claims(claims: object) -> _NativeClaims:
    native = getattr(claims, "_native", None)
    if not isinstance(native, _NativeClaims):
        raise invalid("claims must come from Verifier.verify, verify_on or verify_guarded")
    return native


class Verifier:
    """Verifies licenses against the issuer's pinned Ed25519 public keys.

    ``public_keys_pem`` is one or more PEM ``PUBLIC KEY`` blocks (a string, or a list of them):
    every key the issuer has signed with. ``leeway_secs`` tolerates that much clock difference.
    Licenses issued for marketplace test traffic are refused (``TestLicense``) unless
    ``allow_test_licenses``; revocation lists older than ``max_list_age_secs`` are refused
    (``ListTooOld``). Immutable and thread-safe."""

    def __init__(
        self,
        public_keys_pem: Union[Text, Iterable[Text]],
        leeway_secs: int = DEFAULT_LEEWAY_SECS,
        *,
        allow_test_licenses: bool = False,
        max_list_age_secs: int = DEFAULT_MAX_LIST_AGE_SECS,
    ) -> None:
        if not isinstance(public_keys_pem, (str, bytes)):
            public_keys_pem = "\n".join(
                k.decode("utf-8") if isinstance(k, bytes) else k for k in public_keys_pem
            )
        for name, value in (("leeway_secs", leeway_secs), ("max_list_age_secs", max_list_age_secs)):
            if not 0 <= value < 2**64:
                raise invalid(f"{name} must be between 0 and 2**64 - 1")
        self.leeway_secs = leeway_secs
        self.allow_test_licenses = allow_test_licenses
        self.max_list_age_secs = max_list_age_secs
        flags = _native.ALLOW_TEST_LICENSES if allow_test_licenses else 0
        out = c_void_p()
        call(
            lib.koolicense_verifier_new_with,
            *_native.text(public_keys_pem),
            leeway_secs,
            max_list_age_secs,
            flags,
            byref(out),
        )
        self._handle = own(lib.koolicense_verifier_free, out, self)

    def _verify(
        self, token: Text, host: Optional[Host], now: Optional[int], product: Optional[str]
    ) -> Claims:
        out = c_void_p()
        common = (self._handle, *_native.text(token), _now(now), *_native.text(product))
        if host is None:
            call(lib.koolicense_verify, *common, byref(out))
        else:
            call(lib.koolicense_verify_on, *common, _host_handle(host), byref(out))
        return _NativeClaims(out).to_claims()

    def verify(self, token: Text, *, now: Optional[int] = None, product: Optional[str] = None) -> Claims:
        """Verifies a license (one-line ``kl1.…`` or armoured) at ``now`` (Unix seconds; the
        system clock when None): signature, format, validity window, not a test license and,
        when ``product`` is given, that the license's product id or sku code equals it. The
        machine binding is **not** checked; use :meth:`verify_on`. Raises :class:`LicenseError`."""
        return self._verify(token, None, now, product)

    def verify_on(
        self, token: Text, host: Host, *, now: Optional[int] = None, product: Optional[str] = None
    ) -> Claims:
        """Verifies a license as :meth:`verify` does, then checks its machine binding against
        ``host`` (see :func:`this_machine`). Raises :class:`LicenseError`."""
        return self._verify(token, host, now, product)

    def verify_lease(
        self, token: Text, host: Host, *, now: Optional[int] = None, product: Optional[str] = None
    ) -> "LeaseClaims":
        """Verifies a floating license's lease (one-line ``kll1.…`` or armoured) on ``host`` at
        ``now``: signature, that it is a lease (``WrongObjectKind`` for a license), the lease's
        time window with the leeway (``Expired`` once it lapsed: beat again or check out a new
        one), ``product`` when given, and the machine binding. Raises :class:`LicenseError`."""
        from ._lease import lease_claims

        return lease_claims(self._handle, token, _host_handle(host), _now(now), product)

    def read_activation_response(
        self, response: Text, request: "ActivationRequest", host: Host, *, now: Optional[int] = None
    ) -> "OfflineActivation":
        """Reads the merchant's response to an offline :class:`ActivationRequest` on ``host``:
        signature, that it answers this request (``NonceMismatch`` otherwise), then the license
        inside as :meth:`verify_on` checks it. Raises :class:`LicenseError`."""
        from ._lease import offline_activation

        return offline_activation(self._handle, response, request, _host_handle(host), _now(now))

    def verify_guarded(
        self,
        token: Text,
        host: Host,
        mark: ClockMark,
        *,
        now: Optional[int] = None,
        product: Optional[str] = None,
    ) -> Claims:
        """:meth:`verify_on` guarded against a clock set back: raises ``ClockBehind`` when the
        clock is behind ``mark`` by more than the leeway; otherwise raises ``mark`` to now
        (whatever the license's verdict) and verifies. Store the mark when it moved."""
        cell = c_uint64(mark.value)
        out = c_void_p()
        try:
            call(
                lib.koolicense_verify_guarded,
                self._handle,
                *_native.text(token),
                _now(now),
                *_native.text(product),
                _host_handle(host),
                byref(cell),
                byref(out),
            )
        finally:
            mark.observe(cell.value)
        return _NativeClaims(out).to_claims()

    def check_clock(self, mark: ClockMark, *, now: Optional[int] = None) -> None:
        """Raises ``ClockBehind`` when the clock (``now``, or the system clock) plus the leeway
        is before ``mark``."""
        call(lib.koolicense_check_clock, self._handle, _now(now), mark.value)

    def check_revocation(
        self,
        revocation_list: Text,
        claims: Claims,
        *,
        now: Optional[int] = None,
        last_accepted: Optional[ListStamp] = None,
    ) -> ListStamp:
        """Verifies a signed revocation list newer than ``last_accepted`` (persist the stamp this
        returns) and younger than the maximum age, and checks the ``claims`` of a license this
        verifier verified against it. Raises :class:`LicenseError` (``Revoked``, ``Stale``,
        ``ListTooOld``, ...)."""
        stamp = _native.ListStamp()
        call(
            lib.koolicense_check_revocation,
            self._handle,
            *_native.text(revocation_list),
            _now(now),
            _stamp(last_accepted),
            native_claims(claims)._handle,
            byref(stamp),
        )
        return ListStamp(stamp.sequence, stamp.issued_at)

    def check_revocation_guarded(
        self,
        revocation_list: Text,
        claims: Claims,
        mark: ClockMark,
        *,
        now: Optional[int] = None,
        last_accepted: Optional[ListStamp] = None,
    ) -> ListStamp:
        """:meth:`check_revocation` guarded against a clock set back: raises ``ClockBehind``
        when the clock is behind ``mark`` by more than the leeway; otherwise raises ``mark`` to
        now and, for an authentic list newer than ``last_accepted``, to the list's signing time
        (also when it revokes the license). Store the mark when it moved, whatever the verdict."""
        stamp = _native.ListStamp()
        cell = c_uint64(mark.value)
        try:
            call(
                lib.koolicense_check_revocation_guarded,
                self._handle,
                *_native.text(revocation_list),
                _now(now),
                _stamp(last_accepted),
                native_claims(claims)._handle,
                byref(cell),
                byref(stamp),
            )
        finally:
            mark.observe(cell.value)
        return ListStamp(stamp.sequence, stamp.issued_at)

    def verify_revocation_list(
        self, revocation_list: Text, *, now: Optional[int] = None, last_accepted: Optional[ListStamp] = None
    ) -> RevocationList:
        """Verifies a signed revocation list newer than ``last_accepted`` and younger than the
        maximum age, to check licenses against (:meth:`RevocationList.check`,
        :meth:`RevocationList.check_license`) and to read. Raises ``Stale``, ``ListTooOld``, ..."""
        out = c_void_p()
        call(
            lib.koolicense_verify_revocation_list,
            self._handle,
            *_native.text(revocation_list),
            _now(now),
            _stamp(last_accepted),
            byref(out),
        )
        return RevocationList(out)

    def verify_status(self, answer: Text, claims: Claims, *, nonce: str) -> StatusAnswer:
        """Verifies a signed status answer about the token whose verified ``claims`` are given:
        signature, that it echoes ``nonce`` (the fresh random value this program sent;
        ``NonceMismatch``), that it is about this license and revision (``StatusMismatch``) and
        that the token is not below its revocation floor (``Revoked``)."""
        out = _native.StatusAnswer()
        call(
            lib.koolicense_verify_status,
            self._handle,
            *_native.text(answer),
            *_native.text(nonce),
            native_claims(claims)._handle,
            byref(out),
        )
        return _status_answer(out)

    def verify_status_guarded(
        self, answer: Text, claims: Claims, mark: ClockMark, *, nonce: str, now: Optional[int] = None
    ) -> StatusAnswer:
        """:meth:`verify_status` guarded against a clock set back: raises ``ClockBehind`` when
        the clock is behind ``mark`` by more than the leeway; otherwise raises ``mark`` to now
        and, for a verified answer, to its ``server_time``. Store the mark when it moved."""
        out = _native.StatusAnswer()
        cell = c_uint64(mark.value)
        try:
            call(
                lib.koolicense_verify_status_guarded,
                self._handle,
                *_native.text(answer),
                *_native.text(nonce),
                native_claims(claims)._handle,
                _now(now),
                byref(cell),
                byref(out),
            )
        finally:
            mark.observe(cell.value)
        return _status_answer(out)

    def verify_status_for_license(
        self, answer: Text, license_id: str, revision: int, *, nonce: str
    ) -> StatusAnswer:
        """:meth:`verify_status` for a program that keeps the license id and revision of its
        token rather than verified claims."""
        out = _native.StatusAnswer()
        call(
            lib.koolicense_verify_status_for_license,
            self._handle,
            *_native.text(answer),
            *_native.text(nonce),
            *_native.text(license_id),
            revision,
            byref(out),
        )
        return _status_answer(out)


def _status_answer(out: _native.StatusAnswer) -> StatusAnswer:
    state = _STATES[out.state] if 0 <= out.state < len(_STATES) else "other"
    return StatusAnswer(
        state, out.revision, out.current_revision, out.revoked_below, out.server_time, out.expires_at or None
    )


def _stamp(stamp: Optional[ListStamp]) -> Any:
    if stamp is None:
        return None
    return byref(_native.ListStamp(stamp.sequence, stamp.issued_at))


def _host_handle(host: Host) -> int:
    if not isinstance(host, Host):
        raise invalid("host must be a koolicense_verify.Host")
    return host._handle


def version() -> str:
    """The version of the native verifier."""
    text: bytes = lib.koolicense_version()
    return text.decode("utf-8")
