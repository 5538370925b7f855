"""The revocation list and status answer vectors, through the Python package."""

import json

import pytest

from conftest import VECTORS, load_vectors
from koolicense_verify import ClockMark, Host, LicenseError, ListStamp, Verifier


def load(name):
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)


LISTS = load("revocations.json")
ANSWERS = load("status.json")
FLOATING = next(c for c in load_vectors() if c["name"] == "floating perpetual license")


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


def test_a_revocation_list_signed_later_raises_the_mark_so_a_clock_set_back_is_refused():
    fresh = next(c for c in LISTS if c["name"] == "a fresh list")
    verifier = Verifier(FLOATING["public_key_pem"])
    claims = verifier.verify(FLOATING["token"], now=FLOATING["now"])
    mark = ClockMark(0)
    signed_at = fresh["expect"]["ok"]["issued_at"]
    stamp = verifier.check_revocation_guarded(fresh["list"], claims, mark, now=fresh["now"])
    assert stamp.issued_at == signed_at and mark.value == max(signed_at, fresh["now"])
    with pytest.raises(LicenseError) as raised:
        verifier.verify_guarded(FLOATING["token"], Host(), ClockMark(mark.value), now=mark.value - 301)
    assert raised.value.kind == "ClockBehind"


def test_a_guarded_status_check_refuses_a_clock_behind_the_mark_and_keeps_the_mark():
    answer = next(c for c in ANSWERS if c["name"] == "a valid answer about our token")
    verifier = Verifier(FLOATING["public_key_pem"])
    claims = verifier.verify(FLOATING["token"], now=FLOATING["now"])
    mark = ClockMark(FLOATING["now"])
    with pytest.raises(LicenseError) as raised:
        verifier.verify_status_guarded(answer["answer"], claims, mark, nonce=answer["nonce"], now=mark.value - 301)
    assert raised.value.kind == "ClockBehind" and mark.value == FLOATING["now"]
    with pytest.raises(LicenseError) as raised:
        verifier.verify_status_guarded(answer["answer"], claims, mark, nonce=answer["nonce"], now=mark.value + 5)
    assert raised.value.kind == "StatusMismatch", "an answer about another license"
    assert mark.value == FLOATING["now"] + 5
