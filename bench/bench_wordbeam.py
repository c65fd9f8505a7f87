"""Word beam search alone: milliseconds per line over validation lines' network probabilities
(computed once and cached), with the shipped model's lexicon and the recognizer's beam width.

    python bench/bench_wordbeam.py [--lines 300] [--rounds 3] [--cache /tmp/htr-probs]
                                   [--batch 25] [--root OTHER_CHECKOUT] [--dump out.json]

Half the lines are IAM lines, half Hooker lines (validation split, as in training). Each round
decodes every line once; the median round is reported (wall clock and this process's CPU time).
``--batch N`` decodes N lines at a time with ``word_beam_search_many``, as a page's lines are
(1: one by one with ``word_beam_search``).
``--root`` times another checkout's ``htr.wordbeam`` on the same probabilities (an A/B in turns);
``--dump`` writes every reading (text, characters' frames and confidences) for
``bench/check_same_reading.py compare``-style diffs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", type=Path, default=HERE / "models" / "default")
    ap.add_argument("--data", type=Path, default=HERE.parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/htr-probs"))
    ap.add_argument("--root", type=Path, default=HERE, help="checkout whose htr.wordbeam is timed")
    ap.add_argument("--dump", type=Path, default=None)
    ap.add_argument("--batch", type=int, default=1, help="lines decoded together")
    args = ap.parse_args()
    sys.path.insert(0, str(args.root.resolve()))

    from htr.lexicon import Lexicon
    from htr.text import Charset
    from htr.wordbeam import word_beam_search

    charset = Charset.load(args.model / "charset.json")
    lexicon = Lexicon.load(args.model / "lexicon.npz")
    ids, probs = _probabilities(args)
    word_beam_search(probs[0], charset, lexicon)  # warm-up: the decoder's tables
    walls, cpus, out = [], [], {}
    for _ in range(args.rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        if args.batch > 1:
            from htr.wordbeam import word_beam_search_many

            recs = [r for i in range(0, len(probs), args.batch)
                    for r in word_beam_search_many(probs[i:i + args.batch], charset, lexicon)]
        else:
            recs = [word_beam_search(p, charset, lexicon) for p in probs]
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    for i, rec in zip(ids, recs):
        out[i] = {"text": rec.text, "confidence": rec.confidence,
                  "chars": [[c.char, c.start, c.end, c.confidence] for c in rec.chars]}
    n = len(probs)
    print(f"{args.root}: {n} lines, batch {args.batch} ({sum(len(p) for p in probs) / n:.0f} frames each), "
          f"{args.rounds} rounds: {statistics.median(walls) / n * 1000:.2f} ms per line wall "
          f"(rounds {', '.join(f'{w / n * 1000:.2f}' for w in walls)}), "
          f"{statistics.median(cpus) / n * 1000:.2f} ms CPU; load {os.getloadavg()[0]:.1f}")
    if args.dump:
        args.dump.write_text(json.dumps({"decoder": "wordbeam", "lines": out, "pages": {}}))
    return 0


def _probabilities(args: argparse.Namespace) -> tuple[list[str], list[np.ndarray]]:
    """Validation lines' probabilities, from the cache when this model computed them before."""
    from htr.readers import open_data, split_of

    half = args.lines // 2
    samples = []
    for spec, n in ((f"folder:{args.data}/iam-lines", half), (f"pagexml:{args.data}/hooker", args.lines - half)):
        samples += [s for s in open_data(spec) if split_of(s) == "val"][:n]
    ids = [s.id for s in samples]
    key = hashlib.md5(f"{args.model.resolve()}|{(args.model / 'model.keras').stat().st_mtime}|"
                      f"{ids}".encode()).hexdigest()[:12]
    path = args.cache / f"wordbeam-probs-{key}.npz"
    if path.exists():
        with np.load(path) as z:
            return ids, [z[f"p{i}"] for i in range(len(ids))]
    from htr.image import preprocess
    from htr.recognizer import Recognizer

    rec = Recognizer.load(args.model, "greedy")
    probs = rec.probabilities([preprocess(s.image(), rec.height) for s in samples])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"p{i}": p for i, p in enumerate(probs)})
    return ids, probs


if __name__ == "__main__":
    raise SystemExit(main())
