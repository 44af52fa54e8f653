#!/usr/bin/env python3
"""Writes the GEMM micro-kernels, one non-inlined function per tile shape:
Sources/SwiftRNNAVX512/Generated/GEMMTilesAVX512.swift (AVX-512, 16-lane vectors, up to 12 rows x 2-8 panels)
and Sources/SwiftRNN/Generated/GEMMTilesAVX2.swift (AVX2, 8-lane vectors, 6 rows x 1 panel and the edge shapes).

Each tile of R rows x P panels is written out in full: R*P accumulators as named locals (`c<r>_<q>`),
the P op(B) vectors and R broadcasts of op(A) per k step as straight-line statements. Named locals are what
keeps every accumulator in a zmm register from the first load of C to the last store; an array of
accumulators (even an InlineArray with constant indices) made LLVM zero it in memory with memset and
move it through the stack before and after the k loop, a fixed cost per tile that short k loops (the
recurrent step of a small RNN, kc = 64...128) feel. The chains are those of Kernel512.swift's header.
Rerun after changing this script (CI reruns it and fails if the files differ from it):

    python3 scripts/gen_gemm_tiles.py
"""
import pathlib

MAX_ROWS = 12      # rows 0..<6 from micro-panel a0, 6..<12 from a1
MAX_ACCUMULATORS = 24  # of the 32 zmm registers: the rest hold op(B) vectors and broadcasts
MAX_PANELS = 8     # wider tiles only help one-row GEMMs, which are bound by reading op(B)
# AVX2: the 6 x 1 main tile, and for the leftover rows (1...5) tiles of up to EDGE_PANELS[rows] panels,
# enough for at least eight accumulator chains within 12 of the 16 ymm registers. The generated
# `edgePanels(rows:)` carries this table to GEMM.swift's `gemmBlocked`.
EDGE_PANELS = {5: 1, 4: 1, 3: 2, 2: 3, 1: 6}
AVX2_SHAPES = [(6, 1)] + [(r, p) for r, widest in EDGE_PANELS.items() for p in range(1, widest + 1)]


def tile_widths(rows: int) -> list:
    """Panel counts a tile of `rows` rows comes in: the widest that fits, then 4, 2, 1 for the rest."""
    widest = min(MAX_PANELS, MAX_ACCUMULATORS // rows)
    return sorted({widest} | {p for p in (4, 2, 1) if p < widest}, reverse=True)


def tile_body(r: int, p: int, lanes: int = 16, full: bool = False) -> list:
    """The statements of tile R x P (inside a function with the tile parameters): 16-lane vectors, one per
    panel, rows 0..<6 from a0 and 6..<12 from a1 (AVX-512); or 8-lane vectors, two per panel, every row
    from a0 (AVX2, at most 6 rows). With `full`, every column is valid (`cols` is not read): the
    partial loads and stores are not in the code at all, whether or not LLVM inlines it."""
    per = 16 // lanes  # vectors per panel
    vec = "F16" if lanes == 16 else "F8"
    suffix = "" if lanes == 16 else "8"
    acc = [[f"c{i}_{q}" for q in range(p * per)] for i in range(r)]
    def at(base: str, i: int, q: int) -> str:  # row i, vector q of C
        return " + ".join([base] + ([f"{i} * ldc"] if i else []) + ([f"{lanes * q}"] if q else []))
    # valid<q>: columns of vector q that C has (all, or fewer in the last panel, 0 past it).
    out = []
    for q in range(p * per):
        if full:
            out.append(f"    let valid{q} = {lanes}")
            out.append(f"    let bias{q} = bias.map {{ load{lanes}({at('$0', 0, q)}, valid{q}) }}")
        else:
            out.append(f"    let valid{q} = cols >= {lanes * (q + 1)} ? {lanes} : max(0, cols - {lanes * q})")
            out.append(f"    let bias{q} = valid{q} > 0 ? bias.map {{ load{lanes}({at('$0', 0, q)}, valid{q}) }} : nil")
    for i in range(r):
        for q in range(p * per):
            out.append(f"    var {acc[i][q]} = chainStart{suffix}({at('c', i, q)}, valid{q}, load, bias{q})")
    out += ["    var ap0 = a0"] + (["    var ap1 = a1"] if r > 6 else ["    _ = a1"] if lanes == 16 else [])
    out += ["    var bp = b", "    for _ in 0..<kc {"]
    def load_b(q: int) -> str:
        panel, half = divmod(q, per)
        terms = ([] if panel == 0 else ["panelStride"] if panel == 1 else [f"{panel} * panelStride"])
        terms += [f"{lanes * half}"] if half else []
        src = " + ".join(["bp"] + terms)
        return f"        let b{q} = UnsafeRawPointer({src}).loadUnaligned(as: {vec}.self)"

    def broadcast(i: int) -> str:
        ptr, k = ("ap0", i) if i < 6 else ("ap1", i - 6)
        index = f"{k} * rsA" if k > 1 else "rsA" if k else "0"
        return f"        let x{i} = {vec}(repeating: {ptr}[{index}])"

    def fma(i: int, q: int) -> str:
        return f"        {acc[i][q]} = {acc[i][q]}.addingProduct(x{i}, b{q})"
    # Whichever operand has fewer vectors per k step is loaded first and held: with the 24 accumulators
    # that is at most 24 + min(R, P) + 1 live zmm registers (R + P + 24 would spill at 4 x 6).
    v = p * per
    if v <= r:
        out += [load_b(q) for q in range(v)]
        for i in range(r):
            out += [broadcast(i)] + [fma(i, q) for q in range(v)]
    else:
        out += [broadcast(i) for i in range(r)]
        for q in range(v):
            out += [load_b(q)] + [fma(i, q) for i in range(r)]
    out += ["        ap0 += csA"] + (["        ap1 += csA"] if r > 6 else []) + ["        bp += rsB", "    }"]
    for i in range(r):
        for q in range(v):
            out.append(f"    chainStore{suffix}({acc[i][q]}, {at('c', i, q)}, valid{q})")
    return out


def tile_function(name: str, params: str, leading_args: str, body: list, full_body: list, panels: int) -> list:
    """A non-inlined tile `name` over two bodies: `{name}_full` when all of its 16·panels columns are valid
    (every tile but a row's last), `{name}_partial` otherwise; each called with rsA == 1 as a constant
    (packed A, a micro-panel row's values adjacent) or any rsA. The full body has no partial loads and
    stores in it: when they were one body with `cols` as an argument, LLVM kept some call sites out of
    line (the in-place rows of a recurrent step among them), where the constant did not reach, and kept
    all accumulators on the stack around the partial calls. `leading_args` is the call's arguments up
    to csA, with `{rsA}` where rsA goes."""
    def by_rsA(body_name: str) -> list:  # the body called with rsA == 1 as a constant, or any rsA
        def call(rsA: str) -> str:
            return f"            {body_name}({leading_args.format(rsA=rsA)}, b, rsB, panelStride, c, ldc, cols, load, bias)"
        return ["        if rsA == 1 {  // packed A: a micro-panel row's values are adjacent", call("1"),
                "        } else {", call("rsA"), "        }"]
    return [
        "@inline(never)",
        f"func {name}({params}) {{",
        f"    if cols >= {16 * panels} {{",
        *by_rsA(f"{name}_full"),
        "    } else {",
        *by_rsA(f"{name}_partial"),
        "    }",
        "}",
        "",
        "@inline(__always)",
        f"private func {name}_full({params}) {{",
        *full_body,
        "}",
        "",
        "@inline(__always)",
        f"private func {name}_partial({params}) {{",
        *body,
        "}",
        "",
    ]


def main() -> None:
    out = [
        "// Generated by scripts/gen_gemm_tiles.py, do not edit. One function per AVX-512 tile shape (see there).",
        "",
        "/// The widest tile for `rows` (1...12) rows that covers at most `panelsLeft` (>= 1) panels.",
        "public func avx512TileWidth(rows: Int, panelsLeft: Int) -> Int {",
        "    switch rows {",
    ]
    for r in range(1, MAX_ROWS + 1):
        widths = tile_widths(r)
        cond = " : ".join(f"panelsLeft >= {w} ? {w}" for w in widths[:-1])
        out.append(f"    case {r}: return {cond} : 1" if cond else f"    case {r}: return 1")
    out += ["    default: return 1", "    }", "}", ""]
    out += [
        "/// The tile of `rows` rows × `panels` panels; `panels` as chosen by `avx512TileWidth(rows:panelsLeft:)`.",
        "@inline(__always)",
        "func tile512Function(rows: Int, panels: Int) -> Tile512 {",
        "    switch (rows, panels) {",
    ]
    names = []
    for r in range(1, MAX_ROWS + 1):
        for p in tile_widths(r):
            names.append((r, p))
            out.append(f"    case ({r}, {p}): return tile512_{r}x{p}")
    out += ["    default: return tile512_1x1", "    }", "}", ""]
    params = ("_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int,\n"
              "    _ csA: Int, _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int, _ c: UnsafeMutablePointer<Float>,\n"
              "    _ ldc: Int, _ cols: Int, _ load: Bool, _ bias: UnsafePointer<Float>?")
    for r, p in names:
        out += tile_function(f"tile512_{r}x{p}", params, "kc, a0, a1, {rsA}, csA", tile_body(r, p),
                             tile_body(r, p, full=True), p)
    root = pathlib.Path(__file__).resolve().parent.parent
    write_if_changed(root / "Sources/SwiftRNNAVX512/Generated/GEMMTilesAVX512.swift", out, f"{len(names)} tile shapes")
    write_if_changed(root / "Sources/SwiftRNN/Generated/GEMMTilesAVX2.swift", avx2_tiles(), f"{len(AVX2_SHAPES)} tile shapes")


def write_if_changed(path: pathlib.Path, lines: list, what: str) -> None:
    """Writes only a changed file: rewriting the same text would make SwiftPM rebuild every module using it."""
    text = "\n".join(lines).rstrip() + "\n"
    if path.exists() and path.read_text() == text:
        print(f"unchanged {path} ({what})")
        return
    path.write_text(text)
    print(f"wrote {path} ({what})")


def avx2_tiles() -> list:
    out = [
        "// Generated by scripts/gen_gemm_tiles.py, do not edit. One function per AVX2 tile shape (see there).",
        "",
        "/// The AVX2 tile of `rows` rows × `panels` panels (a shape of `edgeKernel`, or 6 × 1).",
        "@inline(__always)",
        "func tile8Function(rows: Int, panels: Int) -> Tile8 {",
        "    switch (rows, panels) {",
    ]
    out += [f"    case ({r}, {p}): return tile8_{r}x{p}" for r, p in AVX2_SHAPES]
    out += ["    default: return tile8_1x1", "    }", "}", ""]
    out += [
        "/// Panels an edge tile of `rows` (1...5) rows covers at most: enough for at least eight accumulator",
        "/// chains (12 ymm accumulators at most).",
        "@inline(__always)",
        "func edgePanels(rows: Int) -> Int {",
        "    switch rows {",
        *[f"    case {r}: return {p}" for r, p in sorted(EDGE_PANELS.items())],
        "    default: return 1",
        "    }",
        "}",
        "",
    ]
    params = ("_ kc: Int, _ a0: UnsafePointer<Float>, _ rsA: Int, _ csA: Int, _ b: UnsafePointer<Float>,\n"
              "    _ rsB: Int, _ panelStride: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,\n"
              "    _ bias: UnsafePointer<Float>?")
    for r, p in AVX2_SHAPES:
        out += tile_function(f"tile8_{r}x{p}", params, "kc, a0, {rsA}, csA", tile_body(r, p, lanes=8),
                             tile_body(r, p, lanes=8, full=True), p)
    return out


if __name__ == "__main__":
    main()
