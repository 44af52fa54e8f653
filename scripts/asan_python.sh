#!/usr/bin/env bash
# The Python extension and the Swift core built with AddressSanitizer (+ LeakSanitizer at exit), then
# the given pytest arguments (default: the fuzz and reliability tests) run against them.
#
#   scripts/asan_python.sh [pytest args...]
#
# Builds into .build-asan-py/: the Swift library with -sanitize=address, the C extension with
# clang -fsanitize=address, assembled into a copy of python/swiftrnn there; python runs with the ASan
# runtime preloaded. Leak checking covers allocations made by our code only (CPython and NumPy keep
# memory until exit by design): LSan's suppressions below drop leaks reported inside the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="$PWD/.build-asan-py"
flags=(-c release --product swiftrnn_capi --scratch-path "$scratch/swift" -Xswiftc -sanitize=address)
echo "== asan: building the Swift core with -sanitize=address"
swift build "${flags[@]}" 2>&1 | { grep -v "ld.gold: warning: Cannot export local symbol" || true; } | tail -n 2
bin="$(swift build "${flags[@]}" --show-bin-path)"
cc="$(dirname "$(command -v swift)")/clang"
[ -x "$cc" ] || cc=clang

pkg="$scratch/pkg"
rm -rf "$pkg" && mkdir -p "$pkg"
cp -r python/swiftrnn "$pkg/"
rm -f "$pkg"/swiftrnn/*.so
suffix="$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
pyinc="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
npinc="$(python3 -c 'import numpy; print(numpy.get_include())')"
echo "== asan: building the C extension with -fsanitize=address"
"$cc" -shared -fPIC -g -O1 -fno-omit-frame-pointer -fsanitize=address -std=c11 -Wall -Wno-unused-parameter \
    -I"$pyinc" -I"$npinc" -I Sources/CSwiftRNN/include python/swiftrnn/_csrc/*.c \
    -L"$bin" -lswiftrnn_capi -Wl,-rpath,'$ORIGIN' -o "$pkg/swiftrnn/_native$suffix"
cp "$bin/libswiftrnn_capi.so" "$pkg/swiftrnn/"

runtime="$("$cc" -print-file-name=libclang_rt.asan-x86_64.so)"
cat > "$scratch/lsan.supp" <<'SUPP'
# CPython and NumPy allocations still held at exit (interned objects, module state, type caches).
leak:_PyObject_Malloc
leak:PyObject_Malloc
leak:_PyMem_RawMalloc
leak:PyMem_RawMalloc
leak:_PyObject_GC_New
leak:_PyObject_GC_NewVar
leak:PyType_GenericAlloc
leak:_PyObject_New
leak:libpython
leak:python3
leak:_multiarray_umath
leak:PyArray_
leak:npy_alloc
SUPP
python_bin="$(python3 -c 'import sys; print(sys.executable)')"   # the real binary: preload into Python only
asan_options="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}"
run_python() {
    env LD_PRELOAD="$runtime" ASAN_OPTIONS="$asan_options" LSAN_OPTIONS="suppressions=$scratch/lsan.supp:print_suppressions=0" \
        PYTHONMALLOC=malloc PYTHONPATH="$pkg" SWIFT_BACKTRACE=enable=no "$python_bin" "$@"
}
run_python -c 'import swiftrnn, sys; assert swiftrnn.__file__.startswith(sys.argv[1]), swiftrnn.__file__' "$pkg"
echo "== asan: scripts/exercise_native.py"
run_python scripts/exercise_native.py 2
if [ "$#" -eq 0 ]; then
    set -- python/tests/test_fuzz.py python/tests/test_rel_sizes.py python/tests/test_rel_atomicity.py \
        python/tests/test_rel_threads.py python/tests/test_errors.py python/tests/test_api.py -q -p no:cacheprovider
fi
echo "== asan: pytest $*"
run_python -m pytest "$@"
