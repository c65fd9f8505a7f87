#!/usr/bin/env python3
"""The decoders side by side: CER, WER, out-of-vocabulary words and numbers, and decoding time per
line for each decoder and beam width.

The network's probabilities are computed once per data set; every decoder then reads the same
matrices, so the table compares decoders only.

    python bench/bench_decoders.py --model models/default \\
        --data iam-ondb:../shared/data/iam-ondb --data pagexml:../shared/data/hooker \\
        --data folder:../shared/data/iam-lines --data folder:../shared/data/kaggle-names \\
        [--limit 300] [--beams 10 25 50] [--lexicon models/default/lexicon.npz] \\
        [--set wordbeam.lm_weight=0.8] [--cache /tmp/probs] [--json out.json]

Validation samples only (``split_of(s) == "val"``, as in training). Without ``--lexicon`` the
English lexicon is built on the fly with the IAM form groups of the benchmarked samples left out
of its bigram corpus as well as the IAM test lists (the shipped ``lexicon.npz`` leaves out every
IAM-OnDB validation group the same way). ``iam-lines`` lines all come from IAM's test lists; their
scores are not comparable with published IAM test results.

Out of vocabulary: a reference token (white-space separated) counts as *OOV* when it holds a word
the lexicon does not know (names, rare words), as a *number* when it holds a digit; the table gives
the share of such tokens that the decoder reads exactly (word alignment of reference and reading),
next to the share for in-lexicon tokens.

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

from rapidfuzz.distance import Levenshtein  # noqa: E402

from htr.decode import greedy_decode  # noqa: E402
from htr.lexicon import WORD_RE, Lexicon  # noqa: E402
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
            return [z[f"p{i}"].astype(np.float64) for i in range(len(samples))], charset
    from htr.image import preprocess
    from htr.recognizer import Recognizer

    rec = Recognizer.load(model, "greedy")
    probs = rec.probabilities([preprocess(s.image(None), rec.height) for s in samples])
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{f"p{i}": p.astype(np.float32) for i, p in enumerate(probs)})
    return probs, rec.charset


def word_matches(ref: str, hyp: str) -> tuple[list[bool], list[bool]]:
    """Which reference tokens and which hypothesis tokens the other side has exactly, in a
    minimum-edit alignment of the two token sequences."""
    r, h = ref.split(), hyp.split()
    ref_ok, hyp_ok = [False] * len(r), [False] * len(h)
    for op in Levenshtein.opcodes(r, h):
        if op.tag == "equal":
            for k in range(op.src_end - op.src_start):
                ref_ok[op.src_start + k] = True
                hyp_ok[op.dest_start + k] = True
    return ref_ok, hyp_ok


def token_kind(token: str, lexicon: Lexicon) -> str:
    if any(c.isdigit() for c in token):
        return "number"
    words = WORD_RE.findall(token)
    if any(w not in lexicon for w in words):
        return "oov"
    return "known" if words else "other"


def make_decoders(charset: Charset, lexicon: Lexicon, beams: list[int], params: dict) -> list:
    from htr.beam import BeamDecoder

    out = [("greedy", None, lambda x: greedy_decode(x, charset))]
    for bw in beams:
        d = BeamDecoder(charset, lexicon, bw, **params.get("beam", {}))
        out.append(("beam", bw, d.decode))
    for bw in beams:
        out.append(("wordbeam", bw, lambda x, bw=bw: word_beam_search(
            x, charset, lexicon, beam_width=bw, **params.get("wordbeam", {}))))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", action="append", required=True, metavar="KIND:PATH")
    p.add_argument("--limit", type=int, default=300)
    p.add_argument("--beams", type=int, nargs="+", default=[10, 25, 50])
    p.add_argument("--decoders", nargs="+", default=["greedy", "beam", "wordbeam"])
    p.add_argument("--lexicon", type=Path, help="a lexicon file (default: build one, see above)")
    p.add_argument("--set", action="append", default=[], metavar="DECODER.NAME=VALUE",
                   help="a decoder keyword argument, e.g. wordbeam.lm_weight=0.8 or beam.word_bonus=2")
    p.add_argument("--cache", type=Path, help="folder to keep the probabilities in between runs")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    params: dict = {}
    for s in args.set:
        k, v = s.split("=", 1)
        dec, name = k.split(".", 1)
        params.setdefault(dec, {})[name] = float(v)

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
        kinds = [[token_kind(t, lexicon) for t in r.split()] for r in refs]
        frames = np.mean([len(x) for x in probs])
        for name, bw, decode in make_decoders(charset, lexicon, args.beams, params):
            if name not in args.decoders:
                continue
            start = time.process_time()
            hyps = [decode(x).text for x in probs]
            ms = (time.process_time() - start) / max(len(probs), 1) * 1000
            hit: dict[str, list[int]] = {}
            for r, h, ks in zip(refs, hyps, kinds):
                for k, ok in zip(ks, word_matches(r, h)[0]):
                    hit.setdefault(k, [0, 0])
                    hit[k][0] += ok
                    hit[k][1] += 1
            row = {"data": spec.split(":")[0] + ":" + Path(spec.split(":", 1)[1]).name,
                   "decoder": name, "beam": bw, "n": len(samples), "frames": round(float(frames)),
                   "cer": cer(refs, hyps), "wer": wer(refs, hyps), "ms_per_line": ms,
                   "tokens": {k: {"correct": v[0], "n": v[1]} for k, v in hit.items()}}
            rows.append(row)

            def share(k):
                v = row["tokens"].get(k)
                return f"{v['correct'] / v['n']:.1%} of {v['n']}" if v else "-"

            print(f"{row['data']:<20} {name:<9} {bw or '-':>4}  CER {row['cer']:.4f}  "
                  f"WER {row['wer']:.4f}  {ms:6.1f} ms/line  known {share('known')}  "
                  f"OOV {share('oov')}  numbers {share('number')}", file=sys.stderr, flush=True)
    print("| data | decoder | beam | n | frames/line | CER | WER | ms/line (CPU) | "
          "known tokens right | OOV tokens right | numbers right |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        def cell(k):
            v = r["tokens"].get(k)
            return f"{v['correct'] / v['n']:.1%} ({v['n']})" if v else "-"

        print(f"| {r['data']} | {r['decoder']} | {r['beam'] or '-'} | {r['n']} | {r['frames']} | "
              f"{r['cer']:.2%} | {r['wer']:.2%} | {r['ms_per_line']:.1f} | {cell('known')} | "
              f"{cell('oov')} | {cell('number')} |")
    if args.json:
        args.json.write_text(json.dumps({"params": params, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
