"""What a verified license says: `Claims` and its `Binding`, with the known-answer vectors'
field names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class Binding:
    """What a license is bound to. ``kind`` is ``"none"`` (floating), ``"system"`` (a system
    identifier, in ``identifier``), ``"system_digest"`` (its SHA-256, in ``sha256``) or
    ``"hardware"`` (``min_match`` of the MAC, disk, board and CPU components, as salted hashes;
    ``anchor`` names the component that must match, when the binding has one)."""

    kind: str
    identifier: Optional[str] = None
    sha256: Optional[str] = None
    min_match: Optional[int] = None
    salt: Optional[str] = None
    hashes: Optional[Tuple[Tuple[str, ...], ...]] = None
    anchor: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Binding":
        hashes = data.get("hashes")
        return cls(
            kind=data["kind"],
            identifier=data.get("identifier"),
            sha256=data.get("sha256"),
            min_match=data.get("min_match"),
            salt=data.get("salt"),
            hashes=None if hashes is None else tuple(tuple(c) for c in hashes),
            anchor=data.get("anchor"),
        )

    def as_dict(self) -> Dict[str, Any]:
        """The vectors' JSON form (only the fields this kind has)."""
        out: Dict[str, Any] = {"kind": self.kind}
        for name in ("identifier", "sha256", "min_match", "salt"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.hashes is not None:
            out["hashes"] = [list(c) for c in self.hashes]
        if self.anchor is not None:
            out["anchor"] = self.anchor
        return out


@dataclass(frozen=True)
class Claims:
    """The signed claims of a verified license. Times are Unix seconds (UTC)."""

    license_id: str
    revision: int
    instance_id: Optional[str]
    order_id: Optional[str]
    product_id: str
    sku_code: Optional[str]
    customer_id: Optional[str]
    trial: bool
    test: bool
    issued_at: int
    not_before: int
    expires_at: Optional[int]
    quantity: Optional[int]
    features: Tuple[str, ...]
    binding: Binding

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Claims":
        fields = {name: data[name] for name in cls.__dataclass_fields__}
        fields["features"] = tuple(fields["features"])
        fields["binding"] = Binding.from_dict(fields["binding"])
        return cls(**fields)

    def as_dict(self) -> Dict[str, Any]:
        """The vectors' JSON form (``expect.ok``)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["features"] = list(self.features)
        out["binding"] = self.binding.as_dict()
        return out

    @property
    def is_perpetual(self) -> bool:
        """Whether the license never expires."""
        return self.expires_at is None

    def has_feature(self, feature: str) -> bool:
        """Whether the license grants the named feature."""
        return feature in self.features
