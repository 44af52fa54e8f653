#!/usr/bin/env bash
# The Python extension and the Swift core built with AddressSanitizer, then the given pytest arguments
# (default: the fuzz and reliability tests) run against them: any out-of-bounds access, use after
# free or double free in our C or Swift code aborts the run.
#
#   scripts/asan_python.sh [pytest args...]
#
# Builds into .build-asan-py/: the Swift library with -sanitize=address (or takes the one in
# SWIFTRNN_ASAN_BIN=DIR, an existing -sanitize=address build: CI's one ASan build), the C extension with
# clang -fsanitize=address, assembled into a copy of python/swiftrnn there (scripts/assemble_python.sh);
# python runs with the ASan runtime preloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="$PWD/.build-asan-py"
if [ -n "${SWIFTRNN_ASAN_BIN:-}" ]; then
    bin="$SWIFTRNN_ASAN_BIN"
    echo "== asan: the Swift core of $bin"
else
    flags=(-c release --product swiftrnn_capi --scratch-path "$scratch/swift" -Xswiftc -sanitize=address)
    echo "== asan: building the Swift core with -sanitize=address"
    swift build "${flags[@]}" 2>&1 | { grep -v "ld.gold: warning: Cannot export local symbol" || true; } | tail -n 2
    bin="$(swift build "${flags[@]}" --show-bin-path)"
fi
cc="$(dirname "$(command -v swift)")/clang"
[ -x "$cc" ] || cc=clang

pkg="$scratch/pkg"
echo "== asan: building the C extension with -fsanitize=address"
scripts/assemble_python.sh "$bin" "$pkg" -O1 -fno-omit-frame-pointer -fsanitize=address

runtime="$("$cc" -print-file-name=libclang_rt.asan-x86_64.so)"
python_bin="$(python3 -c 'import sys; print(sys.executable)')"   # the real binary: preload into Python only
# Leaks are not checked here: every allocation under Python has interpreter frames, so LeakSanitizer
# cannot tell CPython's objects kept until exit from ours. valgrind_python.sh (definite leaks with a
# frame in our code), the RSS test and the refcount tests cover leaks.
asan_options="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:allocator_may_return_null=1}"
run_python() {
    env LD_PRELOAD="$runtime" ASAN_OPTIONS="$asan_options" PYTHONMALLOC=malloc PYTHONPATH="$pkg" SWIFT_BACKTRACE=enable=no "$python_bin" "$@"
}
run_python -c 'import swiftrnn, sys; assert swiftrnn.__file__.startswith(sys.argv[1]), swiftrnn.__file__' "$pkg"
echo "== asan: scripts/exercise_native.py"
run_python scripts/exercise_native.py 2
if [ "$#" -eq 0 ]; then
    set -- python/tests/test_fuzz.py python/tests/test_fuzz_training.py python/tests/test_rel_sizes.py \
        python/tests/test_rel_atomicity.py python/tests/test_training_api.py \
        python/tests/test_rel_threads.py python/tests/test_errors.py python/tests/test_api.py -q -p no:cacheprovider
fi
echo "== asan: pytest $*"
run_python -m pytest "$@"
