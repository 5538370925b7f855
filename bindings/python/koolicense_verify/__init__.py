"""Verify koolicense license tokens offline, in the program a KooMarket customer bought.

The verification is the Rust crate ``koolicense-verify``, reached through its C ABI; this
package adds a typed Python face::

    from koolicense_verify import LicenseError, Verifier, this_machine

    verifier = Verifier(PINNED_PUBLIC_KEY_PEM)
    try:
        claims = verifier.verify_on(open("license.txt").read(), this_machine())
    except LicenseError as e:
        sys.exit(f"Not licensed ({e.kind}): {e}")

Verifiers, hosts and claims are immutable and may be shared between threads; the native calls
release the GIL.
"""

from ._claims import Binding, Claims
from ._clock import ClockMark, MarkFile
from ._errors import InvalidInputError, LicenseError, MachineUnreadableError, MarkFileError
from ._host import Host, this_machine
from ._lease import ActivationRequest, LeaseClaims, OfflineActivation
from ._revocation import ListStamp, RevocationEntry, RevocationList
from ._verifier import (
    DEFAULT_LEEWAY_SECS,
    DEFAULT_MAX_LIST_AGE_SECS,
    StatusAnswer,
    Verifier,
    version,
)

__all__ = [
    "ActivationRequest",
    "Binding",
    "Claims",
    "ClockMark",
    "DEFAULT_LEEWAY_SECS",
    "DEFAULT_MAX_LIST_AGE_SECS",
    "Host",
    "InvalidInputError",
    "LeaseClaims",
    "LicenseError",
    "ListStamp",
    "MachineUnreadableError",
    "MarkFile",
    "MarkFileError",
    "OfflineActivation",
    "RevocationEntry",
    "RevocationList",
    "StatusAnswer",
    "Verifier",
    "this_machine",
    "version",
]
