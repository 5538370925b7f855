"""Shared fixtures: the known-answer vectors of the Rust verifier."""

import json
import os
from pathlib import Path

VECTORS = Path(
    os.environ.get(
        "KOOLICENSE_VECTORS",
        Path(__file__).resolve().parents[3] / "verify" / "tests" / "vectors" / "licenses.json",
    )
)


def load_vectors():
    with open(VECTORS, encoding="utf-8") as f:
        return json.load(f)
