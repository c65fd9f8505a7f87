"""Tesseract's CER/WER on the same validation line crops our model is scored on: the baseline
users compare us with.

    python bench/tesseract_baseline.py --data folder:../shared/data/iam-lines --split val

Each crop is handed to the ``tesseract`` binary (via pytesseract) as one text line (``--psm 7``),
English model, as the distribution installs it; its text is normalised like our labels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm  # noqa: E402

from htr.metrics import cer, wer  # noqa: E402
from htr.readers import DataSpec, open_data, split_of  # noqa: E402
from htr.tesseract import tesseract_text, tesseract_version  # noqa: E402
from htr.text import normalize_text  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", required=True, metavar="KIND:PATH")
    ap.add_argument("--split", default="val", choices=("all", "train", "val", "test"))
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    print(f"tesseract {tesseract_version()}")
    print(f"{'data':32} {'n':>5} {'CER':>7} {'WER':>7} {'s/line':>7}")
    for text in args.data:
        spec = DataSpec.parse(text)
        samples = [s for s in open_data(spec) if args.split == "all" or split_of(s) == args.split]
        samples = samples[:args.limit] if args.limit else samples
        hyps, start = [], time.perf_counter()
        for s in tqdm(samples, desc=spec.name, leave=False, disable=not sys.stderr.isatty()):
            hyps.append(normalize_text(" ".join(tesseract_text(s.image(None), "line").split())))
        refs = [s.text for s in samples]
        secs = (time.perf_counter() - start) / max(1, len(samples))
        print(f"{spec.name:32} {len(samples):>5} {cer(refs, hyps):>7.2%} {wer(refs, hyps):>7.2%} "
              f"{secs:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
