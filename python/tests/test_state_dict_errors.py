"""load_state_dict raises torch's exception types with torch's messages (fixtures/state_dict_errors.json, written
by fixtures/make_state_dict_error_fixtures.py with torch), changes nothing when it raises, and returns torch's
``_IncompatibleKeys`` with ``strict=False``. Shapes print as NumPy tuples where torch prints ``torch.Size``."""
from __future__ import annotations

import importlib.util
import json
import os
import re

import numpy as np
import pytest

from swiftrnn import nn

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "fixtures", "state_dict_errors.json"), encoding="utf-8") as f:
    FIXTURES = json.load(f)
CASES = {c["name"]: c for c in FIXTURES["cases"]}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(6, 3)
        self.rnn = nn.RNN(3, 4, batch_first=True)
        self.fc = nn.Linear(4, 6)


def build(module):
    kind, args, kwargs = module
    return Net() if kind == "Net" else getattr(nn, kind)(*args, **kwargs)


def edited(state, edits):
    d = dict(state)
    for k in edits.get("drop", []):
        del d[k]
    for k, shape in edits.get("reshape", {}).items():
        d[k] = np.zeros(shape, np.float32)
    for k in edits.get("junk", []):
        d[k] = "abc"
    for k, shape in edits.get("add", {}).items():
        d[k] = np.zeros(shape, np.float32)
    return d


def comparable(message):
    """torch's message with its shapes as NumPy tuples, and what a value of the wrong kind was cut after
    'expected' (torch expects a tensor, swiftrnn any array of real numbers)."""
    def shape(m):
        dims = [d.strip() for d in m.group(1).split(",") if d.strip()]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
    message = re.sub(r"torch\.Size\(\[([^\]]*)\]\)", shape, message)
    return re.sub(r'(While copying the parameter named "[^"]*", expected) [^\n]*', r"\1 ...", message)


def state(m):
    return {k: v.copy() for k, v in m.state_dict().items()}


def check_case(case, ours):
    before = state(ours)
    d = edited(ours.state_dict(), case["edits"])
    if "raises" in case:
        with pytest.raises(Exception) as info:
            ours.load_state_dict(d, strict=case["strict"])
        assert type(info.value).__name__ == case["raises"]
        assert comparable(str(info.value)) == comparable(case["message"])
        after = ours.state_dict()
        for k, v in before.items():
            np.testing.assert_array_equal(after[k], v, err_msg=f"{k} changed by a failed load")
    else:
        result = ours.load_state_dict(d, strict=case["strict"])
        assert repr(result) == case["returns"]
        assert (result.missing_keys, result.unexpected_keys) == (case["missing_keys"], case["unexpected_keys"])
        missing, unexpected = result  # a 2-tuple, as torch's
        assert missing == case["missing_keys"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_load_state_dict_errors_match_torch(name):
    check_case(CASES[name], build(CASES[name]["module"]))


def test_a_read_only_parameter_fails_the_load_naming_it_and_changes_nothing():
    net = Net()
    before = state(net)
    net.fc.bias.flags.writeable = False
    sd = {k: v + 1 for k, v in net.state_dict().items()}
    with pytest.raises(RuntimeError, match=r'Error\(s\) in loading state_dict for Net:\n\t'
                                           r'While copying the parameter named "fc.bias", the parameter in the '
                                           r"current model is read-only"):
        net.load_state_dict(sd)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed by a failed load")


def test_not_a_mapping_is_torchs_type_error():
    with pytest.raises(TypeError, match=r"^Expected state_dict to be dict-like, got <class 'list'>\.$"):
        nn.Linear(2, 2).load_state_dict([("weight", np.zeros((2, 2)))])


def test_live_against_torch():
    torch = pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(
        "make_state_dict_error_fixtures", os.path.join(HERE, "fixtures", "make_state_dict_error_fixtures.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for name, module, strict, edits in gen.CASES:
        ref = gen.build(module)
        case = {"name": name, "module": list(module), "strict": strict, "edits": edits}
        try:
            result = ref.load_state_dict(gen.edited(ref.state_dict(), edits), strict=strict)
        except Exception as e:  # noqa: BLE001 - compared below
            case.update(raises=type(e).__name__, message=str(e))
        else:
            case.update(returns=repr(result), missing_keys=list(result.missing_keys),
                        unexpected_keys=list(result.unexpected_keys))
        check_case(case, build(case["module"]))
    assert torch.__version__
