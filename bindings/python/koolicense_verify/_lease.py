"""Leases of floating licenses and offline activation: :class:`LeaseClaims`,
:class:`ActivationRequest` and :class:`OfflineActivation` (the checks themselves are
:meth:`Verifier.verify_lease` and :meth:`Verifier.read_activation_response`)."""

from __future__ import annotations

import json
from ctypes import byref, c_bool, c_int32, c_size_t, c_uint64, c_void_p
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

from . import _native
from ._claims import Binding, Claims
from ._errors import call
from ._host import own
from ._native import _declare, _len_out, _out, _text, lib

# The lease and offline activation functions of koolicense.h (tests/test_native.py compares).
_declare("koolicense_verify_lease", c_int32, c_void_p, *_text, c_uint64, *_text, c_void_p, _out, _out)
_declare("koolicense_lease_id", c_void_p, c_void_p, _len_out)
_declare("koolicense_lease_borrowed", c_bool, c_void_p)
_declare("koolicense_lease_expires_at", c_uint64, c_void_p)
_declare("koolicense_lease_claims", c_void_p, c_void_p)
_declare("koolicense_lease_to_json", c_int32, c_void_p, _out, _len_out, _out)
_declare("koolicense_lease_free", None, c_void_p)
_declare("koolicense_activation_request_new", c_int32, *_text, *_text, _out, _out)
_declare("koolicense_activation_request_for_license", c_int32, *_text, *_text, _out, _out)
_declare("koolicense_activation_request_parse", c_int32, *_text, _out, _out)
_declare("koolicense_activation_request_text", c_void_p, c_void_p, _len_out)
_declare("koolicense_activation_request_free", None, c_void_p)
_declare(
    "koolicense_read_activation_response", c_int32,
    c_void_p, *_text, c_void_p, c_uint64, c_void_p, _out, _out,
)
_declare("koolicense_activation_license", c_void_p, c_void_p, _len_out)
_declare("koolicense_activation_claims", c_void_p, c_void_p)
_declare("koolicense_activation_deactivation_proof", c_void_p, c_void_p, _len_out)
_declare("koolicense_activation_free", None, c_void_p)

Text = Union[str, bytes]


def _lent(function: Any, handle: Union[int, c_void_p]) -> str:
    length = c_size_t()
    return _native.borrowed(function(handle, byref(length)), length.value) or ""


@dataclass(frozen=True)
class LeaseClaims:
    """A verified lease: which seat (``lease_id``, stable across heartbeats) of which floating
    license, for this machine, until ``expires_at`` (Unix seconds: beat again before then).
    ``borrowed`` leases run offline until they end. ``claims`` are the floating license's claims
    as of the lease; its ``license_id``, ``revision``, ``product_id``, ``quantity``, ``features``
    and ``binding`` are also attributes here (the lease vectors' names)."""

    lease_id: str
    borrowed: bool
    expires_at: int
    claims: Claims

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "LeaseClaims":
        return cls(
            lease_id=data["lease_id"],
            borrowed=data["borrowed"],
            expires_at=data["expires_at"],
            claims=Claims.from_dict(data),
        )

    @property
    def license_id(self) -> str:
        return self.claims.license_id

    @property
    def revision(self) -> int:
        return self.claims.revision

    @property
    def product_id(self) -> str:
        return self.claims.product_id

    @property
    def quantity(self) -> Optional[int]:
        return self.claims.quantity

    @property
    def features(self) -> Tuple[str, ...]:
        return self.claims.features

    @property
    def binding(self) -> Binding:
        return self.claims.binding

    def has_feature(self, feature: str) -> bool:
        """Whether the floating license grants the named feature."""
        return self.claims.has_feature(feature)

    def as_dict(self) -> Dict[str, Any]:
        """``lease_id``, ``borrowed`` and the claims' JSON form (``expires_at`` is the lease's end)."""
        return {"lease_id": self.lease_id, "borrowed": self.borrowed, **self.claims.as_dict()}


def lease_claims(verifier: int, token: Text, host: int, now: int, product: Optional[str]) -> LeaseClaims:
    """Runs ``koolicense_verify_lease`` and reads the lease it hands back."""
    out = c_void_p()
    call(lib.koolicense_verify_lease, verifier, *_native.text(token), now, *_native.text(product), host, byref(out))
    try:
        text = _native.owned(
            lambda pointer, length: _native.call(lib.koolicense_lease_to_json, out, byref(pointer), byref(length))
        )
    finally:
        lib.koolicense_lease_free(out)
    return LeaseClaims.from_dict(json.loads(text))


class ActivationRequest:
    """A request for a license for this machine, for a machine that never reaches the service:
    :meth:`new` (for an authorization code) or :meth:`for_license` (for a license of the
    purchase) writes one with a fresh nonce; carry :attr:`text` to the merchant and keep it
    (or the object) until the response arrives, since the response answers this request only.
    :meth:`parse` reads a kept text back. Immutable."""

    def __init__(self, handle: c_void_p) -> None:
        self._handle = own(lib.koolicense_activation_request_free, handle, self)
        self.text = _lent(lib.koolicense_activation_request_text, self._handle)

    @classmethod
    def new(cls, code: str, machine: str) -> "ActivationRequest":
        """A request for the License 2.0 authorization ``code`` on ``machine`` (this machine's
        hardware identifier, or the system identifier, as the product binds). Raises
        :class:`LicenseError` (``Malformed``) for an empty code or machine identifier."""
        out = c_void_p()
        call(lib.koolicense_activation_request_new, *_native.text(code), *_native.text(machine), byref(out))
        return cls(out)

    @classmethod
    def for_license(cls, license: Text, machine: str) -> "ActivationRequest":
        """A request for a seat of the purchase ``license`` belongs to (either text form; for an
        online-license order, a license the marketplace delivered for it) on ``machine``. Its
        text is a version 2 request, which verifiers before this method existed refuse
        (``UnsupportedVersion``). Raises :class:`LicenseError` (``Malformed``) when ``license``
        is not a license or the machine identifier is empty."""
        out = c_void_p()
        call(
            lib.koolicense_activation_request_for_license,
            *_native.text(license), *_native.text(machine), byref(out),
        )
        return cls(out)

    @classmethod
    def parse(cls, text: Text) -> "ActivationRequest":
        """Reads a request's text (armoured or one-line); a mistyped character is ``Encoding``."""
        out = c_void_p()
        call(lib.koolicense_activation_request_parse, *_native.text(text), byref(out))
        return cls(out)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"ActivationRequest({self.text!r})"


@dataclass(frozen=True)
class OfflineActivation:
    """A verified offline activation: store ``license`` and verify it like any license from now
    on. Once the program has deleted its license, ``deactivation_proof`` is the text block the
    person carries back to free the seat."""

    license: str
    claims: Claims
    deactivation_proof: str

    def __repr__(self) -> str:
        return f"OfflineActivation(claims={self.claims!r})"


def offline_activation(
    verifier: int, response: Text, request: ActivationRequest, host: int, now: int
) -> OfflineActivation:
    """Runs ``koolicense_read_activation_response`` and reads the activation it hands back."""
    out = c_void_p()
    call(lib.koolicense_read_activation_response, verifier, *_native.text(response), request._handle, now, host,
         byref(out))
    try:
        text = _native.owned(
            lambda pointer, length: _native.call(
                lib.koolicense_claims_to_json, lib.koolicense_activation_claims(out), byref(pointer), byref(length)
            )
        )
        return OfflineActivation(
            license=_lent(lib.koolicense_activation_license, out),
            claims=Claims.from_dict(json.loads(text)),
            deactivation_proof=_lent(lib.koolicense_activation_deactivation_proof, out),
        )
    finally:
        lib.koolicense_activation_free(out)
