#!/usr/bin/env python3
"""Per-source ablation: does each training source help the validation sets?

Each arm fine-tunes the same starting weights for the same number of samples, with the same seed
and the same validation sample, and differs from the ``base`` arm in one thing only: a source's
training weight set to 0 (``*0``: still validated on, never trained on), one source added, or
(``light-augment``) half the augmentation strength.
``report`` prints a markdown table of every arm's validation CER at its best epoch (greedy), with
its change against ``base``; ``report --full`` scores the arms and the starting weights on the
full validation sets instead.

    python bench/ablation.py run --init models/default      # about 16 minutes per arm on 2 cores
    python bench/ablation.py report [--full]

Run it from the repository root (the data sets are named ``../shared/data/...``). An arm whose run
finished is not run again; delete ``runs/abl-NAME`` to redo it. The model card's table started from
the weights shipped before it (``git show 8aa26f2:models/default/model.keras``, with that commit's
``charset.json`` and ``config.json``), not from the weights now in ``models/default``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DATA = "../shared/data"
SOURCES = {
    "ondb": f"iam-ondb:{DATA}/iam-ondb",
    "lines": f"folder:{DATA}/iam-lines",
    "hooker": f"pagexml:{DATA}/hooker",
    "kaggle": f"folder:{DATA}/kaggle-names",
    "words": f"iam-ondb-words:{DATA}/iam-ondb",
    "fonts": f"fonts:{DATA}/iam-ascii",
}
#: The mix the ablation's starting weights were last trained with (training weight per source).
BASE = {"ondb": 1, "lines": 4, "hooker": 1.5, "kaggle": 1, "words": 0.25}
#: Arm name -> changes to BASE (source weights), and for the last arm a training setting.
ARMS = {
    "base": {},
    "no-ondb": {"ondb": 0, "words": 0},
    "no-hooker": {"hooker": 0},
    "no-kaggle": {"kaggle": 0},
    "fonts": {"fonts": 0.4},
    "light-augment": {},
}
#: Extra train.py arguments of an arm.
ARM_ARGS = {"light-augment": ["--augment", "0.5"]}
#: The validation sets of the report (fonts are training-only).
VALIDATION = ("ondb", "lines", "hooker", "words", "kaggle")
TRAIN_ARGS = ["--size", "medium", "--epochs", "2", "--epoch-size", "5000", "--val-limit", "300",
              "--patience", "6", "--seed", "5", "--learning-rate", "1.5e-4"]


def data_args(arm: str) -> list[str]:
    weights = {**BASE, **ARMS[arm]}
    args = []
    for source, weight in weights.items():
        args += ["--data", SOURCES[source] + ("" if weight == 1 else f"*{weight:g}")]
    return args


def run(init: Path, runs: Path, arms: list[str]) -> None:
    for arm in arms:
        out = runs / f"abl-{arm}"
        history = out / "history.json"
        if history.is_file() and len(json.loads(history.read_text())) >= 2:
            print(f"{arm}: done already ({out})")
            continue
        command = [sys.executable, str(ROOT / "train.py"), *data_args(arm), "--output", str(out),
                   *TRAIN_ARGS, *ARM_ARGS.get(arm, []), "--init", str(init)]
        print(" ".join(command), flush=True)
        with open(runs / f"abl-{arm}.log", "w") as log:
            subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def report(init: Path, runs: Path, arms: list[str], full: bool = False) -> None:
    """A markdown table of each arm's validation CER at its best epoch (the run's own sample:
    the same 300 items per set in every arm, as the seed is shared), with the change against
    ``base``; ``full`` scores the starting weights and every arm on the full validation sets."""
    from htr.readers import DataSpec

    keys = {name: DataSpec.parse(SOURCES[name]).name for name in VALIDATION}  # as runs log them
    done = [arm for arm in arms if (runs / f"abl-{arm}" / "history.json").is_file()]
    scores: dict[str, dict[str, float]] = {}
    sizes: dict[str, int] = {}
    if full:
        from htr.evaluate import evaluate
        from htr.readers import open_data, split_of
        from htr.recognizer import Recognizer

        sets = {keys[n]: [s for s in open_data(SOURCES[n]) if split_of(s) == "val"]
                for n in VALIDATION}
        sizes = {key: len(samples) for key, samples in sets.items()}
        for label, folder in {"start": init, **{a: runs / f"abl-{a}" for a in done}}.items():
            recognizer = Recognizer.load(folder, decoder="greedy")
            scores[label] = {key: evaluate(recognizer, samples, progress=False).cer
                             for key, samples in sets.items()}
            print(label, json.dumps({k: round(v, 4) for k, v in scores[label].items()}), flush=True)
    else:
        for arm in done:
            history = json.loads((runs / f"abl-{arm}" / "history.json").read_text())
            best = min(history, key=lambda epoch: epoch["mean_cer"])
            scores[arm] = {key: v["cer"] for key, v in best["val"].items()}
            sizes = {key: v["n"] for key, v in best["val"].items()}
    if not scores:
        print(f"no finished arms under {runs}")
        return
    print()
    print("| arm | " + " | ".join(f"{n} ({sizes[keys[n]]})" for n in VALIDATION) + " |")
    print("| --- |" + " --- |" * len(VALIDATION))
    for label, row in scores.items():
        cells = []
        for name in VALIDATION:
            cell = f"{100 * row[keys[name]]:.2f}%"
            if label not in ("start", "base") and "base" in scores:
                cell += f" ({100 * (row[keys[name]] - scores['base'][keys[name]]):+.2f})"
            cells.append(cell)
        print(f"| {label} | " + " | ".join(cells) + " |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("run", "report"))
    p.add_argument("--init", type=Path, default=ROOT / "models" / "default",
                   help="the weights every arm starts from")
    p.add_argument("--runs", type=Path, default=ROOT / "runs")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    p.add_argument("--full", action="store_true",
                   help="report: score on the full validation sets (minutes per arm)")
    args = p.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    if args.action == "run":
        run(args.init, args.runs, args.arms)
    else:
        report(args.init, args.runs, args.arms, args.full)
    return 0


if __name__ == "__main__":
    sys.exit(main())
