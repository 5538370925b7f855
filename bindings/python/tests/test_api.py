"""The Python face of the verifier: arguments, errors, hosts, threads."""

import threading

import pytest

from conftest import load_vectors
import koolicense_verify
from koolicense_verify import (
    ClockMark,
    Host,
    InvalidInputError,
    LicenseError,
    MachineUnreadableError,
    MarkFile,
    MarkFileError,
    Verifier,
    this_machine,
)

CASES = {c["name"]: c for c in load_vectors()}
FLOATING = CASES["floating perpetual license"]
ARMOURED = CASES["armoured license"]
HARDWARE = CASES["hardware-bound license on its machine"]
OTHER_KEY = CASES["license signed by another pinned key"]
TEST_LICENSE = CASES["test license refused by default"]


def test_one_line_and_armoured_licenses_give_the_same_claims():
    verifier = Verifier(FLOATING["public_key_pem"])
    one_line = verifier.verify(FLOATING["token"], now=FLOATING["now"])
    armoured = verifier.verify(ARMOURED["armored"], now=ARMOURED["now"])
    assert armoured.product_id == one_line.product_id
    assert verifier.verify(FLOATING["token"].encode(), now=FLOATING["now"]) == one_line


def test_a_perpetual_license_verifies_with_the_system_clock():
    claims = Verifier(FLOATING["public_key_pem"]).verify(FLOATING["token"])
    assert claims.is_perpetual and not claims.has_feature("api")


def test_several_pinned_keys_are_accepted_as_a_list_or_one_text():
    keys = [FLOATING["public_key_pem"], OTHER_KEY["public_key_pem"]]
    for pinned in (keys, "".join(keys)):
        verifier = Verifier(pinned)
        verifier.verify(FLOATING["token"], now=FLOATING["now"])
        verifier.verify(OTHER_KEY["token"], now=OTHER_KEY["now"])


def test_a_bad_public_key_is_a_value_error_with_a_kind():
    with pytest.raises(ValueError) as raised:
        Verifier("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert isinstance(raised.value, InvalidInputError)
    assert raised.value.kind == "InvalidPublicKey"


def test_a_malformed_hardware_identifier_is_refused_when_the_host_is_made():
    with pytest.raises(InvalidInputError) as raised:
        Host(hardware_identifier="A|B|C|D|E")
    assert raised.value.kind == "InvalidHardwareIdentifier"


def test_the_binding_is_checked_only_by_verify_on():
    verifier = Verifier(HARDWARE["public_key_pem"])
    claims = verifier.verify(HARDWARE["token"], now=HARDWARE["now"])
    assert claims.binding.kind == "hardware" and claims.binding.min_match == 2
    elsewhere = Host(hardware_identifier="AA:BB:CC:DD:EE:01|WD-OTHER|BOARD-2|CPU-2")
    with pytest.raises(LicenseError) as raised:
        verifier.verify_on(HARDWARE["token"], elsewhere, now=HARDWARE["now"])
    assert raised.value.kind == "HardwareMismatch"
    with pytest.raises(LicenseError) as raised:
        verifier.verify_on(HARDWARE["token"], Host(), now=HARDWARE["now"])
    assert raised.value.kind == "MissingHardwareIdentifier"


def test_the_expected_product_is_checked():
    verifier = Verifier(FLOATING["public_key_pem"])
    with pytest.raises(LicenseError) as raised:
        verifier.verify(FLOATING["token"], now=FLOATING["now"], product="00301-999999-0--0")
    assert raised.value.kind == "WrongProduct"


def test_a_negative_time_is_refused():
    with pytest.raises(InvalidInputError):
        Verifier(FLOATING["public_key_pem"]).verify(FLOATING["token"], now=-1)


def test_claims_from_elsewhere_cannot_be_checked_for_revocation():
    verifier = Verifier(FLOATING["public_key_pem"])
    claims = verifier.verify(FLOATING["token"], now=FLOATING["now"])
    forged = koolicense_verify.Claims.from_dict(claims.as_dict())
    with pytest.raises(InvalidInputError):
        verifier.check_revocation("klr1.AAAA", forged)
    with pytest.raises(LicenseError) as raised:
        verifier.check_revocation(FLOATING["token"], claims)
    assert raised.value.kind == "WrongObjectKind"
    with pytest.raises(LicenseError) as raised:
        verifier.verify_status(FLOATING["token"], claims, nonce="n-1")
    assert raised.value.kind == "WrongObjectKind"


def test_this_machine_is_a_host_or_says_why_not():
    try:
        host = this_machine(system_identifier="KM-SYS-1")
    except MachineUnreadableError as e:
        assert e.kind == "MachineUnreadable"
        return
    assert host.hardware_identifier and "|" in host.hardware_identifier
    assert host.system_identifier == "KM-SYS-1"
    Host(hardware_identifier=host.hardware_identifier)


def test_one_verifier_serves_many_threads():
    verifier = Verifier(FLOATING["public_key_pem"])
    results = []

    def work():
        for _ in range(50):
            results.append(verifier.verify(FLOATING["token"], now=FLOATING["now"]).license_id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200 and len(set(results)) == 1


def test_the_native_version_is_reported():
    assert koolicense_verify.version().count(".") == 2


def test_test_licenses_are_refused_unless_allowed():
    with pytest.raises(LicenseError) as raised:
        Verifier(TEST_LICENSE["public_key_pem"]).verify(TEST_LICENSE["token"], now=TEST_LICENSE["now"])
    assert raised.value.kind == "TestLicense"
    allowing = Verifier(TEST_LICENSE["public_key_pem"], allow_test_licenses=True)
    assert allowing.verify(TEST_LICENSE["token"], now=TEST_LICENSE["now"]).test


def test_a_guarded_verification_refuses_a_clock_set_back_and_raises_the_mark(tmp_path):
    verifier = Verifier(FLOATING["public_key_pem"])
    file = MarkFile(tmp_path / "mark")
    mark = file.load()
    assert mark == ClockMark(0)
    now = FLOATING["now"]
    verifier.verify_guarded(FLOATING["token"], Host(), mark, now=now)
    assert mark.value == now
    file.store(mark)
    with pytest.raises(LicenseError) as raised:
        verifier.verify_guarded(FLOATING["token"], Host(), file.load(), now=now - 301)
    assert raised.value.kind == "ClockBehind"
    verifier.check_clock(file.load(), now=now - 300)


def test_a_corrupt_mark_file_is_an_error_not_a_reset(tmp_path):
    (tmp_path / "mark").write_text("yesterday")
    with pytest.raises(MarkFileError) as raised:
        MarkFile(tmp_path / "mark").load()
    assert raised.value.kind == "Io" and isinstance(raised.value, OSError)


def test_a_failed_guarded_verification_still_raises_the_mark():
    verifier = Verifier(FLOATING["public_key_pem"])
    mark = ClockMark(0)
    with pytest.raises(LicenseError):
        verifier.verify_guarded(FLOATING["token"], Host(), mark, now=1, product="another")
    assert mark.value == 1
