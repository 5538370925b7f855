"""What the program knows about its machine."""

from __future__ import annotations

import weakref
from ctypes import byref, c_void_p
from typing import Callable, Optional

from . import _native
from ._errors import call, raise_failure
from ._native import Failure, lib


def own(free: Callable[[Optional[int]], None], pointer: c_void_p, owner: object) -> int:
    """Ties a native handle's lifetime to its Python owner."""
    weakref.finalize(owner, free, pointer.value)
    return pointer.value  # type: ignore[return-value]


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
        call(
            lib.koolicense_host_new,
            *_native.text(hardware_identifier),
            *_native.text(system_identifier),
            byref(out),
        )
        self._handle = own(lib.koolicense_host_free, out, self)

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
        raise_failure(failure)
    return Host(hardware_identifier=identifier, system_identifier=system_identifier)
