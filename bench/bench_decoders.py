#!/usr/bin/env python3
"""Greedy CTC decoding against word beam search: CER, WER and decoding time per line.

The network's probabilities are computed once per data set; every decoder then reads the same
matrices, so the table compares decoders only.

    python bench/bench_decoders.py --model runs/default \\
        --data iam-ondb:../shared/data/iam-ondb --data folder:../shared/data/iam-lines \\
        [--limit 150] [--beams 10 25 50] [--lexicon models/default/lexicon.npz] \\
        [--set lm_weight=0.8 --set oov_logp=-10] [--cache /tmp/probs] [--json out.json]

Validation samples only (``split_of(s) == "val"``, as in training). Without ``--lexicon`` the
English lexicon is built on the fly with the IAM form groups of the benchmarked samples left out
of its bigram corpus as well as the IAM test lists, so that IAM-OnDB's validation texts (LOB
sentences that IAM also holds) do not leak into the language model. ``iam-lines`` lines all come
from IAM's test lists; their scores are not comparable with published IAM test results.
Time is CPU time of this process per line (``time.process_time``), which a busy machine inflates
less than wall time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from htr.decode import greedy_decode  # noqa: E402
from htr.lexicon import Lexicon  # noqa: E402
from htr.metrics import cer, wer  # noqa: E402
from htr.readers import open_data, split_of  # noqa: E402
from htr.text import Charset  # noqa: E402
from htr.wordbeam import word_beam_search  # noqa: E402


def val_samples(spec: str, limit: int | None) -> list:
    samples = [s for s in open_data(spec) if split_of(s) == "val"]
    if limit and len(samples) > limit:  # spread over the set, not the first few forms
        step = len(samples) / limit
        samples = [samples[int(i * step)] for i in range(limit)]
    return samples


def probabilities(model: Path, spec: str, samples: list, cache: Path | None) -> tuple[list, Charset]:
    charset = Charset.load(model / "charset.json")
    key = hashlib.md5(f"{model.resolve()}|{(model / 'model.keras').stat().st_mtime}|{spec}|"
                      f"{[s.id for s in samples]}".encode()).hexdigest()[:12]
    path = cache / f"probs-{key}.npz" if cache else None
    if path and path.exists():
        with np.load(path) as z:
            return [z[f"p{i}"] for i in range(len(samples))], charset
    from htr.image import preprocess
    from htr.recognizer import Recognizer

    rec = Recognizer.load(model)
    probs = rec.probabilities([preprocess(s.image(None), rec.height) for s in samples])
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{f"p{i}": p.astype(np.float32) for i, p in enumerate(probs)})
    return probs, rec.charset


def run(decode, probs: list) -> tuple[list[str], float]:
    start = time.process_time()
    texts = [decode(p).text for p in probs]
    return texts, (time.process_time() - start) / max(len(probs), 1) * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", action="append", required=True, metavar="KIND:PATH")
    p.add_argument("--limit", type=int, default=150)
    p.add_argument("--beams", type=int, nargs="+", default=[10, 25, 50])
    p.add_argument("--lexicon", type=Path, help="a lexicon file (default: build one, see above)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a word_beam_search keyword argument, e.g. lm_weight=0.8")
    p.add_argument("--cache", type=Path, help="folder to keep the probabilities in between runs")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    params = {k: float(v) for k, v in (s.split("=", 1) for s in args.set)}

    sets = {spec: val_samples(spec, args.limit) for spec in args.data}
    if args.lexicon:
        lexicon = Lexicon.load(args.lexicon)
    else:
        groups = {s.group for samples in sets.values() for s in samples}
        lexicon = Lexicon.build(exclude_groups=groups)
        print(f"lexicon: {len(lexicon)} words, {lexicon.meta['corpus_lines']} corpus lines "
              f"({len(groups)} benchmarked groups left out)", file=sys.stderr)
    lexicon.trie  # built once, outside the timings
    rows = []
    for spec, samples in sets.items():
        probs, charset = probabilities(args.model, spec, samples, args.cache)
        refs = [s.text for s in samples]
        frames = np.mean([len(x) for x in probs])
        decoders = [("greedy", None, lambda x: greedy_decode(x, charset))]
        for bw in args.beams:
            decoders.append(("wordbeam", bw, lambda x, bw=bw: word_beam_search(
                x, charset, lexicon, beam_width=bw, **params)))
        for name, bw, decode in decoders:
            hyps, ms = run(decode, probs)
            rows.append({"data": spec.split(":")[0] + ":" + Path(spec.split(":", 1)[1]).name,
                         "decoder": name, "beam": bw, "n": len(samples), "frames": round(float(frames)),
                         "cer": cer(refs, hyps), "wer": wer(refs, hyps), "ms_per_line": ms})
            print(f"{rows[-1]['data']:<20} {name:<9} {bw or '-':>4}  CER {rows[-1]['cer']:.4f}  "
                  f"WER {rows[-1]['wer']:.4f}  {ms:6.1f} ms/line", file=sys.stderr, flush=True)
    print("| data | decoder | beam | n | frames/line | CER | WER | ms/line (CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['data']} | {r['decoder']} | {r['beam'] or '-'} | {r['n']} | {r['frames']} | "
              f"{r['cer']:.2%} | {r['wer']:.2%} | {r['ms_per_line']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"params": params, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
