#!/usr/bin/env bash
# The language bindings' CI steps, run by .ci/run before the Rust tests:
# C header drift, the C vector test, the C and C++ start-up examples, pytest, the Java vector test.
#
# A missing toolchain prints a loud SKIP; with KOOLICENSE_REQUIRE_ALL=1 a skip fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
vectors=verify/tests/vectors/licenses.json
lib="$target/debug/libkoolicense_verify_ffi.a"
native_libs=(-lpthread -ldl -lm)

step() { printf '\n== %s\n' "$*"; }
skip() {
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
    printf '!!! SKIP: %s\n' "$*"
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
    if [ "${KOOLICENSE_REQUIRE_ALL:-}" = 1 ]; then
        echo "FAIL: KOOLICENSE_REQUIRE_ALL=1 turns this skip into a failure"
        exit 1
    fi
}

step "C header: include/koolicense.h is what cbindgen generates"
cargo test -q --locked -p koolicense-verify-ffi --test ffi header

cargo build -q --locked -p koolicense-verify-ffi
mkdir -p "$target/c"

step "C: every known-answer vector (licenses, v1, lists, answers, leases, activations) through the C ABI (C99, ASan/UBSan when available)"
if command -v cc >/dev/null; then
    c_flags=(-std=c99 -Wall -Wextra -Werror -pedantic -Iverify-ffi/include)
    for program in vectors objects seats; do
        sources=("verify-ffi/tests/c/$program.c" verify-ffi/tests/c/json.c)
        if ! cc "${c_flags[@]}" -g -fsanitize=address,undefined "${sources[@]}" "$lib" "${native_libs[@]}" \
            -o "$target/c/$program" 2>/dev/null; then
            echo "note: this cc cannot build with sanitizers; building $program without"
            cc "${c_flags[@]}" "${sources[@]}" "$lib" "${native_libs[@]}" -o "$target/c/$program"
        fi
    done
    "$target/c/vectors" "$vectors"
    "$target/c/vectors" --allow-test verify/tests/vectors/v1/licenses.json
    "$target/c/objects" verify/tests/vectors/revocations.json verify/tests/vectors/status.json
    "$target/c/seats" verify/tests/vectors/leases.json verify/tests/vectors/activations.json
    cc "${c_flags[@]}" verify-ffi/examples/startup_check.c "$lib" "${native_libs[@]}" -o "$target/c/startup_check_c"
else
    skip "no C compiler (cc): the C vector test did not run"
fi

step "C++: the header compiles as C++; the start-up example accepts a floating license, refuses a clock set back"
if command -v c++ >/dev/null; then
    c++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iverify-ffi/include verify-ffi/examples/startup_check.cpp \
        "$lib" "${native_libs[@]}" -o "$target/c/startup_check_cpp"
    # The first vector is a floating perpetual license signed with the test key the example pins.
    grep -m1 '"token": "kl1\.' "$vectors" | sed 's/.*"token": "\([^"]*\)".*/\1/' >"$target/c/floating.txt"
    rm -f "$target/c/clock-mark"
    APP_CLOCK_MARK_FILE="$target/c/clock-mark" "$target/c/startup_check_cpp" "$target/c/floating.txt"
    test -s "$target/c/clock-mark" || { echo "FAIL: the example did not keep its clock mark"; exit 1; }
    # A clock mark far in the future looks like a clock set back: the example must refuse.
    echo 99999999999 >"$target/c/clock-mark"
    if APP_CLOCK_MARK_FILE="$target/c/clock-mark" "$target/c/startup_check_cpp" "$target/c/floating.txt"; then
        echo "FAIL: the example ran with its clock behind the mark"
        exit 1
    fi
else
    skip "no C++ compiler (c++): the C++ example was not built"
fi

step "Python: pip install bindings/python, pytest runs every vector, mypy --strict checks the types"
if command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null; then
    [ -x "$target/pyenv/bin/python" ] || python3 -m venv "$target/pyenv"
    py="$(cd "$target" && pwd)/pyenv/bin/python"
    "$py" -m pip install -q --disable-pip-version-check pytest mypy
    KOOLICENSE_CARGO_PROFILE=dev "$py" -m pip install -q --disable-pip-version-check \
        --force-reinstall --no-deps ./bindings/python
    # Run from outside the source tree so the installed package (with its library) is tested.
    (cd "$target" && "$py" -m pytest -q -p no:cacheprovider "$OLDPWD/bindings/python/tests")
    (cd bindings/python && "$py" -m mypy --strict --no-incremental koolicense_verify)
else
    skip "no python3 with venv: the Python binding was not tested"
fi

step "Java: every known-answer vector through the JNA binding"
if command -v javac >/dev/null && [ -f "${JNA_JAR:-/usr/share/java/jna.jar}" ]; then
    bindings/java/build.sh test
else
    skip "no javac or no JNA (libjna-java): the Java binding was not tested"
fi
