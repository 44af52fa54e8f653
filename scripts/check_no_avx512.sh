#!/usr/bin/env bash
# Proves that a run executes no AVX-512 instruction of ours: every function of a binary that holds an
# EVEX-encoded (AVX-512) instruction gets a gdb breakpoint, then the program runs; any hit fails.
#
#   scripts/check_no_avx512.sh BINARY [ARGS...]        e.g. with SWIFTRNN_SIMD=avx2 in the environment
#   scripts/check_no_avx512.sh --expect-hits BINARY [ARGS...]   the control: the run must hit one
#
# Why not an emulator: valgrind 3.19 (no AVX-512) dies inside libdispatch on the Swift test runner, and
# qemu-user 7.2 (-cpu Haswell) faults on a VMASKMOVPS whose mask is all zero (real CPUs do not), so
# neither runs the suite. EVEX (prefix byte 0x62) is how every AVX-512 instruction is encoded, zmm or
# not, and functions are entered at their first byte: a breakpoint there sees every AVX-512 path.
# Only the binary's own code is covered (glibc picks its string functions per CPU by itself).
set -euo pipefail
expect_hits=0
if [ "${1:-}" = "--expect-hits" ]; then expect_hits=1; shift; fi
binary="$1"; shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The start addresses (file offsets from the load base) of the functions holding an EVEX instruction.
objdump -d "$binary" | python3 -c '
import re, sys
start = name = None
found = {}
for line in sys.stdin:
    m = re.match(r"^([0-9a-f]+) <(.*)>:$", line)
    if m:
        start, name = int(m.group(1), 16), m.group(2)
        continue
    m = re.match(r"^\s+[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t\S", line)   # not the 2nd line of a long one
    if m and start is not None:
        code = [b for b in m.group(1).split()]
        while code and code[0] in ("66", "67", "f2", "f3", "2e", "3e", "26", "36", "64", "65"):
            code.pop(0)                                  # legacy prefixes may precede EVEX
        if code and code[0] == "62":                     # 0x62 in 64-bit mode: EVEX, always
            found[start] = name
for start, name in sorted(found.items()):
    print(f"{start:x} {name}")
' > "$work/evex.txt"
count="$(wc -l < "$work/evex.txt")"
[ "$count" -gt 0 ] || { echo "no_avx512: $binary has no AVX-512 code (nothing to check)"; exit 0; }
echo "== no_avx512: $count functions of $(basename "$binary") hold AVX-512 instructions; running it under gdb"

cat > "$work/check.py" <<'EOF'
import gdb
gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("handle SIGUSR1 SIGUSR2 SIGPIPE SIG33 SIG34 SIG35 nostop noprint pass")
gdb.execute("starti", to_string=True)
binary = gdb.current_progspace().filename
base = None
for line in gdb.execute("info proc mappings", to_string=True).splitlines():
    fields = line.split()
    if len(fields) >= 5 and fields[-1] == binary:
        base = int(fields[0], 16) - int(fields[3], 16)   # start - file offset
        break
assert base is not None, "load base of " + binary
names = {}
for line in open(gdb.convenience_variable("evex_list").string()):
    offset, name = line.split(" ", 1)
    address = base + int(offset, 16)
    names[address] = name.strip()
    gdb.Breakpoint("*0x%x" % address, internal=True)
hit = []
def stopped(event):
    if isinstance(event, gdb.BreakpointEvent):
        hit.append(names.get(int(gdb.selected_frame().pc()), "?"))
gdb.events.stop.connect(stopped)
gdb.execute("continue")
if hit:
    print("no_avx512: AVX-512 code ran: " + hit[0])
    gdb.execute("kill")
    gdb.execute("quit 3")
code = gdb.convenience_variable("_exitcode")
print("no_avx512: the program exited with %s and ran none of them" % code)
gdb.execute("quit %d" % (0 if code == 0 else 4))
EOF
set +e
gdb -q -nx -batch -ex "set \$evex_list = \"$work/evex.txt\"" -x "$work/check.py" --args "$binary" "$@" \
    > "$work/gdb.log" 2>&1
rc=$?
set -e
{ grep -aE "^no_avx512:|Test run with" "$work/gdb.log" || true; } | tail -n 3
if [ "$expect_hits" = 1 ]; then
    [ "$rc" = 3 ] || { tail -n 30 "$work/gdb.log"; echo "FAIL: expected the control run to reach AVX-512 code (gdb rc $rc)"; exit 1; }
    echo "no_avx512: control ok (the check sees AVX-512 code when it runs)"
else
    [ "$rc" = 0 ] || { tail -n 30 "$work/gdb.log"; echo "FAIL: gdb rc $rc"; exit 1; }
fi
