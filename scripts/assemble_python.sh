#!/usr/bin/env bash
# An importable copy of python/swiftrnn built against an existing Swift build, without pip or another
# build of the core: the C extension compiled by clang (extra flags after OUT, e.g. -fsanitize=address)
# and linked to BIN/libswiftrnn_capi.so, which is copied beside it. CI runs the Python tests this way
# against its one ASan build (asan_python.sh) and its portable build.
#
#   scripts/assemble_python.sh BIN OUT [clang flags...]      then: PYTHONPATH=OUT python3 -m pytest ...
#
# BIN is a `swift build` bin folder holding libswiftrnn_capi.so; python3 is the interpreter to build for.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$1"; out="$2"; shift 2
cc="$(dirname "$(command -v swift)")/clang"
[ -x "$cc" ] || cc=clang
rm -rf "$out/swiftrnn" && mkdir -p "$out"
cp -r python/swiftrnn "$out/"
rm -rf "$out"/swiftrnn/*.so "$out/swiftrnn/_csrc" "$out"/swiftrnn/__pycache__
suffix="$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
pyinc="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
npinc="$(python3 -c 'import numpy; print(numpy.get_include())')"
"$cc" -shared -fPIC -g -std=c11 -Wall -Wno-unused-parameter "$@" \
    -I"$pyinc" -I"$npinc" -I Sources/CSwiftRNN/include python/swiftrnn/_csrc/*.c \
    -L"$bin" -lswiftrnn_capi -Wl,-rpath,'$ORIGIN' -o "$out/swiftrnn/_native$suffix"
cp "$bin/libswiftrnn_capi.so" "$out/swiftrnn/"
