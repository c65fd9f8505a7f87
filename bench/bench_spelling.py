#!/usr/bin/env python3
"""Word beam search with and without the spelling model of out-of-vocabulary words
(:mod:`htr.charlm`): CER and WER per validation set for each (spelling weight, per-letter price)
pair, and the decoding time per line.

    python bench/bench_spelling.py --limit 300 --cache ~/.cache/htr/probs \
        --weights 0 0.5 1.0 --letter-prices -1.0 -0.5 0.0

The network's probabilities are computed once per set (and kept in ``--cache``); each setting
then decodes the same lines. Weight 0 with price -1.0 is word beam search as shipped before the
spelling model. French sets are decoded with the French lexicon, the others with the English one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from bench_decoders import probabilities, val_samples  # noqa: E402

from htr.charlm import DEFAULT_ORDER, SpellingModel  # noqa: E402
from htr.lexicon import Lexicon  # noqa: E402
from htr.metrics import cer, wer  # noqa: E402
from htr.wordbeam import word_beam_search_many  # noqa: E402

SETS = {  # spec -> lexicon language
    "iam-ondb:../shared/data/iam-ondb": "en",
    "folder:../shared/data/iam-lines": "en",
    "folder:../shared/data/iam-forms": "en",
    "pagexml:../shared/data/hooker": "en",
    "alto:../shared/data/copiste": "fr",
    "folder:../shared/data/kaggle-names": "en",
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/default"))
    p.add_argument("--data", nargs="*", default=list(SETS), help="validation sets, KIND:PATH")
    p.add_argument("--limit", type=int, default=300, help="lines per set, spread over it (0: all)")
    p.add_argument("--cache", type=Path, help="folder to keep the probabilities in between runs")
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    p.add_argument("--letter-prices", type=float, nargs="+", default=[-1.0, -0.5, 0.0])
    p.add_argument("--orders", type=int, nargs="+", default=[5], help="spelling model orders")
    p.add_argument("--blank-shift", type=float, default=0.0,
                   help="add this to the blank's logit of the model's output (what "
                        "`python -m htr blank-offset` would ship), applied to its probabilities")
    args = p.parse_args()

    lexicons = {"en": Lexicon.load(args.model / "lexicon.npz"), "fr": Lexicon.load(args.model / "lexicon-fr.npz")}
    settings = [(0.0, -1.0, 0)] + [(w, c, o) for o in args.orders for w in args.weights
                                   for c in args.letter_prices if w > 0]
    print("| set | lines | " + " | ".join(f"w {w} / letter {c}" + (f" / order {o}" if w and len(args.orders) > 1 else "")
                                         for w, c, o in settings) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in settings) + " |")
    trained: dict = {}
    for spec in args.data:
        samples = val_samples(spec, args.limit or None)
        probs, charset = probabilities(args.model, spec, samples, args.cache)
        if args.blank_shift:  # the same as shifting the logit: blank scaled, each frame renormalised
            probs = [p * np.where(np.arange(p.shape[1]) == 0, np.exp(args.blank_shift), 1.0) for p in probs]
            probs = [p / p.sum(1, keepdims=True) for p in probs]
        lexicon = lexicons[SETS.get(spec, "en")]
        refs = [s.text for s in samples]
        cells = []
        for weight, price, order in settings:
            if weight:  # the decoder asks the lexicon for its model of the default order
                key = (SETS.get(spec, "en"), order)
                if key not in trained:
                    trained[key] = SpellingModel.train(lexicon.words, lexicon.trie.alphabet, order)
                lexicon.__dict__["_spelling_models"] = {DEFAULT_ORDER: trained[key]}
            start = time.process_time()
            recs = word_beam_search_many(probs, charset, lexicon, oov_char_logp=price,
                                         spelling_weight=weight)
            ms = (time.process_time() - start) * 1000 / len(samples)
            hyps = [r.text for r in recs]
            cells.append(f"{100 * cer(refs, hyps):.2f} / {100 * wer(refs, hyps):.1f} ({ms:.1f} ms)")
        print(f"| {spec.split('/')[-1]} | {len(samples)} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
