"""Every known-answer vector, through the Python package."""

import pytest

from conftest import load_vectors
from koolicense_verify import Claims, ClockMark, Host, LicenseError, Verifier

CASES = load_vectors()
CASES_V1 = load_vectors("v1")


def run(case, allow_test):
    verifier = Verifier(
        case["public_key_pem"],
        leeway_secs=case.get("leeway", 300),
        allow_test_licenses=allow_test or case.get("allow_test", False),
    )
    token = case.get("token", case.get("armored"))
    options = {"now": case["now"], "product": case.get("product")}
    expect = case["expect"]

    def verify():
        verifier.check_clock(ClockMark(case.get("mark", 0)), now=case["now"])
        if "host" not in case:
            return verifier.verify(token, **options)
        return verifier.verify_on(token, Host(**case["host"]), **options)

    if "ok" in expect:
        claims = verify()
        assert isinstance(claims, Claims)
        assert claims.as_dict() == expect["ok"]
        for name, value in expect["ok"].items():
            if name not in ("features", "binding"):
                assert getattr(claims, name) == value, name
        assert list(claims.features) == expect["ok"]["features"]
        assert claims.binding.kind == expect["ok"]["binding"]["kind"]
        assert claims.binding.anchor == expect["ok"]["binding"].get("anchor")
    else:
        with pytest.raises(LicenseError) as raised:
            verify()
        assert raised.value.kind == expect["error"], str(raised.value)
        assert str(raised.value)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_vector_verifies_as_recorded(case):
    run(case, allow_test=False)


@pytest.mark.parametrize("case", CASES_V1, ids=[c["name"] for c in CASES_V1])
def test_the_version_1_vector_still_verifies_as_recorded(case):
    run(case, allow_test=True)


def test_there_are_vectors_to_run():
    assert len(CASES) > 40 and len(CASES_V1) == 41
