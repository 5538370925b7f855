"""Shared fixtures: the known-answer vectors of the Rust verifier."""

import json
import os
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
VECTORS = Path(
    os.environ.get("KOOLICENSE_VECTORS", REPOSITORY / "verify" / "tests" / "vectors")
)
HEADER = REPOSITORY / "verify-ffi" / "include" / "koolicense.h"


def load_vectors(version=""):
    """The current vectors, or with version="v1" those version 1 verifiers recorded."""
    with open(VECTORS / version / "licenses.json", encoding="utf-8") as f:
        return json.load(f)
