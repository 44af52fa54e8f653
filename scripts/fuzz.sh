#!/usr/bin/env bash
# Bounded fuzz run of the C ABI (fuzz/capi_fuzzer.c) against the Swift core built with AddressSanitizer.
#
#   scripts/fuzz.sh [seconds=60]
#
# libFuzzer: the Swift library is built with -sanitize=fuzzer,address (coverage counters + ASan, no
# fuzzer main in the library) into .build-fuzz/, the harness with clang -fsanitize=fuzzer,address.
# SWIFTRNN_ASAN_BIN=DIR uses the libswiftrnn_capi.so of an existing build instead (ci_reliability.sh's
# one ASan build, made with -sanitize=address and the same coverage counters).
# The corpus grows in .build-fuzz/corpus (kept between runs on one machine; starts empty in CI).
# A crash, sanitizer report, broken invariant, leak or hang (> 10 s for one input) fails the run and
# leaves the input in .build-fuzz/crash-* (replay: .build-fuzz/capi_fuzzer FILE).
# Without libFuzzer the same harness is built as a random driver (-DSRNN_FUZZ_STANDALONE) with ASan.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
scratch=.build-fuzz
flags=(-c release --product swiftrnn_capi --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address)

if [ -n "${SWIFTRNN_ASAN_BIN:-}" ]; then
    bin="$SWIFTRNN_ASAN_BIN"
    echo "== fuzz: the Swift core of $bin"
else
    echo "== fuzz: building the Swift core with -sanitize=fuzzer,address"
    # ld.gold warns once per ASan helper symbol ("Cannot export local symbol"): noise.
    swift build "${flags[@]}" 2>&1 | { grep -v "ld.gold: warning: Cannot export local symbol" || true; } | tail -n 3
    bin="$(swift build "${flags[@]}" --show-bin-path)"
fi
cc="$(dirname "$(command -v swift)")/clang"
[ -x "$cc" ] || cc=clang
common=(-g -O1 -I Sources/CSwiftRNN/include fuzz/capi_fuzzer.c -L"$bin" -lswiftrnn_capi -Wl,-rpath,"$bin")

export SWIFT_BACKTRACE=enable=no   # let ASan/libFuzzer report crashes, not the Swift runtime's backtracer
export SRNN_FUZZ_STATS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
mkdir -p "$scratch/corpus"
if "$cc" -fsanitize=fuzzer,address "${common[@]}" -o "$scratch/capi_fuzzer" 2> "$scratch/fuzzer-link.log"; then
    echo "== fuzz: libFuzzer, ${seconds} s"
    "$scratch/capi_fuzzer" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=3072 \
        -print_final_stats=1 -artifact_prefix="$scratch/" "$scratch/corpus" 2> "$scratch/fuzz.log" || {
        tail -n 60 "$scratch/fuzz.log"; echo "fuzz: FAILED (input saved as $scratch/crash-*)"; exit 1; }
    grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|^  [a-z_]+ +ok=|DONE" \
        "$scratch/fuzz.log" || true
else
    echo "== fuzz: libFuzzer unavailable ($(tail -n 1 "$scratch/fuzzer-link.log")); random driver with ASan, ${seconds} s"
    "$cc" -fsanitize=address -DSRNN_FUZZ_STANDALONE "${common[@]}" -o "$scratch/capi_fuzz_standalone"
    "$scratch/capi_fuzz_standalone" "$seconds" "${FUZZ_SEED:-$RANDOM}"
fi
echo "fuzz: passed"
