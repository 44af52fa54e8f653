"""The core's next-token sampler (srnn_sample, `_native.sample`): greedy, temperature, top-k and top-p (nucleus),
deterministic for a given uniform draw, checked against the exact probabilities it should realise."""
import numpy as np
import pytest

from swiftrnn import _native

LOGITS = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float64)).astype(np.float32)
GRID = (np.arange(20000) + 0.5) / 20000   # uniform draws spread evenly over [0, 1)


def frequencies(logits, **rule):
    counts = np.zeros(len(logits))
    for u in GRID:
        counts[_native.sample(logits, False, rule.get("temperature", 1.0), rule.get("top_k"), rule.get("top_p"), u)] += 1
    return counts / len(GRID)


def test_the_draws_realise_softmax_of_logits_over_temperature():
    np.testing.assert_allclose(frequencies(LOGITS), [0.5, 0.3, 0.15, 0.05], atol=2e-4)
    p = np.exp(LOGITS / 0.5)
    np.testing.assert_allclose(frequencies(LOGITS, temperature=0.5), p / p.sum(), atol=2e-4)


def test_top_k_and_top_p_keep_the_most_likely_and_renormalise():
    np.testing.assert_allclose(frequencies(LOGITS, top_k=2), [0.625, 0.375, 0, 0], atol=2e-4)
    # top_p 0.75: 0.5 + 0.3 = 0.8 reaches it, so the two most likely remain
    np.testing.assert_allclose(frequencies(LOGITS, top_p=0.75), [0.625, 0.375, 0, 0], atol=2e-4)
    np.testing.assert_allclose(frequencies(LOGITS, top_p=0.45), [1, 0, 0, 0], atol=2e-4)
    np.testing.assert_allclose(frequencies(LOGITS, top_k=3, top_p=0.9), [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0],
                               atol=2e-4)


def test_greedy_ties_and_tiny_temperatures():
    logits = np.array([1.0, 3.0, 3.0, -2.0], np.float32)
    assert _native.sample(logits, True, 1.0, None, None, 0.99) == 1          # the first of equal maxima
    assert {_native.sample(logits, False, 1e-300, None, None, u) for u in (0.0, 0.4, 0.9)} <= {1, 2}
    assert _native.sample(logits, False, 1.0, 1, None, 0.999) == 1            # top_k=1: ties keep the lower index
    big = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    assert _native.sample(big, False, 1e-30, None, None, 0.7) == int(big.argmax())


@pytest.mark.parametrize("args, match", [
    ((np.array([0.0, np.nan], np.float32), False, 1.0, None, None, 0.5), "NaN or infinite"),
    ((np.array([0.0, np.inf], np.float32), True, 1.0, None, None, 0.5), "NaN or infinite"),
    ((LOGITS, False, 0.0, None, None, 0.5), "temperature must be a positive finite number"),
    ((LOGITS, False, float("inf"), None, None, 0.5), "temperature"),
    ((LOGITS, False, 1.0, 0, None, 0.5), "top_k must be at least 1"),
    ((LOGITS, False, 1.0, None, 0.0, 0.5), r"top_p must be in \(0, 1\]"),
    ((LOGITS, False, 1.0, None, None, 1.0), r"uniform draw must be in \[0, 1\)"),
    ((np.zeros(0, np.float32), False, 1.0, None, None, 0.5), "no logits"),
])
def test_bad_rules_and_rows_are_value_errors(args, match):
    with pytest.raises(ValueError, match=match):
        _native.sample(*args)


def test_the_same_draw_as_the_reference_formula():
    """The documented draw: e^((z - max) / T), running sums in index order, first above u * total."""
    rng = np.random.default_rng(1)
    for _ in range(200):
        logits = rng.standard_normal(50).astype(np.float32) * 3
        u, T = rng.random(), rng.uniform(0.3, 2)
        w = np.exp(((logits.astype(np.float64) - logits.max()) / T).astype(np.float32))
        cdf = np.cumsum(w.astype(np.float64))
        want = min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), len(w) - 1)
        assert _native.sample(logits, False, T, None, None, u) == want


def test_generate_samples_in_the_core_with_top_p():
    from swiftrnn.models import RNNLanguageModel
    import swiftrnn
    swiftrnn.manual_seed(0)
    m = RNNLanguageModel(30, embedding_dim=8, hidden_size=16)
    greedy = m.generate([1, 2], 12, greedy=True)
    # a nucleus smaller than the top token's probability keeps only the most likely token: greedy
    assert np.array_equal(m.generate([1, 2], 12, top_p=1e-6, seed=3), greedy)
    a, b = m.generate([1, 2], 12, top_p=0.9, seed=3), m.generate([1, 2], 12, top_p=0.9, seed=3)
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match=r"top_p must be a number in \(0, 1\]"):
        m.generate([1], 3, top_p=1.5)
