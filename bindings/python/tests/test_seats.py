"""Every lease and offline activation vector, through the Python package, and what a customer
moving a lease or a response to another machine gets."""

import json

import pytest

from conftest import VECTORS
from koolicense_verify import ActivationRequest, Host, LeaseClaims, LicenseError, OfflineActivation, Verifier


def load(name):
    with open(VECTORS / name, encoding="utf-8") as f:
        return json.load(f)


LEASES = load("leases.json")
ACTIVATIONS = load("activations.json")


def host_of(case):
    return Host(
        hardware_identifier=case.get("hardware_identifier"),
        system_identifier=case.get("system_identifier"),
    )


def lease_answer(case):
    try:
        lease = Verifier(case["public_key_pem"]).verify_lease(case["lease"], host_of(case), now=case["now"])
    except LicenseError as e:
        assert str(e)
        return {"error": e.kind}
    assert isinstance(lease, LeaseClaims)
    return {"ok": {name: getattr(lease, name) for name in case["expect"]["ok"]}}


def activation_answer(case):
    request = ActivationRequest.parse(case["request"])
    assert request.text == case["request"]
    try:
        activation = Verifier(case["public_key_pem"]).read_activation_response(
            case["response"], request, host_of(case), now=case["now"]
        )
    except LicenseError as e:
        return {"error": e.kind}
    assert isinstance(activation, OfflineActivation)
    claims = activation.claims
    return {"ok": {
        "license": activation.license,
        "license_id": claims.license_id,
        "revision": claims.revision,
        "product_id": claims.product_id,
        "deactivation_proof": activation.deactivation_proof,
    }}


@pytest.mark.parametrize("case", LEASES, ids=[c["name"] for c in LEASES])
def test_the_lease_vector_verifies_as_recorded(case):
    assert lease_answer(case) == case["expect"]


@pytest.mark.parametrize("case", ACTIVATIONS, ids=[c["name"] for c in ACTIVATIONS])
def test_the_activation_vector_reads_as_recorded(case):
    assert activation_answer(case) == case["expect"]


def test_there_are_lease_and_activation_vectors_to_run():
    assert len(LEASES) >= 10 and len(ACTIVATIONS) >= 6
    assert any("ok" in c["expect"] for c in LEASES) and any("ok" in c["expect"] for c in ACTIVATIONS)


def test_a_lease_carries_its_license_claims():
    case = next(c for c in LEASES if "ok" in c["expect"])
    lease = Verifier(case["public_key_pem"]).verify_lease(case["lease"], host_of(case), now=case["now"])
    assert lease.claims.expires_at == lease.expires_at
    assert lease.as_dict()["lease_id"] == lease.lease_id
    assert lease.binding.kind == "system"


def test_a_lease_for_another_product_is_refused():
    case = next(c for c in LEASES if "ok" in c["expect"])
    with pytest.raises(LicenseError) as raised:
        Verifier(case["public_key_pem"]).verify_lease(
            case["lease"], host_of(case), now=case["now"], product="00301-000000-0--0"
        )
    assert raised.value.kind == "WrongProduct"


def test_a_fresh_request_has_its_own_nonce_and_reads_back():
    first = ActivationRequest.new("PL-CODE-0001", "SYSCODE-FLOAT-0001")
    second = ActivationRequest.new("PL-CODE-0001", "SYSCODE-FLOAT-0001")
    assert first.text.startswith("-----BEGIN KOOLICENSE ACTIVATION REQUEST-----")
    assert first.text != second.text
    assert ActivationRequest.parse(first.text).text == first.text


def test_a_request_for_a_license_of_the_purchase_has_its_own_nonce_and_reads_back():
    license = next(c for c in ACTIVATIONS if "ok" in c["expect"])["expect"]["ok"]["license"]
    first = ActivationRequest.for_license(license, "SYSCODE-FLOAT-0001")
    second = ActivationRequest.for_license(license, "SYSCODE-FLOAT-0001")
    assert first.text != second.text
    assert ActivationRequest.parse(first.text).text == first.text
    with pytest.raises(LicenseError) as raised:
        ActivationRequest.for_license("PL-CODE-0001", "SYSCODE-FLOAT-0001")
    assert raised.value.kind == "Malformed"


def test_a_request_without_a_code_or_with_a_typo_is_refused():
    with pytest.raises(LicenseError) as raised:
        ActivationRequest.new("", "SYSCODE-FLOAT-0001")
    assert raised.value.kind == "Malformed"
    text = ActivationRequest.new("PL-CODE-0001", "SYSCODE-FLOAT-0001").text
    line = text.splitlines()[1]
    typo = line[:10] + ("B" if line[10] == "A" else "A") + line[11:]
    with pytest.raises(LicenseError) as raised:
        ActivationRequest.parse(text.replace(line, typo))
    assert raised.value.kind == "Encoding"


def test_a_response_to_the_recorded_request_does_not_answer_a_fresh_one():
    case = next(c for c in ACTIVATIONS if "ok" in c["expect"])
    fresh = ActivationRequest.new("PL-CODE-0001", case["hardware_identifier"])
    with pytest.raises(LicenseError) as raised:
        Verifier(case["public_key_pem"]).read_activation_response(
            case["response"], fresh, host_of(case), now=case["now"]
        )
    assert raised.value.kind == "NonceMismatch"
