#!/usr/bin/env bash
# Builds the wheel, installs it into a fresh venv and imports it + runs a forward with the Swift toolchain
# hidden (a tmpfs over its folder in a private mount namespace: needs root, as CI runs), so a wheel that
# still needs the toolchain at run time fails here.
#
#   scripts/check_wheel.sh            pip wheel . (in-tree build, reuses .build-python/: fast when warm)
#   scripts/check_wheel.sh --sdist    python -m build: the sdist, then the wheel built from that sdist
#                                     (a cold Swift build from the unpacked sdist: a minute or two more)
#
# Also checks the two .so files: no NEEDED Swift runtime (only libc, libm, libstdc++, libgcc_s), and $ORIGIN as the only run path.
# Environment: PYTHON (default python3), SWIFT_DIR (the folder to hide; default: the toolchain's root
# found from `swift` on PATH, e.g. /opt/swift).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
mode="${1:-wheel}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -z "${SWIFT_DIR:-}" ]; then
    swift_bin="$(readlink -f "$(command -v swift)")"          # /opt/swift/usr/bin/swift-driver
    SWIFT_DIR="$(dirname "$(dirname "$(dirname "$swift_bin")")")"   # /opt/swift
fi

echo "== building the wheel ($mode)"
if [ "$mode" = "--sdist" ]; then
    "$PYTHON" -m venv "$work/buildenv"
    "$work/buildenv/bin/pip" install -q build
    if ! "$work/buildenv/bin/python" -m build --outdir "$work/dist" . >"$work/build.log" 2>&1; then
        tail -40 "$work/build.log"; echo "FAIL: python -m build"; exit 1
    fi                                                               # sdist, then the wheel from the sdist
    listing="$(tar -tzf "$work"/dist/*.tar.gz)"
    for target in Sources/*/; do           # every Swift/C target of the checkout is in the sdist
        grep -q "^swiftrnn-[^/]*/${target}" <<<"$listing" || { echo "FAIL: the sdist has no $target"; exit 1; }
    done
    grep -q '^swiftrnn-[^/]*/Package.swift$' <<<"$listing" || { echo "FAIL: the sdist has no Package.swift"; exit 1; }
    echo "   $(basename "$(ls "$work"/dist/*.tar.gz)"): Package.swift and $(ls -d Sources/*/ | tr '\n' ' ')"
else
    rm -rf build    # setuptools' stale objects would otherwise skip the link and ship an old extension
    "$PYTHON" -m pip wheel -q --no-deps -w "$work/dist" .
fi
wheel="$(ls "$work"/dist/*.whl)"
echo "   $(basename "$wheel")"

echo "== contents"
mkdir "$work/unpacked" && (cd "$work/unpacked" && "$PYTHON" -m zipfile -e "$wheel" .)
for f in py.typed _native.pyi libswiftrnn_capi.so data/daodejing.txt; do
    [ -e "$work/unpacked/swiftrnn/$f" ] || { echo "FAIL: the wheel has no swiftrnn/$f"; exit 1; }
done
[ ! -e "$work/unpacked/swiftrnn/_csrc" ] || { echo "FAIL: the wheel carries the C sources"; exit 1; }
echo "   py.typed, _native.pyi, libswiftrnn_capi.so, data/; no _csrc/"

echo "== dynamic sections"
for so in "$work"/unpacked/swiftrnn/*.so; do
    dyn="$(readelf -d "$so")"
    # Only the system libraries every manylinux platform has, and the Swift core beside it.
    other="$(grep NEEDED <<<"$dyn" | sed 's/.*\[\(.*\)\]/\1/' \
             | grep -vE '^(libswiftrnn_capi\.so|libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$' || true)"
    if [ -n "$other" ]; then
        echo "FAIL: $(basename "$so") needs libraries a machine without the toolchain may lack: $other"; exit 1
    fi
    paths="$(grep -E 'RPATH|RUNPATH' <<<"$dyn" | sed 's/.*\[\(.*\)\]/\1/' || true)"
    if [ "$paths" != '$ORIGIN' ]; then
        echo "FAIL: $(basename "$so") run path is '$paths', expected '\$ORIGIN'"; exit 1
    fi
    echo "   $(basename "$so"): NEEDED $(grep NEEDED <<<"$dyn" | sed 's/.*\[\(.*\)\]/\1/' | tr '\n' ' ')RUNPATH $paths"
done

echo "== installing into a fresh venv"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel"

echo "== importing with $SWIFT_DIR hidden"
cat > "$work/smoke.py" <<'EOF'
import shutil
import numpy as np
import swiftrnn
from swiftrnn import nn

assert shutil.which("swift") is None, "the Swift toolchain is still visible"
swiftrnn.manual_seed(0)
rnn = nn.RNN(input_size=128, hidden_size=256)
output, hn = rnn(swiftrnn.randn(5, 32, 128), swiftrnn.zeros(1, 32, 256))
assert output.shape == (5, 32, 256) and hn.shape == (1, 32, 256) and np.isfinite(output).all()
print(f"   swiftrnn {swiftrnn.__version__} from {swiftrnn.__file__}: output {output.shape}, hn {hn.shape}")
EOF
cd "$work"   # not the repository: the installed package must be the one imported
unshare -m sh -c 'mount -t tmpfs none "$1" && shift && exec "$@"' sh "$SWIFT_DIR" \
    env PATH="$work/venv/bin:/usr/bin:/bin" "$work/venv/bin/python" "$work/smoke.py"
"$work/venv/bin/python" -m swiftrnn info
echo "OK: $(basename "$wheel") installs and runs without the Swift toolchain"
