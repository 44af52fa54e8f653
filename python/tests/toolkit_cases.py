"""The module and loss configurations that make_toolkit_fixtures.py records from torch and test_toolkit.py
replays (torch-free: each case is an expression valid for both ``torch.nn`` and ``swiftrnn.nn`` as ``nn``)."""
from __future__ import annotations

import numpy as np

# (name, constructor, input shape)
MODULE_CASES = [
    ("relu", "nn.ReLU()", (4, 7)),
    ("leaky_relu", "nn.LeakyReLU(0.2)", (3, 2, 5)),
    ("tanh", "nn.Tanh()", (6,)),
    ("sigmoid", "nn.Sigmoid()", (2, 3, 4)),
    ("gelu", "nn.GELU()", (5, 9)),
    ("gelu_tanh", "nn.GELU(approximate='tanh')", (5, 9)),
    ("softmax_1", "nn.Softmax(dim=1)", (3, 5, 2)),
    ("softmax_neg", "nn.Softmax(dim=-1)", (4, 6)),
    ("log_softmax_0", "nn.LogSoftmax(dim=0)", (5, 3)),
    ("log_softmax_neg", "nn.LogSoftmax(dim=-1)", (2, 3, 8)),
    ("flatten", "nn.Flatten()", (2, 3, 4, 5)),
    ("flatten_1_2", "nn.Flatten(1, 2)", (2, 3, 4, 5)),
    ("identity", "nn.Identity()", (3, 4)),
    ("layer_norm", "nn.LayerNorm(6)", (4, 6)),
    ("layer_norm_2d", "nn.LayerNorm((3, 5), eps=1e-3)", (2, 4, 3, 5)),
    ("layer_norm_no_bias", "nn.LayerNorm(7, bias=False)", (3, 7)),
    ("layer_norm_plain", "nn.LayerNorm(4, elementwise_affine=False)", (5, 4)),
    ("seq_head", "nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 3))", (5, 6)),
]

# (name, constructor, input shape, kind): kind says how inputs and targets are drawn (see draw_loss_inputs)
LOSS_CASES = [
    ("mse", "nn.MSELoss()", (4, 3), "real"),
    ("mse_sum", "nn.MSELoss(reduction='sum')", (2, 3, 4), "real"),
    ("mse_none", "nn.MSELoss(reduction='none')", (5,), "real"),
    ("l1", "nn.L1Loss()", (4, 3), "real"),
    ("l1_none", "nn.L1Loss(reduction='none')", (3, 2), "real"),
    ("smooth_l1", "nn.SmoothL1Loss()", (6, 4), "real"),
    ("smooth_l1_beta", "nn.SmoothL1Loss(beta=0.3, reduction='sum')", (6, 4), "real"),
    ("smooth_l1_beta0", "nn.SmoothL1Loss(beta=0.0)", (6, 4), "real"),
    ("huber", "nn.HuberLoss()", (6, 4), "real"),
    ("huber_delta", "nn.HuberLoss(reduction='none', delta=0.4)", (3, 4), "real"),
    ("bce", "nn.BCELoss()", (5, 3), "prob"),
    ("bce_sum", "nn.BCELoss(reduction='sum')", (7,), "prob"),
    ("bce_weight", "nn.BCELoss(weight=np.array([0.5, 1.25, 2.0], np.float32), reduction='none')", (4, 3), "prob"),
    ("bce_logits", "nn.BCEWithLogitsLoss()", (5, 3), "logit"),
    ("bce_logits_pos", "nn.BCEWithLogitsLoss(pos_weight=np.array([0.5, 2.0, 3.0], np.float32))", (5, 3), "logit"),
    ("bce_logits_w_none", "nn.BCEWithLogitsLoss(weight=np.array([1.5, 0.2, 1.0], np.float32), reduction='none')", (2, 3), "logit"),
    ("nll", "nn.NLLLoss()", (6, 5), "nll"),
    ("nll_sum", "nn.NLLLoss(reduction='sum')", (4, 3), "nll"),
    ("nll_weight", "nn.NLLLoss(weight=np.array([0.2, 1.0, 2.0, 0.7], np.float32))", (5, 4), "nll"),
    ("nll_ignore", "nn.NLLLoss(ignore_index=1)", (8, 3), "nll"),
    ("nll_none_3d", "nn.NLLLoss(reduction='none')", (2, 4, 3), "nll"),
    ("nll_unbatched", "nn.NLLLoss()", (5,), "nll"),
    ("ce", "nn.CrossEntropyLoss()", (4, 6), "nll"),
]


class _TorchArrays:
    """``np.array(values, np.float32)`` for torch's side of a case: a float32 tensor."""

    float32 = np.float32

    def __init__(self, torch):
        self.torch = torch

    def array(self, values, dtype):
        return self.torch.tensor(np.array(values, dtype))


def build(expr, nn, torch=None):
    """The module ``expr`` describes, from ``nn`` (swiftrnn's, or torch's when ``torch`` is given: its array
    arguments become tensors)."""
    return eval(expr, {"nn": nn, "np": np if torch is None else _TorchArrays(torch)})


def draw_loss_inputs(rng, shape, kind):
    """(input, target) float32/int64 arrays for a loss case."""
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "real":
        return x * 2, rng.standard_normal(shape).astype(np.float32)
    if kind == "prob":
        return rng.uniform(0.02, 0.98, shape).astype(np.float32), rng.uniform(0, 1, shape).astype(np.float32)
    if kind == "logit":
        return x * 3, (rng.uniform(0, 1, shape) > 0.5).astype(np.float32)
    # "nll": log-probabilities over dim 1 (dim 0 unbatched), class-index targets
    axis = 1 if len(shape) > 1 else 0
    logp = x - np.log(np.exp(x).sum(axis=axis, keepdims=True))
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    return logp.astype(np.float32), rng.integers(0, shape[axis], tshape).astype(np.int64)
