#!/usr/bin/env bash
# Proves that a run executes no AVX-512 instruction of ours: every function that holds an EVEX-encoded
# (AVX-512) instruction, in the program and in the given shared libraries, gets a gdb breakpoint, then the
# program runs; any hit fails the check, as an AVX2-only CPU would fail the run with SIGILL.
#
#   scripts/check_no_avx512.sh [--expect-hits] [--lib LIB.so]... -- PROGRAM [ARGS...]
#
#   SWIFTRNN_SIMD=avx2 scripts/check_no_avx512.sh -- .build/debug/swiftrnnPackageTests.xctest --testing-library swift-testing
#   SWIFTRNN_SIMD=avx2 scripts/check_no_avx512.sh --lib "$(python3 -c 'import swiftrnn, os; print(os.path.dirname(swiftrnn.__file__))')/libswiftrnn_capi.so" -- python3 -m pytest ...
#
# --expect-hits is the control: the run must reach AVX-512 code (without SWIFTRNN_SIMD, on an AVX-512 CPU).
# Fails if the program fails, or on a hit (with --expect-hits: if nothing is hit).
#
# Why not an emulator: valgrind 3.19 (no AVX-512) dies inside libdispatch on the Swift test runner, and
# qemu-user 7.2 (-cpu Haswell) faults on a VMASKMOVPS whose mask is all zero (real CPUs do not), so
# neither runs the suite. EVEX (prefix byte 0x62 in 64-bit mode) is how every AVX-512 instruction is
# encoded, zmm or not, and functions are entered at their first byte: a breakpoint there sees every
# AVX-512 path. Only the given objects are covered (glibc picks its string functions per CPU by itself).
set -euo pipefail
expect_hits=0
libs=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --expect-hits) expect_hits=1; shift ;;
        --lib) libs+=("$(readlink -f "$2")"); shift 2 ;;
        --) shift; break ;;
        *) echo "usage: $0 [--expect-hits] [--lib LIB.so]... -- PROGRAM [ARGS...]"; exit 2 ;;
    esac
done
program="$(command -v "$1")"; shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Per object: "OBJECT<TAB>OFFSET<TAB>NAME" for each function holding an EVEX instruction (OFFSET from
# the object's load base, as objdump prints addresses of a position-independent object).
for object in "$(readlink -f "$program")" "${libs[@]}"; do
    # A stripped object shows only its exported symbols: internal functions would hide behind them.
    readelf -S "$object" | grep ' \.symtab ' > /dev/null || { echo "no_avx512: $object is stripped (use a debug build)"; exit 2; }
    objdump -d "$object" | OBJECT="$object" python3 -c '
import os, re, sys
start = name = None
found = {}
for line in sys.stdin:
    m = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
    if m:
        start, name = int(m.group(1), 16), m.group(2)
        continue
    m = re.match(r"^\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t\S", line)   # not the 2nd line of a long one
    if m and start is not None:
        code = m.group(1).split()
        while code and code[0] in ("66", "67", "f2", "f3", "2e", "3e", "26", "36", "64", "65"):
            code.pop(0)                                  # legacy prefixes may precede EVEX
        if code and code[0] == "62":
            found[start] = name
obj = os.environ["OBJECT"]
for start, name in sorted(found.items()):
    print(f"{obj}\t{start:x}\t{name}")
' >> "$work/evex.tsv"
done
count="$(wc -l < "$work/evex.tsv")"
echo "== no_avx512: $count functions hold AVX-512 instructions in $(cut -f1 "$work/evex.tsv" | sort -u | xargs -r -n1 basename | tr '\n' ' ')"

cat > "$work/check.py" <<'EOF'
import os
import gdb

gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("handle SIGUSR1 SIGUSR2 SIGPIPE SIG33 SIG34 SIG35 SIG36 nostop noprint pass")
functions = {}                                        # object -> [(offset, name)]
for line in open(gdb.convenience_variable("evex_list").string()):
    obj, offset, name = line.rstrip("\n").split("\t", 2)
    functions.setdefault(obj, []).append((int(offset, 16), name))
names = {}                                            # address -> name
armed = set()


def arm():
    """Breakpoints on the functions of every listed object mapped by now (each object once)."""
    mappings = gdb.execute("info proc mappings", to_string=True).splitlines()
    for obj, entries in functions.items():
        if obj in armed:
            continue
        for line in mappings:
            fields = line.split()
            if len(fields) >= 5 and os.path.realpath(fields[-1]) == obj:
                base = int(fields[0], 16) - int(fields[3], 16)   # start - file offset
                for offset, name in entries:
                    names[base + offset] = name
                    gdb.Breakpoint("*0x%x" % (base + offset), internal=True)
                armed.add(obj)
                break


hit = []


def stopped(event):
    if isinstance(event, gdb.BreakpointEvent):
        hit.append(names.get(int(gdb.selected_frame().pc()), "?"))


gdb.events.new_objfile.connect(lambda event: arm())  # a library loaded by dlopen (a Python extension)
gdb.events.stop.connect(stopped)
gdb.execute("starti", to_string=True)
arm()
gdb.execute("continue")
if hit:
    print("no_avx512: AVX-512 code ran: " + hit[0])
    gdb.execute("kill")
    gdb.execute("quit 3")
missing = sorted(set(functions) - armed)
if missing:
    print("no_avx512: never loaded, so not checked: " + " ".join(missing))
    gdb.execute("quit 4")
code = gdb.convenience_variable("_exitcode")
print("no_avx512: the program exited with %s and ran none of them" % code)
gdb.execute("quit %d" % (0 if code is not None and int(code) == 0 else 1))
EOF
set +e
gdb -q -nx -batch -ex "set \$evex_list = \"$work/evex.tsv\"" -x "$work/check.py" --args "$program" "$@" \
    > "$work/gdb.log" 2>&1
rc=$?
set -e
{ grep -aE "^no_avx512:|Test run with|^[0-9]+ passed|passed,|failed" "$work/gdb.log" || true; } | tail -n 4
if [ "$expect_hits" = 1 ]; then
    [ "$rc" = 3 ] || { tail -n 30 "$work/gdb.log"; echo "FAIL: the control run never reached AVX-512 code (rc $rc)"; exit 1; }
    echo "no_avx512: control ok (the check sees AVX-512 code when it runs)"
    exit 0
fi
[ "$rc" = 0 ] || { tail -n 30 "$work/gdb.log"; echo "FAIL: rc $rc"; exit "$rc"; }
