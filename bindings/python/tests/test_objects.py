"""The revocation list and status answer vectors, through the Python package."""

import json

import pytest

from conftest import VECTORS
from koolicense_verify import LicenseError, ListStamp, Verifier


def load(name):
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)


LISTS = load("revocations.json")
ANSWERS = load("status.json")


def list_answer(case):
    verifier = Verifier(case["public_key_pem"])
    last = case.get("last")
    try:
        revocations = verifier.verify_revocation_list(
            case["list"], now=case["now"], last_accepted=ListStamp(**last) if last else None
        )
        if "license" in case:
            revocations.check_license(case["license"]["license_id"], case["license"]["revision"])
    except LicenseError as e:
        return {"error": e.kind}
    entries = [vars(e) for e in revocations]
    assert len(entries) == len(revocations)
    return {"ok": {"sequence": revocations.sequence, "issued_at": revocations.issued_at, "entries": entries}}


def status_answer(case):
    verifier = Verifier(case["public_key_pem"])
    license = case["license"]
    try:
        answer = verifier.verify_status_for_license(
            case["answer"], license["license_id"], license["revision"], nonce=case["nonce"]
        )
    except LicenseError as e:
        return {"error": e.kind}
    return {"ok": {**vars(answer), "license_id": license["license_id"], "nonce": case["nonce"]}}


@pytest.mark.parametrize("case", LISTS, ids=[c["name"] for c in LISTS])
def test_the_revocation_list_vector_gets_its_recorded_answer(case):
    assert list_answer(case) == case["expect"]


@pytest.mark.parametrize("case", ANSWERS, ids=[c["name"] for c in ANSWERS])
def test_the_status_answer_vector_gets_its_recorded_answer(case):
    assert status_answer(case) == case["expect"]


def test_a_listed_license_is_revoked_when_checked_by_its_verified_claims():
    revoked = next(c for c in LISTS if c["name"] == "checking a revoked license")
    verifier = Verifier(revoked["public_key_pem"])
    revocations = verifier.verify_revocation_list(revoked["list"], now=revoked["now"])
    with pytest.raises(LicenseError) as raised:
        revocations.check_license(revoked["license"]["license_id"], revoked["license"]["revision"])
    assert raised.value.kind == "Revoked"
    with pytest.raises(ValueError):
        revocations.check_license("not a license id", 1)
