"""The ctypes declarations agree with koolicense.h, so a changed C signature fails here rather
than corrupting memory at run time."""

import ctypes
import re

import pytest

from conftest import HEADER
from koolicense_verify import _native

# C types of the header, as the ctypes types that may stand for them.
C_TYPES = {
    "uint64_t": {ctypes.c_uint64},
    "uint32_t": {ctypes.c_uint32},
    "int32_t": {ctypes.c_int32},
    "size_t": {ctypes.c_size_t},
    "KoolicenseStatus": {ctypes.c_int32},
    "KoolicenseLicenseState": {ctypes.c_int32},
    "KoolicenseEntryStatus": {ctypes.c_int32},
    "bool": {ctypes.c_bool},
}


def header_text():
    text = HEADER.read_text(encoding="utf-8")
    return re.sub(r"//[^\n]*", "", text)


def prototypes():
    found = {}
    for ret, name, params in re.findall(r"([\w\s\*]+?)\b(koolicense_\w+)\(([^)]*)\);", header_text()):
        params = [" ".join(p.split()) for p in params.split(",") if p.strip() and p.strip() != "void"]
        found[name] = (" ".join(ret.split()), [p.rsplit(" ", 1)[0] if "*" not in p.rsplit(" ", 1)[-1] else p for p in params])
    return found


def c_type(declaration):
    """'const uint8_t *token' -> 'pointer'; 'uint64_t now' -> 'uint64_t'."""
    if "*" in declaration:
        return "pointer"
    return declaration.replace("const ", "").split()[0]


def matches(c_decl, ctypes_type):
    kind = c_type(c_decl)
    if kind == "struct":  # a structure returned by value
        return "Koolicense" + ctypes_type.__name__ == c_decl.split()[1]
    if kind == "pointer":
        return ctypes_type in (ctypes.c_void_p, ctypes.c_char_p) or issubclass(ctypes_type, ctypes._Pointer)
    return ctypes_type in C_TYPES.get(kind, set())


DECLARED = [name for name in prototypes() if getattr(_native.lib, name).argtypes is not None]


def test_every_declared_function_is_in_the_header():
    assert len(DECLARED) >= 15


@pytest.mark.parametrize("name", DECLARED)
def test_the_ctypes_signature_matches_the_header(name):
    ret, params = prototypes()[name]
    function = getattr(_native.lib, name)
    assert len(function.argtypes) == len(params), params
    for position, (declared, actual) in enumerate(zip(params, function.argtypes)):
        assert matches(declared, actual), f"argument {position}: {declared} vs {actual}"
    if ret == "void":
        assert function.restype is None
    else:
        assert matches(ret + " x", function.restype), f"return: {ret} vs {function.restype}"


@pytest.mark.parametrize("struct", [_native.StatusAnswer, _native.ListStamp, _native.RevocationEntry])
def test_the_ctypes_structures_match_the_header(struct):
    name = "Koolicense" + struct.__name__
    body = re.search(r"typedef struct " + name + r" \{([^}]*)\}", header_text()).group(1)
    fields = [line.strip().rstrip(";").rsplit(" ", 1) for line in body.strip().splitlines() if line.strip()]
    assert [f for f, _ in struct._fields_] == [field.split("[")[0] for _, field in fields]
    for (_, actual), (declared, field) in zip(struct._fields_, fields):
        if "[" in field:  # uint8_t name[16]
            length = int(field.split("[")[1].rstrip("]"))
            assert declared == "uint8_t" and actual._type_ is ctypes.c_uint8 and actual._length_ == length
        else:
            assert actual in C_TYPES[declared], f"{declared} vs {actual}"
