#!/usr/bin/env bash
# Issue 7's CI jobs, each bounded: the Swift tests under AddressSanitizer and ThreadSanitizer, a
# libFuzzer run over the C ABI, valgrind memcheck of the Python extension, and the Python fuzz and
# reliability tests against an ASan build of the extension. ~10 min on the 2-core CI machine.
#
#   scripts/ci_reliability.sh [fuzz_seconds=60]
#
# Run from a checkout, with python3 able to import numpy, pytest and hypothesis (CI's venv).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds="${1:-60}"
export SWIFT_BACKTRACE=enable=no
step() {
    local name="$1"; shift
    local start=$SECONDS
    echo "== reliability: $name"
    "$@"
    echo "== reliability: $name passed in $((SECONDS - start)) s"
}
# swift test's XCTest runner leaks a few objects of its own at exit (LSan): Swift Testing only.
# Global initialisers' arrays are reported as leaks by LSan (spare-bit tagged pointers): suppressed.
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-swift-tests.supp:print_suppressions=0"
step "swift test --sanitize=address" swift test --sanitize=address --scratch-path .build-asan --disable-xctest
unset LSAN_OPTIONS
step "swift test --sanitize=thread" swift test --sanitize=thread --scratch-path .build-tsan --disable-xctest
step "libFuzzer over the C ABI (${fuzz_seconds} s)" scripts/fuzz.sh "$fuzz_seconds"
step "valgrind memcheck of the extension" scripts/valgrind_python.sh 1
step "Python fuzz and reliability tests under ASan" scripts/asan_python.sh
