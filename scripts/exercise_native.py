"""Calls every entry point of swiftrnn's native extension, on success and error paths, a few times each.

Small and quick: meant to run under valgrind or a sanitizer (scripts/valgrind_python.sh), where each
call costs ~50x more. Exits 0 if every call behaved (results checked against NumPy where cheap).
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading

import numpy as np

import swiftrnn
from swiftrnn import _native, nn, optim
from swiftrnn.models import RNNLanguageModel
from swiftrnn.text import Vocab

F = nn.functional
ERRORS = (ValueError, TypeError, IndexError, KeyError, OverflowError, MemoryError, RuntimeError)  # RuntimeError: load_state_dict, as torch


def expect_error(f):
    try:
        f()
    except ERRORS:
        return
    raise AssertionError(f"expected an error from {f}")


def main(rounds: int = 3) -> int:
    rng = np.random.default_rng(0)
    print("swiftrnn", swiftrnn.__version__, _native.abi_version(), _native.simd_level(), swiftrnn.get_num_threads())
    for r in range(rounds):
        swiftrnn.set_num_threads(1 + r % 2)
        # Embedding: plain, max_norm, every index dtype, 0-d, empty, errors
        emb = nn.Embedding(12, 5, padding_idx=0)
        ids = rng.integers(0, 12, size=(3, 4))
        np.testing.assert_array_equal(emb(ids), emb.weight[ids])
        for dt in (np.int8, np.uint8, np.int32, np.uint64, np.int64):
            emb(ids.astype(dt))
        emb(3), emb([]), emb(np.zeros((2, 0), np.int64))
        norm = nn.Embedding(12, 5, max_norm=1.0, norm_type=3.0)
        norm(ids)
        F.embedding(ids, np.ones((12, 5), np.float32))
        ro = np.ones((12, 5), np.float32)
        ro.flags.writeable = False
        F.embedding(ids, ro)
        for bad in (lambda: emb([12]), lambda: emb([-1]), lambda: emb([1.5]), lambda: emb(2**70),
                    lambda: emb(np.array([2**63], np.uint64)), lambda: emb(np.array([1, 2**70], dtype=object)),
                    lambda: emb("a"), lambda: norm([0, 99]), lambda: F.embedding([1], ro, max_norm=1.0)):
            expect_error(bad)

        # Linear: dtypes, layouts, leading shapes, no bias, zero sizes, errors
        lin = nn.Linear(6, 4)
        x = rng.standard_normal((2, 3, 6))
        np.testing.assert_allclose(lin(x), x @ lin.weight.T + lin.bias, rtol=1e-4, atol=1e-5)
        lin(x.astype(np.float16)), lin(np.asfortranarray(x[0])), lin(x[:, ::2]), lin([0.0] * 6)
        nn.Linear(6, 4, bias=False)(x), nn.Linear(0, 3)(np.zeros((2, 0))), nn.Linear(3, 0)(np.zeros((2, 3)))
        F.linear(x, np.ones((2, 6)), np.zeros(2))
        for bad in (lambda: lin(np.zeros((2, 5))), lambda: lin(np.float32(1)), lambda: lin(np.zeros((2, 6), complex)),
                    lambda: lin([[1.0] * 6, [1.0]]), lambda: lin(None)):
            expect_error(bad)

        # softmax / log_softmax: every dim, 0-d, empty, errors
        s = rng.standard_normal((3, 4, 5)).astype(np.float32)
        for d in range(-3, 3):
            np.testing.assert_allclose(F.softmax(s, d).sum(axis=d), 1, rtol=1e-5)
            F.log_softmax(s, d)
        F.softmax(np.float32(2), 0), F.softmax(np.zeros((0, 3)), 1)
        for bad in (lambda: F.softmax(s, 3), lambda: F.softmax(s, 1.5), lambda: F.softmax(["a"], 0),
                    lambda: _native.softmax(s, 2**70, False)):
            expect_error(bad)

        # RNN: layers, directions, batch_first, unbatched, h0, dropout masks, zero batch, errors
        for kw in (dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True, nonlinearity="relu"),
                   dict(num_layers=3, dropout=0.5, bias=False)):
            rnn = nn.RNN(4, 6, **kw)
            D, NL = (2 if rnn.bidirectional else 1), rnn.num_layers
            xb = rng.standard_normal((2, 5, 4) if rnn.batch_first else (5, 2, 4))
            out, hn = rnn(xb, np.zeros((D * NL, 2, 6)))
            rnn(xb[0] if not rnn.batch_first else xb[:, 0])  # unbatched
            rnn(np.zeros((0, 5, 4) if rnn.batch_first else (5, 0, 4)))
            rnn.eval()(xb)
            for bad in (lambda: rnn(xb, np.zeros((D * NL, 3, 6))), lambda: rnn(np.zeros((5, 2, 3))),
                        lambda: rnn(np.zeros((2, 0, 4)) if rnn.batch_first else np.zeros((0, 2, 4))),
                        lambda: rnn("x"), lambda: rnn(np.zeros((5, 2, 4), np.int32))):
                expect_error(bad)
        flat, desc = rnn._flat, rnn._desc
        masks = np.ones((2, 5, 2, 6), np.float32)
        _native.rnn_forward(np.zeros((5, 2, 4), np.float32), None, flat, desc, masks)
        for bad in (lambda: _native.rnn_forward(np.zeros((5, 2, 4), np.float32), None, flat, desc, np.ones(3, np.float32)),
                    lambda: _native.rnn_forward(np.zeros((5, 2, 4), np.float32), None, flat[:-1], desc, None),
                    lambda: _native.rnn_forward(np.zeros((1, 1, 0), np.float32), None, (), (0, 4, 2**61, 0, 1, 0, 1), None),
                    lambda: _native.rnn_forward(np.zeros((1, 1, 4), np.float32), None, (), (4, 4, 1, 9, 1, 0, 0), None),
                    lambda: _native.embedding_forward(np.zeros(3, np.float32), [0], None, 2.0),
                    lambda: _native.linear_forward(np.zeros((1, 2)), np.zeros((2, 2), np.float64), None)):
            expect_error(bad)
        # Packed weights (generation): the same results, and the size / shape / type errors
        per = 4 if rnn.bias else 2
        packed = tuple(_native.pack_weight(flat[i + j]) for i in range(0, len(flat), per) for j in (0, 1))
        xs = np.zeros((2, 5, 4) if rnn.batch_first else (5, 2, 4), np.float32)
        np.testing.assert_array_equal(_native.rnn_forward(xs, None, flat, desc, None, None, packed)[0],
                                      _native.rnn_forward(xs, None, flat, desc, None)[0])
        np.testing.assert_array_equal(_native.linear_forward(x[0], lin.weight, lin.bias, _native.pack_weight(lin.weight)),
                                      lin(x[0]))
        for mode, log in ((1, False), (2, True)):  # the fused Linear -> (log-)softmax, packed or not
            for pk in (None, _native.pack_weight(lin.weight)):
                np.testing.assert_array_equal(_native.linear_forward(x[0], lin.weight, lin.bias, pk, False, mode),
                                              _native.softmax(lin(x[0]), -1, log))
        expect_error(lambda: _native.linear_forward(x[0], lin.weight, lin.bias, None, False, 7))
        for bad in (lambda: _native.rnn_forward(xs, None, flat, desc, None, None, packed[::-1]),
                    lambda: _native.rnn_forward(xs, None, flat, desc, None, None, packed[:1]),
                    lambda: _native.rnn_forward(xs, None, flat, desc, None, None, packed * 9),
                    lambda: _native.pack_weight(np.zeros(3, np.float32)),
                    lambda: _native.linear_forward(x[0], lin.weight, lin.bias, packed[0])):
            expect_error(bad)

        # LSTM (projected) and GRU with packed weights, and one step of a few rows (W_hh read in place)
        for gated in (nn.LSTM(4, 6, 2, proj_size=3), nn.GRU(4, 6, 2, bidirectional=True)):
            gated.eval()
            gpacked = tuple(_native.pack_weight(w) for group in gated.all_weights for w in group[:2])
            c0 = np.ones((2, 2, 6), np.float32) if isinstance(gated, nn.LSTM) else None
            for steps in (5, 1):
                xg = np.ones((steps, 2, 4), np.float32)
                np.testing.assert_array_equal(_native.rnn_forward(xg, None, gated._flat, gated._desc, None, None,
                                                                  gpacked, c0)[0],
                                              _native.rnn_forward(xg, None, gated._flat, gated._desc, None, None,
                                                                  None, c0)[0])
            expect_error(lambda: _native.rnn_forward(xg, None, gated._flat, gated._desc, None, None, gpacked[::-1], c0))

        # Module state: state_dict, load_state_dict (success and all-or-nothing failure), huge sizes
        net = nn.RNN(3, 4, num_layers=2)
        net.load_state_dict({k: v * 0.5 for k, v in net.state_dict().items()})
        expect_error(lambda: net.load_state_dict({"weight_ih_l0": np.zeros((4, 3)), "bogus": 1}))
        expect_error(lambda: net.load_state_dict({k: "junk" for k in net.state_dict()}))
        for bad in (lambda: nn.Embedding(2**40, 2**20), lambda: nn.Embedding(2**62, 2), lambda: nn.RNN(2**31, 2**31),
                    lambda: nn.Linear(2**63, 1), lambda: swiftrnn.set_num_threads(0)):
            expect_error(bad)

        # Training: backward of every layer, cross-entropy, optimizers, clipping, error paths
        emb_t, rnn_t, fc_t = nn.Embedding(12, 5, padding_idx=0), nn.RNN(5, 6, num_layers=2, dropout=0.2), nn.Linear(6, 12)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=3)
        opts = [optim.SGD(emb_t.parameters(), lr=0.1, momentum=0.9, nesterov=True),
                optim.Adam(rnn_t.parameters(), lr=1e-3, amsgrad=True), optim.AdamW(fc_t.parameters(), lr=1e-3)]
        for step in range(2):
            out, _ = rnn_t(emb_t(ids))
            logits = fc_t(out)
            loss = loss_fn(logits.reshape(-1, 12), ids.reshape(-1))
            gx, _ = rnn_t.backward(fc_t.backward(loss_fn.backward().reshape(logits.shape)))
            emb_t.backward(gx)
            nn.utils.clip_grad_norm_(list(rnn_t.parameters()) + list(fc_t.parameters()), 1.0)
            nn.utils.clip_grad_value_(emb_t.parameters(), 0.5)
            for o in opts:
                o.step()
                o.zero_grad()
        for o in opts:
            o.load_state_dict(o.state_dict())
            expect_error(lambda: o.load_state_dict({"state": None, "param_groups": []}))
        nn.CrossEntropyLoss(reduction="none")(logits.reshape(-1, 12), ids.reshape(-1))
        for bad in (lambda: rnn_t.backward(np.ones((1, 1, 6))), lambda: loss_fn(logits.reshape(-1, 12), np.full(12, 99)),
                    lambda: fc_t.backward(np.ones((2, 2))), lambda: optim.SGD(fc_t.parameters(), lr=-1.0),
                    lambda: nn.utils.clip_grad_norm_(fc_t.parameters(), 1.0, norm_type="x")):
            try:
                bad()
            except (*ERRORS, RuntimeError):
                pass
            else:
                raise AssertionError(f"expected an error from {bad}")

        # Random: generators, states, fills
        g = swiftrnn.random.Generator().manual_seed(r)
        state = g.get_state()
        a = swiftrnn.rand(3, 4, generator=g)
        g.set_state(state)
        np.testing.assert_array_equal(a, swiftrnn.rand(3, 4, generator=g))
        swiftrnn.randn(700), swiftrnn.randint(0, 10, (5,)), swiftrnn.manual_seed(2**64 - 1)
        for bad in (lambda: g.set_state(b"short"), lambda: g.set_state(np.zeros(5056, np.uint8)),
                    lambda: swiftrnn.rand(-1), lambda: swiftrnn.randint(5, 2, (3,)), lambda: swiftrnn.manual_seed("x")):
            expect_error(bad)

        # Text: a model and vocabulary saved and loaded (atomic writes, checked loads)
        with tempfile.TemporaryDirectory() as d:
            vocab = Vocab.build(list("abcab"))
            lm = RNNLanguageModel(len(vocab), embedding_dim=4, hidden_size=5)
            lm.save(d, vocab=vocab, tokenizer="char")
            back = RNNLanguageModel.load(d)
            np.testing.assert_array_equal(back.fc.weight, lm.fc.weight)
            with open(os.path.join(d, "weights.npz"), "r+b") as f:
                f.seek(40)
                f.write(b"\x00\x01")
            expect_error(lambda: RNNLanguageModel.load(d))

        # A few threads at once (the GIL released around the core)
        results = []
        ts = [threading.Thread(target=lambda: results.append(rnn(xb)[0])) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert all(np.array_equal(results[0], o) for o in results)
    swiftrnn.set_num_threads(1)
    print("exercise_native: every entry point behaved")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
