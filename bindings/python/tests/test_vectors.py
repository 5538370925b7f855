"""Every known-answer vector, through the Python package."""

import pytest

from conftest import load_vectors
from koolicense_verify import Claims, Host, LicenseError, Verifier

CASES = load_vectors()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_vector_verifies_as_recorded(case):
    verifier = Verifier(case["public_key_pem"], leeway_secs=case.get("leeway", 300))
    token = case.get("token", case.get("armored"))
    options = {"now": case["now"], "product": case.get("product")}
    expect = case["expect"]

    def run():
        if "host" not in case:
            return verifier.verify(token, **options)
        host = Host(**case["host"])
        return verifier.verify_on(token, host, **options)

    if "ok" in expect:
        claims = run()
        assert isinstance(claims, Claims)
        assert claims.as_dict() == expect["ok"]
        for name, value in expect["ok"].items():
            if name not in ("features", "binding"):
                assert getattr(claims, name) == value, name
        assert list(claims.features) == expect["ok"]["features"]
        assert claims.binding.kind == expect["ok"]["binding"]["kind"]
    else:
        with pytest.raises(LicenseError) as raised:
            run()
        assert raised.value.kind == expect["error"], str(raised.value)
        assert str(raised.value)


def test_there_are_vectors_to_run():
    assert len(CASES) > 10
