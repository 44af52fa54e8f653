#!/usr/bin/env bash
# Runs scripts/exercise_native.py (every entry point of the extension, success and error paths) under
# valgrind memcheck with PYTHONMALLOC=malloc, and fails on any error or definite leak that involves
# swiftrnn's own code (a frame in _native*.so or libswiftrnn_capi.so). CPython and NumPy report their
# own uninitialised-value noise and leaks at exit under valgrind; those are counted, not failed on.
#
#   scripts/valgrind_python.sh [rounds=1]      (~1 min a round here)
#
# Uses the installed package, or python/ of this checkout if swiftrnn is not importable.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-1}"
command -v valgrind > /dev/null || { echo "valgrind: not installed (apt-get install valgrind)"; exit 1; }
python_bin="$(python3 -c 'import sys; print(sys.executable)')"   # the real binary, not a shim script
if ! python3 -c 'import swiftrnn' 2> /dev/null; then export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"; fi
out="$(mktemp -d)"
echo "== valgrind: $python_bin scripts/exercise_native.py $rounds"
PYTHONMALLOC=malloc SWIFT_BACKTRACE=enable=no valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --num-callers=50 --xml=yes --xml-file="$out/vg.xml" \
    "$python_bin" scripts/exercise_native.py "$rounds"
python3 scripts/valgrind_filter.py "$out/vg.xml"
