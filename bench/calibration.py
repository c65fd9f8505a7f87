#!/usr/bin/env python3
"""Word confidence calibration: fit a map per decoder on half of the validation groups, report a
reliability table on the other half, and (``--write``) save the maps into the model folder's
``calibration.json``, which :meth:`htr.Recognizer.load` applies.

    python bench/calibration.py --model models/default \\
        --data iam-ondb:../shared/data/iam-ondb --data pagexml:../shared/data/hooker \\
        --data folder:../shared/data/iam-lines --data folder:../shared/data/iam-forms \\
        --data alto:../shared/data/copiste --word-data folder:../shared/data/kaggle-names \\
        [--limit 300] [--hidden 16] [--cache /tmp/probs] [--splits 4] [--write | --keep] [--json out.json]

Greedy decoding gets a monotone (isotonic) map of its raw confidence. The lexicon decoders
(beam, wordbeam) get a word model instead (:class:`htr.decode.WordConfidence`, 16 tanh units
between its features and the probability; ``--hidden 0``: logistic): their
own confidence ranks words poorly, and what the network alone read in the same frames, and
whether the word is in the lexicon, tell right from wrong better (AUROC in the report).

The confidence calibrated is the one the product shows: a word's (``Recognition.words()``), its
least confident character's. A word is right when the minimum-edit alignment of the reading's and
the reference's words pairs it with an identical reference word. Validation items are halved by a
hash of their group (writer, form group, letter): the map of each decoder is fitted (isotonic
regression) on the words of the "fit" half only, and every number reported is on the "report"
half. ``--splits K`` reports each set's figures also averaged over K more halvings, each half
fitted in turn: one report half's figures move by a few points with which groups fell in it. A
retrained model needs the maps fitted again (``calibration.json`` names the weights it was
fitted on, and the recognizer ignores it for other weights). ``--word-data`` sets are of single
word images, read as ``read`` reads a crop no wider than a word by default (``--level auto``):
word beam search with the words' shift of the blank's and the space's logits (``config.json``'s
``wordbeam_word_gap_offset``); greedy and beam read them as lines. Each line is decoded in the
language it fits best, as ``auto`` reads it; the word images of each ``CROPS_TOGETHER`` in the
language of them all, as the page reader reads images of one word together.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_decoders import probabilities, val_samples, word_matches  # noqa: E402

from htr.decode import (CALIBRATION_FILE, LEXICON_DECODERS, Calibration,  # noqa: E402
                        WordConfidence, greedy_decode, model_fingerprint, word_features)
from htr.lexicon import Lexicon, best_language  # noqa: E402
from htr.model import read_model_dir  # noqa: E402
from htr.page import CROPS_TOGETHER  # noqa: E402
from htr.recognizer import LEXICON_FILES  # noqa: E402
from htr.wordbeam import word_beam_search  # noqa: E402

BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0001)
#: The web app's default threshold under which a word is marked doubtful.
DOUBTFUL = 0.5


def half(group: str, salt: str = "calibration") -> str:
    """The calibration half of a validation group: "fit" or "report", by a stable hash (another
    ``salt``: another halving, for :func:`split_means`)."""
    return "fit" if hashlib.md5(f"{salt}:{group}".encode()).digest()[0] < 128 else "report"


def isotonic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators fit of y (0/1) on x: knots (block mean x, block mean y), made into
    a map over [0, 1]."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order].astype(np.float64)
    blocks: list[list[float]] = []  # [sum_x, sum_y, n]
    for a, b in zip(xs, ys):
        blocks.append([a, b, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            s = blocks.pop()
            blocks[-1] = [blocks[-1][0] + s[0], blocks[-1][1] + s[1], blocks[-1][2] + s[2]]
    kx = np.array([b[0] / b[2] for b in blocks])
    ky = np.array([b[1] / b[2] for b in blocks])
    # Shrink each block towards the overall rate by its size (a lone word is no evidence of 0 or 1).
    prior, strength = float(ys.mean()), 5.0
    n = np.array([b[2] for b in blocks])
    ky = np.maximum.accumulate((ky * n + prior * strength) / (n + strength))
    kx = np.r_[0.0, kx, 1.0]
    ky = np.r_[ky[0], ky, ky[-1]]
    kx, idx = np.unique(kx, return_index=True)
    return kx, ky[idx]


def reliability(conf: np.ndarray, ok: np.ndarray) -> list[dict]:
    rows = []
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        m = (conf >= lo) & (conf < hi)
        if m.any():
            rows.append({"bin": f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}",
                         "n": int(m.sum()), "confidence": float(conf[m].mean()), "accuracy": float(ok[m].mean())})
    return rows


def auroc(conf: np.ndarray, ok: np.ndarray) -> float | None:
    """How well the confidence ranks right words above wrong ones: the chance that a random right
    word scores above a random wrong one (ties count half); None without both kinds."""
    right, wrong = conf[ok > 0.5], conf[ok <= 0.5]
    if not len(right) or not len(wrong):
        return None
    order = np.argsort(np.r_[right, wrong], kind="stable")
    values = np.r_[right, wrong][order]
    ranks = np.empty(len(values))
    _, first, counts = np.unique(values, return_index=True, return_counts=True)
    for start, n in zip(first, counts):  # mean rank of each run of ties
        ranks[start:start + n] = start + (n + 1) / 2
    rank_of = np.empty(len(values))
    rank_of[order] = ranks
    return float((rank_of[:len(right)].sum() - len(right) * (len(right) + 1) / 2) / (len(right) * len(wrong)))


def summary(conf: np.ndarray, ok: np.ndarray) -> dict:
    """Calibration (ECE, Brier) and, at the app's mark for doubtful words (DOUBTFUL), how many of
    the wrong words it marks (recall) and how many of the marked words are wrong (precision)."""
    marked, wrong = conf < DOUBTFUL, ok <= 0.5
    hi = conf >= 0.9
    ece = sum(abs(conf[m].mean() - ok[m].mean()) * m.sum() for lo, up in zip(BINS[:-1], BINS[1:])
              if (m := (conf >= lo) & (conf < up)).any()) / max(len(conf), 1)
    return {"n": int(len(conf)), "accuracy": float(ok.mean()) if len(ok) else 0.0,
            "n_ge_0.9": int(hi.sum()), "accuracy_ge_0.9": float(ok[hi].mean()) if hi.any() else None,
            "share_ge_0.9": float(hi.mean()) if len(hi) else 0.0, "ece": float(ece),
            "brier": float(np.mean((conf - ok) ** 2)) if len(ok) else 0.0,
            "wrong_marked": float(marked[wrong].mean()) if wrong.any() else None,
            "marked_wrong": float(wrong[marked].mean()) if marked.any() else None,
            "auroc": auroc(conf, ok)}


def set_name(spec: str) -> str:
    """What the report calls a set: its folder's name, and for the photos or the words made from
    a folder's pages or lines (``pagexml-photos:``, ``iam-ondb-words:``) the kind's last part too."""
    kind, path = spec.split(":", 1)
    derived = kind.rsplit("-", 1)[1] if kind.endswith(("-photos", "-words")) else ""
    return f"{Path(path).name} {derived}".strip()


def split_means(fit_and_apply, groups: np.ndarray, sets: np.ndarray, ok: np.ndarray,
                splits: int) -> dict[str, dict]:
    """Each set's :func:`summary` over ``splits`` further halvings of the validation groups,
    each half fitted in turn and the other reported (``2 * splits`` fits), its figures averaged:
    how one decoder's map does apart from the luck of the one report half (IAM forms' wrong
    words marked moved 55.7-59.8% with the word model's seed alone). ``fit_and_apply(fit,
    report)`` (two boolean masks of the words) fits a map on the first and returns its
    confidences of the second."""
    runs: dict[str, list[dict]] = {}
    for k in range(1, splits + 1):
        fit = np.array([half(g, f"calibration-split-{k}") == "fit" for g in groups])
        for a, b in ((fit, ~fit), (~fit, fit)):
            c = fit_and_apply(a, b)
            for name in sorted(set(sets[b])):
                m = sets[b] == name
                runs.setdefault(name, []).append(summary(c[m], ok[b][m]))
    keys = ("wrong_marked", "marked_wrong", "auroc", "ece")
    return {name: {key: float(np.mean([r[key] for r in rs if r[key] is not None]))
                   for key in keys if any(r[key] is not None for r in rs)} | {"fits": len(rs)}
            for name, rs in runs.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", action="append", default=[], metavar="KIND:PATH",
                   help="a validation set of line images (repeat)")
    p.add_argument("--word-data", action="append", default=[], metavar="KIND:PATH",
                   help="a validation set of single word images, word beam search reading them "
                        "with the words' gap shift (repeat)")
    p.add_argument("--limit", type=int, default=300)
    p.add_argument("--beam-width", type=int, default=None,
                   help="beams of the lexicon decoders (default: each one's own, as the app reads)")
    p.add_argument("--decoders", nargs="+", default=["greedy", "beam", "wordbeam"])
    p.add_argument("--lexicon", type=Path, help="default: the model folder's lexicons, each item "
                                                "decoded in the language it fits best")
    p.add_argument("--cache", type=Path)
    p.add_argument("--hidden", type=int, default=16,
                   help="hidden units of the lexicon decoders' word model (0: logistic)")
    p.add_argument("--seeds", type=int, default=1,
                   help="fits of the word model averaged (their log-odds), from seed 0 up")
    p.add_argument("--splits", type=int, default=0, metavar="K",
                   help="also report each set's figures averaged over K more halvings of the "
                        "groups, each half fitted in turn (what the map does apart from one split)")
    p.add_argument("--write", action="store_true", help=f"save the maps to MODEL/{CALIBRATION_FILE}")
    p.add_argument("--keep", action="store_true",
                   help=f"report the maps MODEL/{CALIBRATION_FILE} has now, fitting none")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    if not args.data and not args.word_data:
        p.error("name the validation sets: --data KIND:PATH (lines), --word-data KIND:PATH (words)")
    # Each item is decoded with the lexicon of its language, as the app's "auto" does; with a
    # given --lexicon, that one alone.
    files = {"en": args.lexicon} if args.lexicon else {
        lang: args.model / name for lang, name in LEXICON_FILES.items() if (args.model / name).is_file()}
    lexicons = {lang: Lexicon.load(path) for lang, path in files.items()}
    from htr.beam import BeamDecoder

    items = []  # (set, group, reference, probs, read as a word, language)
    charset = None
    for spec, as_word in [(d, False) for d in args.data] + [(d, True) for d in args.word_data]:
        samples = val_samples(spec, args.limit)
        probs, charset = probabilities(args.model, spec, samples, args.cache)
        name = set_name(spec)
        # Each line in the language it fits; word images, as the page reader reads them, in the
        # language of each CROPS_TOGETHER read together (Recognizer.decode_texts).
        fits = [greedy_decode(x, charset).text for x in probs]
        group = CROPS_TOGETHER if as_word else 1
        languages = [best_language(fits[i - i % group:i - i % group + group], lexicons)
                     for i in range(len(fits))]
        items += [(name, s.group, s.text, x, as_word, lang)
                  for s, x, lang in zip(samples, probs, languages)]
    width = {} if args.beam_width is None else {"beam_width": args.beam_width}
    config = read_model_dir(args.model)[1]  # how the app reads these weights
    beams = {lang: BeamDecoder(charset, lex, **width) for lang, lex in lexicons.items()}
    gaps = {False: config.wordbeam_gap_offset, True: config.words_gap_offset}  # lines', words'
    decoders = {"greedy": lambda x, lang, word: greedy_decode(x, charset),
                "beam": lambda x, lang, word: beams[lang].decode(x),
                "wordbeam": lambda x, lang, word: word_beam_search(
                    x, charset, lexicons[lang], **width, gap_offset=gaps[word])}
    counts = {h: sum(1 for it in items if half(it[1]) == h) for h in ("fit", "report")}
    print(f"{len(items)} validation items: {counts['fit']} to fit, {counts['report']} to report on",
          file=sys.stderr)
    tables, report = {}, {}
    if args.keep:
        if args.write:
            p.error("--keep reports the maps there are; it writes none")
        kept = json.loads((args.model / CALIBRATION_FILE).read_text())["decoders"]
    for dname in args.decoders:
        words, features = [], []  # (set, group, raw confidence, right); word features
        for sname, group, ref, x, as_word, lang in items:
            rec = decoders[dname](x, lang, as_word)
            ws = rec.words()
            _, hyp_ok = word_matches(ref, rec.text)
            assert len(ws) == len(hyp_ok), (rec.text, [w.text for w in ws])
            words += [(sname, group, w.confidence, ok) for w, ok in zip(ws, hyp_ok)]
            if dname in LEXICON_DECODERS:
                features.append(word_features(rec, greedy_decode(x, charset), lexicons[lang]))
        sets = np.array([w[0] for w in words])
        groups = np.array([w[1] for w in words])
        halves = np.array([half(g) for g in groups])
        raw = np.array([w[2] for w in words], np.float64)
        ok = np.array([w[3] for w in words], np.float64)
        fit = halves == "fit"
        rep = ~fit
        if args.keep:  # the model folder's own map, as the recognizer applies it
            tables[dname] = dict(kept[dname])
        if dname in LEXICON_DECODERS:
            # A lexicon decoder's own confidence ranks its words poorly: a word model of what
            # the network alone read in the same frames, and of the lexicon (WORD_FEATURES).
            x = np.concatenate(features)
            if not args.keep:
                tables[dname] = WordConfidence.fit(x[fit], ok[fit], hidden=args.hidden,
                                                        seeds=args.seeds).table()
            c = WordConfidence.from_table(tables[dname]).predict(x[rep])  # as saved, rounded
        else:
            if not args.keep:
                kx, ky = isotonic(raw[fit], ok[fit])
                tables[dname] = {"x": [round(float(v), 5) for v in kx],
                                 "y": [round(float(v), 5) for v in ky]}
            c = Calibration(np.array(tables[dname]["x"]), np.array(tables[dname]["y"]))(raw[rep])
        tables[dname].update(fit_words=int(fit.sum()), data=args.data, limit=args.limit,
                              **({"word_data": args.word_data} if args.word_data else {}))
        report[dname] = {"raw": summary(raw[rep], ok[rep]), "calibrated": summary(c, ok[rep]),
                         "reliability": reliability(c, ok[rep]),
                         "reliability_raw": reliability(raw[rep], ok[rep]),
                         "per_set": {s: summary(c[sets[rep] == s], ok[rep][sets[rep] == s])
                                     for s in sorted(set(sets[rep]))}}
        r, k = report[dname]["raw"], report[dname]["calibrated"]
        print(f"\n## {dname} (beam width {args.beam_width or 'default'}): {k['n']} report-half words, "
              f"{k['accuracy']:.1%} right")
        print(f"raw confidence: >=0.9 for {r['share_ge_0.9']:.1%} of words, right "
              f"{(r['accuracy_ge_0.9'] or 0):.1%}; ECE {r['ece']:.3f}, Brier {r['brier']:.3f}")
        print(f"calibrated:     >=0.9 for {k['share_ge_0.9']:.1%} of words, right "
              f"{(k['accuracy_ge_0.9'] or 0):.1%}; ECE {k['ece']:.3f}, Brier {k['brier']:.3f}")
        print("\n| calibrated confidence | words | mean confidence | right |")
        print("|---|---|---|---|")
        for row in report[dname]["reliability"]:
            print(f"| {row['bin']} | {row['n']} | {row['confidence']:.3f} | {row['accuracy']:.1%} |")
        print(f"\n| set | words | right | >=0.9 | right among >=0.9 | ECE | wrong words marked "
              f"(< {DOUBTFUL}) | marked words wrong | AUROC |")
        print("|---|---|---|---|---|---|---|---|---|")
        pct = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
        for s, v in report[dname]["per_set"].items():
            print(f"| {s} | {v['n']} | {v['accuracy']:.1%} | {v['n_ge_0.9']} | "
                  f"{pct(v['accuracy_ge_0.9'])} | {v['ece']:.3f} | {pct(v['wrong_marked'])} | "
                  f"{pct(v['marked_wrong'])} | {'-' if v['auroc'] is None else round(v['auroc'], 3)} |")
        if args.splits:
            if dname in LEXICON_DECODERS:
                def fit_and_apply(a, b):
                    fitted = WordConfidence.fit(x[a], ok[a], hidden=args.hidden, seeds=args.seeds)
                    return fitted.predict(x[b])
            else:
                def fit_and_apply(a, b):
                    return Calibration(*isotonic(raw[a], ok[a]))(raw[b])
            means = split_means(fit_and_apply, groups, sets, ok, args.splits)
            report[dname]["split_means"] = means
            print(f"\nthe same, averaged over {args.splits} more halvings of the groups, each half "
                  f"fitted in turn:\n\n| set | fits | ECE | wrong words marked | marked words wrong | AUROC |")
            print("|---|---|---|---|---|---|")
            for s, v in means.items():
                print(f"| {s} | {v['fits']} | {v['ece']:.3f} | {pct(v.get('wrong_marked'))} | "
                      f"{pct(v.get('marked_wrong'))} | {v['auroc']:.3f} |")
        sys.stdout.flush()
    if args.write:
        path = args.model / CALIBRATION_FILE
        old = json.loads(path.read_text()) if path.is_file() else {}
        fp = model_fingerprint(args.model / "model.keras")
        decs = old.get("decoders", {}) if old.get("model") == fp else {}
        decs.update(tables)
        path.write_text(json.dumps({
            "model": fp, "beam_width": args.beam_width,
            "read_shifts": list(config.read_shifts),
            "note": "word confidence -> P(word right), fitted on the 'fit' half of the validation "
                    "groups of each table's data (bench/calibration.py): isotonic maps of the "
                    "raw confidence (x, y), or a word model of features (weights, and a hidden layer)",
            "decoders": decs}, indent=1) + "\n")
        print(f"\nwrote {path}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"tables": tables, "report": report}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
