"""Reads valgrind's XML report; exits 1 if an error or a definite leak has a frame in swiftrnn's code.

    python3 scripts/valgrind_filter.py vg.xml [pattern ...]   (default patterns: _native, libswiftrnn_capi)
"""
import re
import sys
import xml.etree.ElementTree as ET


def main(path, patterns):
    root = ET.parse(path).getroot()
    ours, noise = [], 0
    pattern = re.compile("|".join(re.escape(p) for p in patterns))
    for error in root.iter("error"):
        kind = error.findtext("kind", "")
        frames = [f for stack in error.iter("stack") for f in stack.iter("frame")]
        if any(pattern.search(f.findtext("obj", "") + " " + f.findtext("file", "")) for f in frames):
            what = error.findtext("what") or error.findtext("xwhat/text", "")
            where = [f"{f.findtext('fn', '?')} ({f.findtext('file') or f.findtext('obj', '?')}:{f.findtext('line', '')})"
                     for f in frames[:12]]
            ours.append(f"{kind}: {what}\n    " + "\n    ".join(where))
        else:
            noise += 1
    states = [s.findtext("state") for s in root.iter("status")]
    status = states[-1] if states else None
    print(f"valgrind: {len(ours)} error(s) in swiftrnn's code; {noise} elsewhere (CPython/NumPy/loader, ignored); "
          f"run {status or 'unknown'}")
    for e in ours:
        print(e)
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:] or ["_native", "libswiftrnn_capi"]))
