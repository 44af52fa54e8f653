"""Every ```python block of the README runs (blocks importing jieba or torch skip when those are absent)."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys):
    code = BLOCKS[index]
    for optional in ("jieba", "torch"):
        if re.search(rf"^import {optional}\b", code, flags=re.M):
            pytest.importorskip(optional)
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    if "print(output.shape, hn.shape)" in code:
        assert "(5, 32, 256) (1, 32, 256)" in out
