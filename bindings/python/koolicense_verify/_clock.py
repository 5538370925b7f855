"""The clock's high-water mark: the latest time this program has seen, so that a clock set back
to keep an expired license alive is refused (``ClockBehind``)."""

from __future__ import annotations

import os
from ctypes import byref, c_uint64
from typing import Union

from . import _native
from ._errors import call
from ._native import lib


class ClockMark:
    """The latest trusted time seen (Unix seconds). :meth:`Verifier.verify_guarded` raises it
    with every run, :meth:`Verifier.check_revocation_guarded` and
    :meth:`Verifier.verify_status_guarded` with the issuer's signed times too (or raise it with
    :meth:`observe`). Keep it with :class:`MarkFile`."""

    def __init__(self, latest_seen: int = 0) -> None:
        self.value = latest_seen

    def observe(self, time: int) -> bool:
        """Raises the mark to ``time`` if that is later; returns whether it moved."""
        if time > self.value:
            self.value = time
            return True
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClockMark) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"ClockMark({self.value})"


class MarkFile:
    """A file holding a :class:`ClockMark`, replaced atomically on :meth:`store`. A missing file
    is a mark of 0; a file that does not hold a number raises :class:`MarkFileError` (the mark is
    never reset silently)."""

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self.path = os.fspath(path)

    def load(self) -> ClockMark:
        mark = c_uint64()
        call(lib.koolicense_mark_load, *_native.text(self.path), byref(mark))
        return ClockMark(mark.value)

    def store(self, mark: ClockMark) -> None:
        call(lib.koolicense_mark_store, *_native.text(self.path), mark.value)

    def __repr__(self) -> str:
        return f"MarkFile({self.path!r})"
