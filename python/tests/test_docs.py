"""Every fenced code block of README.md and docs/*.md runs here, and what it claims is checked.

How a block states what it does (write docs this way; the tests enforce it):

- ``# -> TEXT`` at the end of a line, or on a line of its own, claims one line of output. A block's
  claims, in order, must equal everything the block prints (stdout), line for line; ``...`` inside
  TEXT stands for any text (a measured speed, a path). A block that prints without claiming fails.
- Facts that are ranges or properties are plain ``assert`` statements in the block (``assert loss < 0.1``).
  Every block that runs claims or asserts something: running without checking is not enough.
- ```python blocks run in this process (``exec``, a fresh namespace, the current directory a temporary
  one, the random generator freshly and unpredictably seeded: a block that shows random values seeds
  them itself). ```sh blocks run in ``bash -euo pipefail`` in a temporary directory, with ``python``
  being the interpreter that runs these tests and importing the same swiftrnn.
- ``<!-- not-run: REASON -->`` on the line before a block: it cannot run in a test (it installs packages,
  builds for minutes, benchmarks). It is reported as a skip with its reason, and NOT_RUN below counts
  such blocks per page, so that one more is a deliberate change.
- ``<!-- needs: jieba -->`` (or torch, onnx, onnxruntime, distributed) before a block, or an ``import jieba`` / ``import torch`` line in a
  python block: the block is skipped when that module is absent, and runs when it is present.
- ``<!-- excerpt: PATH -->`` before a block: the block is a verbatim excerpt of PATH (a program that
  runs elsewhere, e.g. in CI); its lines must appear in PATH, in order and consecutively.
- ```text blocks are maps, not code: the path at the start of each line must exist in the repository.
- Any other fence language fails.

The pages themselves are checked too: relative links resolve, README links every page of docs/,
nothing refers to paths outside the repository, and Quick start's first block is the two commands.
"""
from __future__ import annotations

import contextlib
import io
import itertools
import os
import pathlib
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List

import pytest

import swiftrnn

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Blocks marked <!-- not-run: ... -->, per page (see the module docstring).
NOT_RUN = {
    "README.md": 1,                 # Quick start: installs and builds; CI runs exactly these commands
    "docs/development.md": 6,       # swift test, sanitizers, fuzzing, fixture generators: minutes each
    "docs/packaging.md": 2,         # wheels and sdist, the portable build
    "docs/performance.md": 1,       # the benchmarks
    "docs/swift.md": 1,             # swift run of the example package (a Swift build)
    "docs/training.md": 0,
    "docs/porting.md": 0,
    "docs/packed.md": 0,
    "docs/toolkit.md": 0,
    "docs/onnx.md": 0,
}

QUICK_START = ["pip install '.[jieba]' && python -m swiftrnn demo",
               "pip install pytest hypothesis && swift test && python -m pytest python/tests"]

OPTIONAL_MODULES = ("jieba", "torch", "onnx", "onnxruntime", "distributed")  # distributed: Dask's
CLAIM = re.compile(r"(?:^|\s)# -> ?(.*)$")
MARKER = re.compile(r"^<!--\s*(not-run|needs|excerpt):\s*(.*?)\s*-->$")


@dataclass
class Block:
    page: str           # path relative to the repository, e.g. "docs/porting.md"
    line: int           # line of the opening fence (1-based)
    lang: str
    code: str
    markers: Dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}:{self.lang}"

    @property
    def claims(self) -> List[str]:
        return [m.group(1).rstrip() for m in map(CLAIM.search, self.code.splitlines()) if m]

    def needs(self) -> List[str]:
        needed = [m.strip() for m in self.markers.get("needs", "").split(",") if m.strip()]
        if self.lang == "python":
            needed += [m for m in OPTIONAL_MODULES
                       if re.search(rf"^\s*(import|from) {m}\b", self.code, flags=re.M)]
        return needed


def parse(path: pathlib.Path) -> List[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(ROOT).as_posix()
    blocks: List[Block] = []
    i = 0
    while i < len(lines):
        opening = re.match(r"^```(\S*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        assert end is not None, f"{page}:{i + 1}: a fenced block that never closes"
        markers: Dict[str, str] = {}
        k = i - 1
        while k >= 0 and MARKER.match(lines[k].strip()):
            kind, value = MARKER.match(lines[k].strip()).groups()
            markers[kind] = value
            k -= 1
        blocks.append(Block(page, i + 1, opening.group(1), "\n".join(lines[i + 1:end]) + "\n", markers))
        i = end + 1
    return blocks


BLOCKS = [block for page in PAGES for block in parse(page)]
RUNNABLE = [b for b in BLOCKS if b.lang in ("python", "sh") and "not-run" not in b.markers
            and "excerpt" not in b.markers]


def matches(claim: str, line: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in claim.split("..."))
    return re.fullmatch(pattern, line) is not None


def check_output(block: Block, out: str) -> None:
    printed = out.splitlines()
    while printed and not printed[-1].strip():
        printed.pop()
    printed = [line.rstrip() for line in printed]
    claims = block.claims
    report = "\n".join(f"  claimed {c!r}\n  printed {p!r}" for c, p in itertools.zip_longest(claims, printed))
    assert len(printed) == len(claims) and all(map(matches, claims, printed)), (
        f"{block.id}: what the block prints is not what it claims (# -> ...):\n{report}")


def skip_unless_available(block: Block) -> None:
    for module in block.needs():
        assert module in OPTIONAL_MODULES, f"{block.id}: needs {module!r}, which is not an optional module"
        pytest.importorskip(module)


# --- the blocks -----------------------------------------------------------------------------------

@pytest.mark.parametrize("block", [b for b in RUNNABLE if b.lang == "python"], ids=lambda b: b.id)
def test_python_block(block, tmp_path, monkeypatch):
    skip_unless_available(block)
    monkeypatch.chdir(tmp_path)
    swiftrnn.seed()
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(block.code, block.id, "exec"), {"__name__": "__docs__"})
    finally:
        swiftrnn.set_grad_enabled(True)
    check_output(block, out.getvalue())


@pytest.mark.parametrize("block", [b for b in RUNNABLE if b.lang == "sh"], ids=lambda b: b.id)
def test_sh_block(block, tmp_path):
    skip_unless_available(block)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    # The swiftrnn these tests import, whatever the current directory.
    package_parent = str(pathlib.Path(swiftrnn.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH", "")]))
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=work, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{block.id} exited with {result.returncode}:\n{result.stderr[-3000:]}"
    check_output(block, result.stdout)


@pytest.mark.parametrize("block", [b for b in BLOCKS if "not-run" in b.markers], ids=lambda b: b.id)
def test_not_run_block(block):
    reason = block.markers["not-run"]
    assert len(reason.split()) >= 3, f"{block.id}: say why the block cannot run, not just that it does not"
    pytest.skip(f"not-run: {reason}")


@pytest.mark.parametrize("block", [b for b in BLOCKS if "excerpt" in b.markers], ids=lambda b: b.id)
def test_excerpt_block(block):
    source = ROOT / block.markers["excerpt"]
    assert source.is_file(), f"{block.id}: excerpt of {source}, which does not exist"
    want = [line.strip() for line in block.code.splitlines() if line.strip()]
    have = [line.strip() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert any(have[i:i + len(want)] == want for i in range(len(have) - len(want) + 1)), (
        f"{block.id}: the block is no longer a verbatim excerpt of {block.markers['excerpt']}")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "text"], ids=lambda b: b.id)
def test_text_block_paths_exist(block):
    for line in block.code.splitlines():
        first = line.split()[0] if line.strip() and not line.startswith(" ") else None
        if first:
            for path in first.split(","):
                assert (ROOT / path).exists(), f"{block.id}: {path} does not exist in the repository"


# --- the pages ------------------------------------------------------------------------------------

def test_every_block_is_accounted_for():
    counts = {page.relative_to(ROOT).as_posix(): 0 for page in PAGES}
    for block in BLOCKS:
        assert block.lang in ("python", "sh", "text", "swift"), f"{block.id}: unknown fence language"
        assert block.lang != "swift" or "excerpt" in block.markers or "not-run" in block.markers, (
            f"{block.id}: a Swift block must be an excerpt of a program that runs (<!-- excerpt: PATH -->)")
        counts[block.page] += "not-run" in block.markers
    assert counts == NOT_RUN, f"blocks marked not-run per page: {counts}; NOT_RUN says {NOT_RUN}"


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
def test_every_run_block_checks_something(block):
    assert block.claims or re.search(r"^\s*assert\b", block.code, flags=re.M), (
        f"{block.id} runs but claims nothing: add '# -> output' or an assert")


def test_quick_start_is_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    heading = lines.index("## Quick start") + 1
    first = next(b for b in parse(ROOT / "README.md") if b.line > heading)
    assert first.code.splitlines() == QUICK_START


def test_readme_fits_and_links_every_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for page in PAGES[1:]:
        assert f"]({page.relative_to(ROOT).as_posix()}" in readme, f"README does not link {page.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_resolve_inside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+://", target) or target.startswith("#"):
            continue
        resolved = (page.parent / target.split("#")[0]).resolve()
        assert ROOT in resolved.parents or resolved == ROOT, f"{page.name}: link outside the repository: {target}"
        assert resolved.exists(), f"{page.name}: broken link {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_pages_refer_to_nothing_outside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    for pattern in (r"\.\./shared", r"\bissue\s*#?\d+", r"\bissue's\b", r"\bthe issue\b", r"/work/", r"/home/"):
        hit = re.search(pattern, text, flags=re.I)
        assert hit is None, f"{page.name}: refers to something outside the repository: {hit.group(0)!r}"


def test_claims_are_checked():
    """The checker itself: a wrong, missing or extra line of output fails."""
    block = Block("x.md", 1, "python", "print(1)  # -> 1\nprint('a b c')  # -> a ... c\n")
    check_output(block, "1\na b c\n")
    for wrong in ("2\na b c\n", "1\n", "1\na b c\nmore\n", "1\nb c\n"):
        with pytest.raises(AssertionError):
            check_output(block, wrong)
