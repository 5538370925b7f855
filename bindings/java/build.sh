#!/usr/bin/env bash
# Builds the Java binding with plain javac/jar (JNA from Debian's libjna-java or $JNA_JAR) and,
# with `test`, runs every known-answer vector through it.
#
#   bindings/java/build.sh          # target/java/koolicense-verify.jar
#   bindings/java/build.sh test     # ... then the vector and API tests
#
# Environment: JNA_JAR (default /usr/share/java/jna.jar), CARGO_PROFILE (default dev; the
# native library is built with cargo), CARGO_TARGET_DIR.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
jna="${JNA_JAR:-/usr/share/java/jna.jar}"
profile="${CARGO_PROFILE:-dev}"
target="${CARGO_TARGET_DIR:-$root/target}"
libdir="$target/$([ "$profile" = dev ] && echo debug || echo "$profile")"
out="$target/java"

[ -f "$jna" ] || { echo "JNA not found at $jna (apt-get install libjna-java, or set JNA_JAR)" >&2; exit 2; }
cargo build --locked -q -p koolicense-verify-ffi --profile "$profile"

rm -rf "$out/classes" "$out/test-classes"
javac --release 17 -Xlint:all -Werror -cp "$jna" -d "$out/classes" \
    $(find bindings/java/src/main/java -name '*.java')
jar --create --file "$out/koolicense-verify.jar" -C "$out/classes" .
echo "built $out/koolicense-verify.jar (native library: $libdir)"

if [ "${1:-}" = test ]; then
    javac --release 17 -Xlint:all -Werror -cp "$jna:$out/classes" -d "$out/test-classes" \
        $(find bindings/java/src/test/java -name '*.java')
    java -cp "$jna:$out/classes:$out/test-classes" -Djna.library.path="$libdir" \
        koolicense.verify.VectorsTest verify/tests/vectors
fi
