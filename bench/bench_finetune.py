#!/usr/bin/env python3
"""How much fine-tuning on a person's corrected lines helps (htr.finetune): per writer the shipped
model never trained on, CER of the base and of the fine-tuned model on that writer's other lines,
the time it took, and what the fine-tuned model forgets (its CER on other writers' lines).

    nice -n 10 python bench/bench_finetune.py --count 10 --curve 10 25 --curve-writers 3 \
        [--writers 150 151] [--lines 50] [--budget 5] [--mix 0.6] [--out runs/bench-finetune.json]
    python bench/bench_finetune.py --table runs/bench-finetune*.json     # the README's tables

Writers: IAM writers of ``../shared/data/iam-forms`` (a set the shipped weights never trained on;
writer 297, who also wrote training lines of ``iam-lines``, is left out), those with the most
lines first. Each writer's forms are taken in a fixed order (a hash of the form's name): the last
forms (``--min-test`` lines or more) and any form the first N lines do not reach are read to score;
the first N lines of the others are the "corrected" lines (a form cut by N is read by neither; a
writer with too few lines trains on all the others). The fine-tuning itself holds back about a
fifth of the N lines, whole forms, to stop on; it goes all the way (``mix`` 1). Forgetting: the held-out writers of ``iam-lines`` (grey scans) and of
``iam-forms`` (its validation split: black-and-white scans like the writers' own), a fixed sample
of each. ``--mix`` also reads with the weights taken part of the way from the base (WiSE-FT).
Results go to a JSON file, one record per run as it finishes, so a long run can be read midway.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from htr.evaluate import evaluate  # noqa: E402
from htr.finetune import FinetuneConfig, finetune, page_of  # noqa: E402
from htr.readers import split_of  # noqa: E402
from htr.readers.folder import read_folder  # noqa: E402
from htr.recognizer import Recognizer  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
#: Writers of iam-forms who also wrote lines the shipped model trained on (iam-lines, train split).
SEEN_WRITERS = {"297"}


def writer_lines(unseen: bool = False) -> dict[str, list]:
    """Lines by writer: of iam-forms; with ``unseen``, only writers of the validation splits of
    iam-forms and iam-lines (the writers a model trained on those sets' training splits, as
    Model 2 did, never saw)."""
    out: dict[str, list] = defaultdict(list)
    for folder in ("iam-forms", "iam-lines") if unseen else ("iam-forms",):
        for s in read_folder(DATA / folder):
            if s.group not in SEEN_WRITERS and (not unseen or split_of(s) == "val"):
                out[s.group].append(s)
    return dict(out)


def split_writer(samples: list, n: int, min_test: int) -> tuple[list, list]:
    """(up to n lines to train on, the lines to read): forms in a fixed hash order, the last
    forms kept to read (at least ``min_test`` lines), the first n lines of the others (in order
    within a form) to train on; a form cut by n is read by neither. The curve's smaller sets are
    the first lines of the same list, read against the same lines."""
    forms: dict[str, list] = defaultdict(list)
    for s in samples:
        forms[page_of(s)].append(s)
    order = sorted(forms, key=lambda f: hashlib.md5(f.encode()).hexdigest())
    reserved: list = []
    while order and len(reserved) < min_test:
        reserved = forms[order.pop()] + reserved
    train = [s for f in order for s in sorted(forms[f], key=lambda s: s.id)][:n]
    used = {page_of(s) for s in train}
    test = [s for f in order if f not in used for s in forms[f]] + reserved
    return train, test


def score(recognizers: dict, samples: list) -> dict:
    return {name: evaluate(r, samples, progress=False).cer for name, r in recognizers.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("models/default"))
    p.add_argument("--writers", nargs="*", help="IAM writer ids (default: the --count with most lines)")
    p.add_argument("--count", type=int, default=10, help="writers, those with most lines first")
    p.add_argument("--lines", type=int, default=50,
                   help="corrected lines per writer (a writer with fewer than this + --min-test "
                        "lines: all but --min-test)")
    p.add_argument("--curve", type=int, nargs="*", default=[],
                   help="also fine-tune on these fewer lines (the same lines read)")
    p.add_argument("--curve-writers", type=int, default=4, help="writers the curve is run on")
    p.add_argument("--budget", type=float, default=5.0, help="fine-tuning time budget, minutes")
    p.add_argument("--forget", type=int, default=120, help="other writers' lines for forgetting")
    p.add_argument("--min-test", type=int, default=10, help="least lines left to score on")
    p.add_argument("--curve-only", action="store_true", help="run the curve's smaller sets only")
    p.add_argument("--mix", type=float, default=0.6,
                   help="also read with base + MIX x (fine-tuned - base) weights (0: not)")
    p.add_argument("--unseen", action="store_true",
                   help="writers of the validation splits of iam-forms and iam-lines only (for a "
                        "model trained on their training splits)")
    p.add_argument("--out", type=Path, default=Path("runs/bench-finetune.json"))
    p.add_argument("--table", type=Path, nargs="+", metavar="JSON",
                   help="print the Markdown tables of runs' JSON files (finished or not) and exit")
    args = p.parse_args(argv)
    if args.table:
        print(table([json.loads(f.read_text()) for f in args.table]))
        return 0

    by_writer = writer_lines(args.unseen)
    ranked = sorted(by_writer, key=lambda w: (-len(by_writer[w]), w))
    writers = args.writers or ranked[:args.count]
    others = [s for s in read_folder(DATA / "iam-lines") if split_of(s) == "val"
              and s.group not in writers]
    others = list(np.random.default_rng(0).choice(np.array(others, dtype=object),
                                                  min(args.forget, len(others)), replace=False))
    # Forgetting on scans like the writers' own: iam-forms lines of other writers (those of its
    # validation split, none of them a writer here).
    forms_others = [s for w, lines in writer_lines().items() if w not in writers
                    and split_of(lines[0]) == "val" for s in lines]
    forms_others = list(np.random.default_rng(0).choice(
        np.array(forms_others, dtype=object), min(args.forget, len(forms_others)), replace=False))
    base = Recognizer.load(args.model, decoder="greedy")
    base_wb = base.with_decoder("wordbeam", language="en")
    base_other = score({"greedy": base, "wordbeam": base_wb}, others)
    base_forms = score({"greedy": base, "wordbeam": base_wb}, forms_others)
    print(f"base on {len(others)} lines of other writers: {base_other}", flush=True)
    results = {"model": str(args.model), "budget_minutes": args.budget, "writers": writers,
               "lines": {w: len(by_writer[w]) for w in writers}, "others": len(others),
               "base_other": base_other, "forms_others": len(forms_others),
               "base_forms_other": base_forms, "load_start": os.getloadavg(), "runs": []}
    curve_writers = writers[:args.curve_writers]  # those with the most lines
    # Writers with too few lines for --lines besides --min-test train on all the others.
    main_n = {w: len(split_writer(by_writer[w], args.lines, args.min_test)[0]) for w in writers}
    plan = [(w, main_n[w], True) for w in writers] if not args.curve_only else []
    plan += [(w, n, False) for n in args.curve for w in curve_writers if n < main_n[w]]
    for writer, n, main_run in plan:
        pool, test = split_writer(by_writer[writer], main_n[writer], args.min_test)
        train = pool[:n]
        if not n or n > len(pool) or len(test) < args.min_test:
            print(f"writer {writer}: {len(by_writer[writer])} lines, too few for {n}", flush=True)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            load = os.getloadavg()
            start = time.time()
            result = finetune(args.model, train, Path(tmp) / f"w{writer}",
                              FinetuneConfig(time_budget_minutes=args.budget, mix=1.0),
                              log=lambda line: print(f"  {writer}/{n}: {line}", flush=True))
            seconds = time.time() - start
            tuned = Recognizer.load(Path(tmp) / f"w{writer}", decoder="greedy")
            tuned_wb = tuned.with_decoder("wordbeam", language="en")
            own_base = score({"greedy": base, "wordbeam": base_wb}, test)
            own = score({"greedy": tuned, "wordbeam": tuned_wb}, test)
            other = score({"greedy": tuned, "wordbeam": tuned_wb}, others) if main_run else None
            forms_other = (score({"greedy": tuned, "wordbeam": tuned_wb}, forms_others)
                           if main_run else None)
            mixed = mixed_other = mixed_forms = None
            if main_run and args.mix:
                # The fine-tuned weights taken only part of the way from the base's ("WiSE-FT"):
                # what that gives back on other hands and costs on this one.
                base_w = base.model.get_weights()
                tuned.model.set_weights([b + args.mix * (t - b) for b, t in
                                         zip(base_w, tuned.model.get_weights())])
                mixed = score({"greedy": tuned, "wordbeam": tuned_wb}, test)
                mixed_other = score({"greedy": tuned, "wordbeam": tuned_wb}, others)
                mixed_forms = score({"greedy": tuned, "wordbeam": tuned_wb}, forms_others)
        record = {"writer": writer, "lines": n, "main": main_run, "test_lines": len(test),
                  "train_forms": len({page_of(s) for s in train}),
                  "test_forms": len({page_of(s) for s in test}),
                  "base": own_base, "tuned": own, "other": other, "seconds": seconds,
                  "forms_other": forms_other, "mix": args.mix, "mixed": mixed,
                  "mixed_other": mixed_other, "mixed_forms_other": mixed_forms,
                  "train_seconds": result.train_seconds, "epochs": result.epochs,
                  "best_epoch": result.best_epoch, "stopped": result.stopped,
                  "held_back": result.val_lines, "load_before": load, "load_after": os.getloadavg()}
        results["runs"].append(record)
        print(f"writer {writer}, {n} lines ({len(test)} to read): greedy {own_base['greedy']:.2%} -> "
              f"{own['greedy']:.2%}, wordbeam {own_base['wordbeam']:.2%} -> {own['wordbeam']:.2%}; "
              f"{seconds:.0f} s; other writers {other}; load {load[0]:.1f}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    summarize(results)
    return 0


def summarize(results: dict) -> None:
    main_runs = [r for r in results["runs"] if r["main"]]
    if not main_runs:
        return
    for dec in ("greedy", "wordbeam"):
        b = np.mean([r["base"][dec] for r in main_runs])
        t = np.mean([r["tuned"][dec] for r in main_runs])
        o = np.mean([r["other"][dec] for r in main_runs])
        print(f"{dec}: own lines {b:.2%} -> {t:.2%} ({(t - b) / b:+.0%}); other writers "
              f"{results['base_other'][dec]:.2%} -> {o:.2%}")
    print(f"fine-tuning seconds: mean {np.mean([r['seconds'] for r in main_runs]):.0f}, "
          f"max {max(r['seconds'] for r in main_runs):.0f}")


def table(files: list[dict]) -> str:
    """The README's tables from one or more runs' JSON: per writer (main runs) and the mean,
    what the fine-tuned models forget, and the curve."""
    pct = lambda x: "" if x is None else f"{100 * x:.1f}"  # noqa: E731
    pair = lambda d: "" if d is None else f"{pct(d['greedy'])} / {pct(d['wordbeam'])}"  # noqa: E731
    runs = [dict(r, total=f["lines"].get(r["writer"]), base_other=f["base_other"],
                 base_forms_other=f.get("base_forms_other")) for f in files for r in f["runs"]]
    main_runs = [r for r in runs if r["main"]]
    out = ["| writer | lines | trained on / held back | read | greedy CER | wordbeam CER | "
           "seconds (epochs) | load |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in main_runs:
        out.append(f"| {r['writer']} | {r['total']} | {r['lines'] - r['held_back']} / {r['held_back']} "
                   f"| {r['test_lines']} | {pct(r['base']['greedy'])} -> {pct(r['tuned']['greedy'])} | "
                   f"{pct(r['base']['wordbeam'])} -> {pct(r['tuned']['wordbeam'])} | "
                   f"{r['seconds']:.0f} ({r['epochs']}) | {r['load_before'][0]:.1f} |")
    if main_runs:
        mean = lambda k, d, rs=main_runs: float(np.mean([r[k][d] for r in rs]))  # noqa: E731
        rel = lambda d: (mean("tuned", d) - mean("base", d)) / mean("base", d)  # noqa: E731
        out.append(f"| **mean of {len(main_runs)}** | | | | {pct(mean('base', 'greedy'))} -> "
                   f"{pct(mean('tuned', 'greedy'))} ({rel('greedy'):+.0%}) | "
                   f"{pct(mean('base', 'wordbeam'))} -> {pct(mean('tuned', 'wordbeam'))} "
                   f"({rel('wordbeam'):+.0%}) | {np.mean([r['seconds'] for r in main_runs]):.0f} "
                   f"(max {max(r['seconds'] for r in main_runs):.0f}) | |")
        out += ["", "| writer | other writers, iam-lines: base -> tuned | mixed | other writers, "
                "iam-forms: base -> tuned | mixed | own lines, mixed |",
                "| --- | --- | --- | --- | --- | --- |"]
        for r in main_runs:
            out.append(f"| {r['writer']} | {pair(r['base_other'])} -> {pair(r['other'])} | "
                       f"{pair(r.get('mixed_other'))} | {pair(r.get('base_forms_other'))}"
                       f"{' -> ' + pair(r.get('forms_other')) if r.get('forms_other') else ''} | "
                       f"{pair(r.get('mixed_forms_other'))} | {pair(r.get('mixed'))} |")
        def mean_pair(key: str, rs: list) -> dict | None:
            rs = [r for r in rs if r.get(key)]
            return {d: float(np.mean([r[key][d] for r in rs])) for d in ("greedy", "wordbeam")} if rs else None

        mixed_runs = [r for r in main_runs if r.get("mixed")]
        out.append(f"| **mean of {len(main_runs)}** | {pair(main_runs[0]['base_other'])} -> "
                   f"{pair(mean_pair('other', main_runs))} | | | | |")
        if mixed_runs:
            out.append(f"| **mean of {len(mixed_runs)}** | {pair(mixed_runs[0]['base_other'])} -> "
                       f"{pair(mean_pair('other', mixed_runs))} | {pair(mean_pair('mixed_other', mixed_runs))} | "
                       f"{pair(mixed_runs[0]['base_forms_other'])} -> "
                       f"{pair(mean_pair('forms_other', mixed_runs))} | "
                       f"{pair(mean_pair('mixed_forms_other', mixed_runs))} | "
                       f"{pair(mean_pair('mixed', mixed_runs))} (fine-tuned {pair(mean_pair('tuned', mixed_runs))}, "
                       f"base {pair(mean_pair('base', mixed_runs))}) |")
    curve: dict[str, dict[int, dict]] = defaultdict(dict)
    for r in runs:
        curve[r["writer"]][r["lines"]] = r
    writers = [w for w, rs in curve.items() if len(rs) > 1]
    if writers:
        sizes = sorted({n for w in writers for n in curve[w]})
        out += ["", "| writer | read | base | " + " | ".join(f"{n} lines" for n in sizes) + " |",
                "| --- | --- | --- | " + " | ".join("---" for _ in sizes) + " |"]
        for w in writers:
            first = next(iter(curve[w].values()))
            cells = [pair(curve[w][n]["tuned"]) if n in curve[w] else "" for n in sizes]
            out.append(f"| {w} | {first['test_lines']} | {pair(first['base'])} | "
                       + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
