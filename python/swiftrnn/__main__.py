"""Command line: ``python -m swiftrnn demo`` runs the tutorial's examples; ``info`` prints build facts."""
from __future__ import annotations

import argparse
import platform
import sys
from typing import List, Optional

import numpy as np

import swiftrnn
from swiftrnn import _native, nn

# The tutorial's sentence (../shared/seed): segmented, deduplicated in order, embedded.
DEMO_TEXT = "北京冬奥的进度条已经过半，不少外国运动员在完成自己的比赛后踏上归途。"


def segment(text: str) -> List[str]:
    """jieba.lcut when jieba is installed, else single characters (with a note on stderr)."""
    try:
        import jieba
    except ImportError:
        print("note: jieba is not installed (pip install 'swiftrnn[jieba]'); segmenting into characters",
              file=sys.stderr)
        return list(text)
    jieba.setLogLevel(60)  # silence its "Building prefix dict" chatter
    return jieba.lcut(text)


def unique_in_order(tokens: List[str]) -> List[str]:
    """Deduplicate keeping first occurrences in order (the tutorial's list(set(...)) loses the order)."""
    return list(dict.fromkeys(tokens))


def demo() -> None:
    np.set_printoptions(precision=4, suppress=True)
    swiftrnn.manual_seed(0)

    print("== 1. Word embeddings: nn.Embedding(num_embeddings=len(unique_words), embedding_dim=4)")
    words = segment(DEMO_TEXT)
    unique_words = unique_in_order(words)
    print("words:", "/".join(words))
    embed = nn.Embedding(num_embeddings=len(unique_words), embedding_dim=4)
    print(embed)
    for i, word in enumerate(unique_words):
        print(f"  {i:2d} {word}\t{embed([i])[0]}")

    print("\n== 2. The RNN layer: nn.RNN(input_size=128, hidden_size=256)")
    rnn = nn.RNN(input_size=128, hidden_size=256)
    inputs = np.random.default_rng(0).standard_normal((5, 32, 128)).astype(np.float32)
    hn = np.zeros((1, 32, 256), dtype=np.float32)
    output, hn = rnn(inputs, hn)
    print("inputs:", inputs.shape, " h0: (1, 32, 256)")
    print("output:", output.shape)
    print("hn:    ", hn.shape)

    print("\n== 3. Text generation: embedding -> RNN -> linear -> softmax -> most likely next word, fed back in")
    vocab = len(unique_words)
    embedding = nn.Embedding(vocab, 16)
    cell = nn.RNN(16, 32)
    fc = nn.Linear(32, vocab)
    token, h = 0, None
    generated = [unique_words[token]]
    for _ in range(8):
        out, h = cell(embedding([[token]]), h)        # x: (seq_len=1, batch=1, 16)
        probs = nn.functional.softmax(fc(out[-1]), dim=-1)
        token = int(probs[0].argmax())
        generated.append(unique_words[token])
    print("greedy steps from", repr(unique_words[0]) + ":", " ".join(generated))
    print("(an untrained model: the words are arbitrary until it is trained)")


def info() -> None:
    print(f"swiftrnn {swiftrnn.__version__}")
    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"numpy {np.__version__}")
    print(f"simd {_native.simd_level()}")
    print(f"threads {swiftrnn.get_num_threads()}")
    print(f"abi {_native.abi_version()}")
    print(f"machine {platform.machine()}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swiftrnn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the tutorial's examples: embeddings, the RNN layer, greedy generation")
    sub.add_parser("info", help="print version, SIMD level, threads and build facts")
    args = parser.parse_args(argv)
    {"demo": demo, "info": info}[args.command]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
