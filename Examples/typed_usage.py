"""swiftrnn from typed code: this file passes ``mypy --strict`` (python/tests/test_packaging.py checks it).

Run it: ``python Examples/typed_usage.py``. It builds the tutorial's embedding -> RNN -> linear model,
trains it for a few steps on a toy sequence and greedily generates a few tokens, with every value typed.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import numpy.typing as npt

import swiftrnn
from swiftrnn import nn, optim

FloatArray = npt.NDArray[np.float32]


class TinyLM:
    """Embedding -> RNN -> Linear, trained with explicit backwards (swiftrnn has no autograd graph)."""

    def __init__(self, vocab_size: int, embedding_dim: int = 8, hidden_size: int = 16) -> None:
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = nn.RNN(embedding_dim, hidden_size)
        nn.init.orthogonal_(self.rnn.weight_hh_l0)        # torch.nn.init's values after the same seed
        self.fc = nn.Linear(hidden_size, vocab_size)
        self.params: List[nn.Parameter] = [*self.embedding.parameters(), *self.rnn.parameters(),
                                           *self.fc.parameters()]

    def forward(self, ids: npt.NDArray[np.int64], h: Optional[FloatArray] = None) -> Tuple[FloatArray, FloatArray]:
        out, hn = self.rnn(self.embedding(ids), h)        # out: (L, N, H), hn: (1, N, H)
        return self.fc(out), hn                           # logits: (L, N, V)

    def train_step(self, x: npt.NDArray[np.int64], y: npt.NDArray[np.int64], optimizer: optim.Optimizer,
                   criterion: nn.CrossEntropyLoss) -> float:
        optimizer.zero_grad()
        logits, _ = self.forward(x)
        vocab = logits.shape[-1]
        loss = float(criterion(logits.reshape(-1, vocab), y.reshape(-1)))
        grad: FloatArray = criterion.backward().reshape(logits.shape)
        grad_x, _grad_h0 = self.rnn.backward(self.fc.backward(grad))
        self.embedding.backward(grad_x)
        total_norm = nn.utils.clip_grad_norm_(self.params, max_norm=1.0)
        assert np.isfinite(total_norm)
        optimizer.step()
        return loss


def generate(model: TinyLM, start: int, steps: int) -> List[int]:
    tokens = [start]
    h: Optional[FloatArray] = None
    rnn: nn.RNN = model.rnn.eval()                        # eval() returns the module, typed as an RNN
    assert rnn is model.rnn
    with swiftrnn.no_grad():                              # nothing saved for backward, as under torch.no_grad()
        for _ in range(steps):
            logits, h = model.forward(swiftrnn.tensor([[tokens[-1]]]), h)
            probs: FloatArray = nn.functional.softmax(logits[-1], dim=-1)
            tokens.append(int(probs[0].argmax()))
    return tokens


def main() -> None:
    swiftrnn.manual_seed(0)
    data = np.array([0, 1, 2, 3, 4] * 6, dtype=np.int64)
    x, y = data[:-1, None], data[1:, None]                # (L, N=1): each token predicts the next
    model = TinyLM(vocab_size=5)
    optimizer = optim.Adam(model.params, lr=0.05)
    criterion = nn.CrossEntropyLoss()
    losses = [model.train_step(x, y, optimizer, criterion) for _ in range(60)]
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    print("generated:", generate(model, 0, 8))
    noise: FloatArray = swiftrnn.randn(2, 3)
    state: dict[str, FloatArray] = model.rnn.state_dict()
    print(noise.shape, sorted(state), swiftrnn.__version__, swiftrnn.get_num_threads())


if __name__ == "__main__":
    main()
