"""Reliability: many Python threads on one module.

Concurrent forward calls on shared modules give exactly the serial results; the GIL is released while
the core computes (other Python threads run meanwhile); changing the thread count while others compute
is safe. The speedup itself is measured by benchmarks/threads.py, not here (timing on a shared 2-core
machine is no unit test).

Shared state and its rules (documented here, relied on by these tests):
  - forward calls only read the parameters: any number may run at once on one module;
  - Embedding with max_norm rewrites rows of its weight: it keeps the GIL, so such calls are serialised;
  - load_state_dict / parameter assignment while another thread runs forward on the same module is a
    data race on the values (as in torch): the other call may see old, new or mixed values, never
    freed memory (it holds references to the arrays it reads);
  - set_num_threads is one process-wide atomic setting.
"""
from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn

F = nn.functional


def run_threads(n, target):
    """Runs target(i) in n threads started together; re-raises the first exception."""
    barrier = threading.Barrier(n)
    errors = []

    def body(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.fixture(params=[1, 2])
def num_threads(request):
    before = swiftrnn.get_num_threads()
    swiftrnn.set_num_threads(request.param)
    yield request.param
    swiftrnn.set_num_threads(before)


def test_concurrent_forward_equals_serial(num_threads):
    rng = np.random.default_rng(0)
    emb = nn.Embedding(50, 16)
    rnn = nn.RNN(16, 24, num_layers=2, bidirectional=True)
    fc = nn.Linear(48, 50)
    inputs = [rng.integers(0, 50, size=(int(rng.integers(1, 9)), int(rng.integers(1, 6)))) for _ in range(16)]
    h0s = [rng.standard_normal((4, ids.shape[1], 24)).astype(np.float32) for ids in inputs]

    def model(i):
        out, hn = rnn(emb(inputs[i]), h0s[i])
        return out, hn, F.log_softmax(fc(out), dim=-1)

    serial = [model(i) for i in range(len(inputs))]
    results = [[None] * len(inputs) for _ in range(8)]

    def work(t):
        for k in range(len(inputs)):
            i = (k + t) % len(inputs)
            results[t][i] = model(i)

    run_threads(8, work)
    for t in range(8):
        for i in range(len(inputs)):
            for got, want in zip(results[t][i], serial[i]):
                np.testing.assert_array_equal(got, want, err_msg=f"thread {t}, input {i}")


def test_concurrent_calls_with_errors_mixed_in():
    rnn = nn.RNN(4, 6)
    x = np.ones((3, 2, 4), np.float32)
    want = rnn(x)

    def work(t):
        for k in range(50):
            if (k + t) % 3 == 0:
                with pytest.raises(ValueError):
                    rnn(np.ones((3, 2, 5), np.float32))
            else:
                out, hn = rnn(x)
                np.testing.assert_array_equal(out, want[0])
                np.testing.assert_array_equal(hn, want[1])

    run_threads(6, work)


def test_max_norm_embedding_from_many_threads_is_serialised():
    """max_norm rewrites the weight in place; concurrent calls must give the same result as serial ones."""
    rng = np.random.default_rng(1)
    weight = (rng.standard_normal((30, 8)) * 3).astype(np.float32)
    a = nn.Embedding.from_pretrained(weight, max_norm=1.0)
    b = nn.Embedding.from_pretrained(weight, max_norm=1.0)
    idx = [rng.integers(0, 30, size=7) for _ in range(40)]
    serial = [a(i) for i in idx]

    def work(t):
        for i in idx[t::4]:
            b(i)

    run_threads(4, work)
    np.testing.assert_array_equal(a.weight, b.weight)
    for i, want in zip(idx, serial):
        np.testing.assert_array_equal(b(i), want)  # rows already renormalised: lookups are now stable


def test_set_num_threads_while_others_compute():
    before = swiftrnn.get_num_threads()
    rnn = nn.RNN(8, 16, num_layers=2)
    x = np.random.default_rng(2).standard_normal((6, 3, 8)).astype(np.float32)
    want = rnn(x)
    try:
        def work(t):
            for k in range(30):
                if t == 0:
                    swiftrnn.set_num_threads(1 + k % 4)
                out, hn = rnn(x)
                np.testing.assert_array_equal(out, want[0])
                np.testing.assert_array_equal(hn, want[1])

        run_threads(5, work)
    finally:
        swiftrnn.set_num_threads(before)


def test_gil_is_released_during_compute():
    """While one thread is inside a forward call, another Python thread keeps running.

    The spinning main thread time-stamps its progress; the computing thread records when each call
    starts and ends. With the GIL held inside the core, no time stamp could fall inside a call
    (except in its microseconds of Python prologue); released, they cover it densely. Independent of
    the kernels' speed and of the machine's load.
    """
    rnn = nn.RNN(64, 128)
    x = np.random.default_rng(3).standard_normal((20, 16, 64)).astype(np.float32)
    rnn(x)  # warm up
    done = threading.Event()
    calls = []

    def compute():
        start = time.perf_counter()
        while len(calls) < 3 or time.perf_counter() - start < 0.3:
            t0 = time.perf_counter()
            rnn(x)
            calls.append((t0, time.perf_counter()))
        done.set()

    stamps = []
    t = threading.Thread(target=compute)
    t.start()
    k = 0
    while not done.is_set():
        k += 1
        if k % 16 == 0:
            stamps.append(time.perf_counter())
    t.join()
    s = np.array(stamps)
    inside = total = 0.0
    for t0, t1 in calls:
        hits = s[(s > t0) & (s < t1)]
        total += t1 - t0
        if hits.size >= 2:
            inside += hits[-1] - hits[0]
    assert inside / total > 0.5, (f"another Python thread ran during only {inside / total:.0%} of the forward "
                                  f"calls ({len(calls)} calls, {total * 1e3:.0f} ms): is the GIL held?")


def test_concurrent_training_forward_backward_equals_serial():
    """Each thread's forward/backward pair works from its own forward (per-thread saved state), and
    gradient accumulation into shared parameters loses nothing (backward holds the gradient lock)."""
    rng = np.random.default_rng(5)

    def build():
        swiftrnn.manual_seed(3)
        return nn.Embedding(20, 6), nn.RNN(6, 10, num_layers=2, bidirectional=True), nn.Linear(20, 20), nn.CrossEntropyLoss()

    batches = [(rng.integers(0, 20, size=(4, 3)), rng.integers(0, 20, size=(4, 3))) for _ in range(8)]

    def step(model, ids, target):
        emb, rnn, fc, loss_fn = model
        out, _ = rnn(emb(ids))
        logits = fc(out)
        loss = loss_fn(logits.reshape(-1, 20), target.reshape(-1))
        g = fc.backward(loss_fn.backward().reshape(logits.shape))
        gx, _ = rnn.backward(g)
        emb.backward(gx)
        return loss

    serial, threaded = build(), build()
    rounds = 40
    serial_losses = [step(serial, *b) for _ in range(rounds) for b in batches]
    losses = [[] for _ in batches]

    def work(t):
        for _ in range(rounds):
            losses[t].append(step(threaded, *batches[t]))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: interleave the steps
    try:
        run_threads(len(batches), work)
    finally:
        sys.setswitchinterval(interval)
    np.testing.assert_allclose(sorted(v for ls in losses for v in ls), sorted(serial_losses), rtol=1e-6)
    for (name, a), b in zip(_named(threaded), [p for _, p in _named(serial)]):
        # the same 320 contributions summed in another order: equal up to float rounding, which
        # cancellation can make large relative to a small total (hence atol scaled to the array)
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-4, atol=2e-5 * float(np.abs(b.grad).max()), err_msg=name)


def _named(model):
    return [(f"{i}.{n}", p) for i, m in enumerate(model[:3]) for n, p in m.named_parameters()]
