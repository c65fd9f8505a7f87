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
next to the share for in-lexicon tokens; *kept* is the share of those that greedy decoding read
exactly (the image was clear enough) which the decoder still reads exactly, i.e. was not forced onto
a dictionary word.

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
from htr.model import read_model_dir  # noqa: E402
from htr.readers import open_data, split_of  # noqa: E402
from htr.text import Charset  # noqa: E402
from htr.wordbeam import word_beam_search  # noqa: E402


def val_samples(spec: str, limit: int | None, digits_only: bool = False) -> list:
    samples = [s for s in open_data(spec) if split_of(s) == "val"
               and (not digits_only or any(c.isdigit() for c in s.text))]
    if limit and len(samples) > limit:  # spread over the set, not the first few forms
        step = len(samples) / limit
        samples = [samples[int(i * step)] for i in range(limit)]
    return samples


def probabilities(model: Path, spec: str, samples: list, cache: Path | None) -> tuple[list, Charset]:
    charset = Charset.load(model / "charset.json")
    key = hashlib.md5(f"{model.resolve()}|{(model / 'model.keras').stat().st_mtime}|"
                      f"{(model / 'config.json').read_text()}|{spec}|"
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


def write_arpa(lexicon: Lexicon, path: Path, end_logp: float = -2.0, unk_logp: float = -7.0) -> None:
    """The lexicon's word bigram model as an ARPA file (log10): the very model the ``beam`` and
    ``wordbeam`` decoders use, for KenLM (whose PyPI package has no ``lmplz`` to build one)."""
    v = len(lexicon)
    ln10 = np.log(10.0)
    uni = lexicon.unigram.astype(np.float64) / ln10
    bo = np.log(np.maximum(lexicon.backoff.astype(np.float64), 1e-30)) / ln10
    names = lexicon.words + ["<s>", "<unk>"]
    keys = lexicon.bigram_keys
    a, b = keys // (v + 2), keys % (v + 2)
    ok = (b < v) & (a != v + 1)  # bigrams after <unk> are not an ARPA thing
    a, b = a[ok], b[ok]
    p2 = lexicon.bigram_prob[ok].astype(np.float64) + lexicon.backoff[a] * np.exp(lexicon.unigram[b])
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"\\data\\\nngram 1={v + 3}\nngram 2={len(a)}\n\n\\1-grams:\n")
        f.write(f"-99\t<s>\t{bo[v]:.5f}\n{end_logp:.5f}\t</s>\n{unk_logp:.5f}\t<unk>\n")
        for i, w in enumerate(lexicon.words):
            f.write(f"{uni[i]:.5f}\t{w}\t{bo[i]:.5f}\n")
        f.write("\n\\2-grams:\n")
        for x, y, q in zip(a, b, np.log10(p2)):
            f.write(f"{q:.5f}\t{names[x]}\t{names[y]}\n")
        f.write("\n\\end\\\n")


def kenlm_decoder(charset: Charset, lexicon: Lexicon, beam_width: int, arpa: Path):
    """Stock pyctcdecode with a KenLM model of the lexicon's bigrams, for comparison: pyctcdecode's
    own word scoring (white-space tokens, punctuation attached), words lower-cased for KenLM."""
    import kenlm
    from pyctcdecode.alphabet import Alphabet
    from pyctcdecode.decoder import BeamSearchDecoderCTC
    from pyctcdecode.language_model import LanguageModel

    class LowerLM(LanguageModel):
        def score(self, prev_state, word, is_last_word=False):
            return super().score(prev_state, word.lower(), is_last_word)

        def score_partial_token(self, partial_token):
            return super().score_partial_token(partial_token.lower())

    if not arpa.exists():
        write_arpa(lexicon, arpa)
    lm = LowerLM(kenlm.Model(str(arpa)), unigrams=lexicon.words, alpha=0.5, beta=2.5)
    dec = BeamSearchDecoderCTC(Alphabet([""] + list(charset.chars), False), lm)
    from htr.wordbeam import reading_of_beams

    def decode(x):
        beams = dec.decode_beams(np.log(np.clip(x, 1e-15, 1)), beam_width=beam_width, token_min_logp=-5.0)
        scores = np.array([b[4] for b in beams])
        post = np.exp(scores - scores.max())
        return reading_of_beams(x, charset, [b[0] for b in beams], post / post.sum())
    return decode


def make_decoders(charset: Charset, lexicon: Lexicon, beams: list[int], params: dict,
                  arpa: Path | None = None) -> list:
    from htr.beam import BeamDecoder

    out = [("greedy", None, lambda x: greedy_decode(x, charset))]
    for bw in beams:
        d = BeamDecoder(charset, lexicon, bw, **params.get("beam", {}))
        out.append(("beam", bw, d.decode))
    if arpa is not None:
        for bw in beams:
            out.append(("beam-kenlm", bw, kenlm_decoder(charset, lexicon, bw, arpa)))
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
    p.add_argument("--digits-only", action="store_true",
                   help="only the validation items whose text has a digit (numbers: dates, sums)")
    p.add_argument("--kenlm", type=Path, metavar="ARPA",
                   help="also run stock pyctcdecode with KenLM (pip install kenlm) on this ARPA file, "
                        "written from the lexicon's bigrams when missing (decoder beam-kenlm)")
    args = p.parse_args()
    params: dict = {}
    for s in args.set:
        k, v = s.split("=", 1)
        dec, name = k.split(".", 1)
        params.setdefault(dec, {})[name] = float(v)
    # Word beam search reads with the model folder's gap shift, as the app does, unless set.
    params.setdefault("wordbeam", {}).setdefault(
        "gap_offset", read_model_dir(args.model)[1].wordbeam_gap_offset)

    sets = {spec: val_samples(spec, args.limit, args.digits_only) for spec in args.data}
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
        greedy_ok = None  # per reference token: did greedy read it (the image is clear)?
        for name, bw, decode in make_decoders(charset, lexicon, args.beams, params, args.kenlm):
            if name not in args.decoders:
                continue
            start = time.process_time()
            hyps = [decode(x).text for x in probs]
            ms = (time.process_time() - start) / max(len(probs), 1) * 1000
            hit: dict[str, list[int]] = {}
            oks = [word_matches(r, h)[0] for r, h in zip(refs, hyps)]
            if name == "greedy":
                greedy_ok = oks
            for i, (ks, line_ok) in enumerate(zip(kinds, oks)):
                for j, (k, ok) in enumerate(zip(ks, line_ok)):
                    keys = [k] + ([k + "_clear"] if greedy_ok is not None and greedy_ok[i][j] else [])
                    for key in keys:
                        hit.setdefault(key, [0, 0])
                        hit[key][0] += ok
                        hit[key][1] += 1
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
                  f"OOV {share('oov')} (greedy-read kept {share('oov_clear')})  numbers "
                  f"{share('number')} (kept {share('number_clear')})", file=sys.stderr, flush=True)
    print("| data | decoder | beam | n | frames/line | CER | WER | ms/line (CPU) | "
          "known tokens right | OOV tokens right | OOV kept | numbers right | numbers kept |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        def cell(k):
            v = r["tokens"].get(k)
            return f"{v['correct'] / v['n']:.1%} ({v['n']})" if v else "-"

        print(f"| {r['data']} | {r['decoder']} | {r['beam'] or '-'} | {r['n']} | {r['frames']} | "
              f"{r['cer']:.2%} | {r['wer']:.2%} | {r['ms_per_line']:.1f} | {cell('known')} | "
              f"{cell('oov')} | {cell('oov_clear')} | {cell('number')} | {cell('number_clear')} |")
    if args.json:
        args.json.write_text(json.dumps({"params": params, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
