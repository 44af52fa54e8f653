#!/usr/bin/env bash
# The reliability jobs, each bounded: the Swift tests under AddressSanitizer and ThreadSanitizer, a
# libFuzzer run over the C ABI, the Python fuzz and reliability tests against an ASan build of the
# extension, and valgrind memcheck of the installed extension.
#
#   scripts/ci_reliability.sh [fuzz_seconds=60]
#
# One ASan build serves three of them: the Swift tests, the fuzzer and Python link the same
# libswiftrnn_capi.so (-sanitize=address plus libFuzzer's coverage counters, which the ASan runtime
# answers when no fuzzer is linked). Both sanitizer builds are debug builds (testable imports) compiled
# with -O: the tests' own reference loops at -Onone made them 2-5x slower under the sanitizers than the
# optimiser costs to compile. The fuzzer, on one core, runs while the TSan build compiles. Run from a checkout, with python3 able to import numpy, pytest, hypothesis and
# the installed swiftrnn (CI's venv).
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
# ld.gold warns once per ASan helper symbol ("Cannot export local symbol"): noise.
quiet_build() { swift build "$@" 2>&1 | { grep -v "ld.gold: warning: Cannot export local symbol" || true; } | tail -n 2; }

asan=(--sanitize=address --scratch-path .build-asan -Xswiftc -O
      -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp)
step "ASan build (Swift tests, fuzzer, Python)" quiet_build --build-tests "${asan[@]}"
asan_bin="$(swift build "${asan[@]}" --show-bin-path)"

# swift test's XCTest runner leaks a few objects of its own at exit (LSan): Swift Testing only.
# Global initialisers' arrays are reported as leaks by LSan (spare-bit tagged pointers): suppressed.
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-swift-tests.supp:print_suppressions=0"
step "swift test under ASan" swift test --skip-build "${asan[@]}" --disable-xctest
unset LSAN_OPTIONS

mkdir -p .build-fuzz
SWIFTRNN_ASAN_BIN="$asan_bin" scripts/fuzz.sh "$fuzz_seconds" > .build-fuzz/run.log 2>&1 &
fuzz_pid=$!
trap 'kill "$fuzz_pid" 2> /dev/null || true' EXIT
echo "== reliability: libFuzzer over the C ABI (${fuzz_seconds} s) started, beside the TSan build"
step "swift test under TSan" swift test --sanitize=thread --scratch-path .build-tsan -Xswiftc -O --disable-xctest
fuzz_done() { wait "$fuzz_pid" || { cat .build-fuzz/run.log; return 1; }; cat .build-fuzz/run.log; }
step "libFuzzer over the C ABI (${fuzz_seconds} s; the rest of it)" fuzz_done

step "Python fuzz and reliability tests under ASan" env SWIFTRNN_ASAN_BIN="$asan_bin" scripts/asan_python.sh
step "valgrind memcheck of the extension" scripts/valgrind_python.sh 1
