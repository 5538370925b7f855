"""Builds the package with the native verifier inside it.

`pip install bindings/python` runs `cargo build -p koolicense-verify-ffi` in the repository this
directory belongs to and puts the shared library next to the Python modules, so the installed
package needs nothing else at run time. Environment:

* ``KOOLICENSE_VERIFY_LIB``: use this already-built library instead of running cargo;
* ``KOOLICENSE_CARGO_PROFILE``: the cargo profile to build (default ``release``; CI uses ``dev``
  to reuse the test build).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
WORKSPACE = HERE.parent.parent


def library_file_name() -> str:
    if sys.platform == "win32":
        return "koolicense_verify_ffi.dll"
    if sys.platform == "darwin":
        return "libkoolicense_verify_ffi.dylib"
    return "libkoolicense_verify_ffi.so"


def build_library() -> Path:
    given = os.environ.get("KOOLICENSE_VERIFY_LIB")
    if given:
        return Path(given)
    if not (WORKSPACE / "verify-ffi" / "Cargo.toml").is_file():
        raise SystemExit(
            "koolicense-verify: build from the koolicense repository (bindings/python), "
            "or set KOOLICENSE_VERIFY_LIB to a built libkoolicense_verify_ffi"
        )
    profile = os.environ.get("KOOLICENSE_CARGO_PROFILE", "release")
    target = Path(os.environ.get("CARGO_TARGET_DIR", WORKSPACE / "target"))
    command = [
        os.environ.get("CARGO", "cargo"), "build", "--locked", "-p", "koolicense-verify-ffi",
        "--profile", profile, "--manifest-path", str(WORKSPACE / "Cargo.toml"),
    ]
    subprocess.run(command, check=True, env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    return target / ("debug" if profile == "dev" else profile) / library_file_name()


class BuildWithLibrary(build_py):
    """build_py that also puts the native library into the package."""

    def run(self) -> None:
        super().run()
        library = build_library()
        destination = Path(self.build_lib) / "koolicense_verify" / library_file_name()
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(library, destination)


class BinaryDistribution(Distribution):
    """The wheel carries a native library: tag it for this platform."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
