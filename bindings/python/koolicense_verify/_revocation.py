"""Signed revocation lists: a verified list to check licenses against and to read."""

from __future__ import annotations

import uuid
from ctypes import byref, c_void_p
from dataclasses import dataclass
from typing import Iterator, List

from . import _native
from ._errors import call
from ._host import own
from ._native import lib

_ENTRY_STATUS = ("superseded", "suspended", "revoked", "released")


@dataclass(frozen=True)
class ListStamp:
    """Which revocation list was accepted: persist it and pass it as ``last_accepted`` next
    time. Raise the :class:`ClockMark` with ``issued_at``."""

    sequence: int
    issued_at: int


@dataclass(frozen=True)
class RevocationEntry:
    """One listed license: ``status`` is ``superseded`` (only tokens below ``revoked_below``
    are revoked: the license was reissued), ``suspended``, ``revoked`` or ``released``."""

    license_id: str
    revoked_below: int
    status: str


class RevocationList:
    """A verified revocation list (see :meth:`Verifier.verify_revocation_list`). Immutable and
    thread-safe; ``len(list)`` entries, iterable in license id order."""

    def __init__(self, handle: c_void_p) -> None:
        self._handle = own(lib.koolicense_revocation_list_free, handle, self)
        stamp = lib.koolicense_revocation_list_stamp(self._handle)
        self.stamp = ListStamp(stamp.sequence, stamp.issued_at)

    @property
    def sequence(self) -> int:
        return self.stamp.sequence

    @property
    def issued_at(self) -> int:
        return self.stamp.issued_at

    def __len__(self) -> int:
        length: int = lib.koolicense_revocation_list_len(self._handle)
        return length

    def __iter__(self) -> Iterator[RevocationEntry]:
        entry = _native.RevocationEntry()
        index = 0
        while lib.koolicense_revocation_list_entry(self._handle, index, byref(entry)):
            status = _ENTRY_STATUS[entry.status] if 0 <= entry.status < len(_ENTRY_STATUS) else "other"
            yield RevocationEntry(str(uuid.UUID(bytes=bytes(entry.license_id))), entry.revoked_below, status)
            index += 1

    @property
    def entries(self) -> List[RevocationEntry]:
        return list(self)

    def check(self, claims: object) -> None:
        """Raises ``Revoked`` when the list revokes the token whose verified claims are given."""
        from ._verifier import native_claims

        call(lib.koolicense_revocation_list_check, self._handle, native_claims(claims)._handle)

    def check_license(self, license_id: str, revision: int) -> None:
        """Raises ``Revoked`` when the list revokes this token of the license."""
        call(lib.koolicense_revocation_list_check_license, self._handle, *_native.text(license_id), revision)

    def __repr__(self) -> str:
        return f"RevocationList(sequence={self.sequence}, issued_at={self.issued_at}, entries={len(self)})"
