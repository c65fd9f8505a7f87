#!/usr/bin/env python3
"""Whole pages, ours against Tesseract's, timed in turns on the same pages.

    python bench/bench_vs_tesseract.py [--data pagexml:../shared/data/hooker] [--pages 12]
                                        [--rounds 3] [--decoder wordbeam] [--read-shifts none]
                                        [--model models/default]

Each validation page (split as in training) is read end to end by both, one after the other,
the order swapped every round so that neither always runs on a cooler machine: ours loads the
file and reads it as a page (finding the sheet, segmenting, the network, decoding; the model is
loaded once, before the clock starts, as in the app), Tesseract loads the same file and reads it
with ``--psm 3`` (fully automatic page segmentation), English model, through pytesseract as the
app's comparison column does. Per page the median over the rounds is kept; the ratio of the
totals is what the photographed-pages issue's speed target is about (ours at most 0.6x). Page
CER of both is printed too (the same normalised text as ``python -m htr evaluate --level page``).
Run it on a quiet machine: the timings are wall clock.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from htr.cli import parse_read_shifts  # noqa: E402
from htr.image import load_image  # noqa: E402
from htr.metrics import cer  # noqa: E402
from htr.readers import group_split  # noqa: E402
from htr.readers.pagexml import read_pagexml_pages  # noqa: E402
from htr.recognizer import Recognizer  # noqa: E402
from htr.tesseract import tesseract_text, tesseract_version  # noqa: E402
from htr.text import normalize_text  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="pagexml:../shared/data/hooker",
                    help="pagexml:FOLDER or alto:FOLDER of transcribed pages")
    ap.add_argument("--pages", type=int, default=12, help="validation pages to read")
    ap.add_argument("--rounds", type=int, default=3, help="times each page is read by each")
    ap.add_argument("--decoder", default=None, help="our decoder (default: the library's)")
    ap.add_argument("--model", type=Path, default=None, help="our model folder (default: the shipped one)")
    ap.add_argument("--read-shifts", type=parse_read_shifts, metavar="ROWS", default=None,
                    help="rows each line is read shifted by, e.g. -1,1, or none (read once); "
                         "default: the model's")
    args = ap.parse_args()

    kind, _, folder = args.data.partition(":")
    if kind not in ("pagexml", "alto") or not folder:
        ap.error("--data takes pagexml:FOLDER or alto:FOLDER")
    pages = [p for p in read_pagexml_pages(Path(folder))
             if group_split(p.group) == "val"][:args.pages]
    if not pages:
        print(f"no validation pages under {folder}", file=sys.stderr)
        return 2
    recognizer = Recognizer.load(args.model, decoder=args.decoder, read_shifts=args.read_shifts)
    recognizer.read_page(load_image(pages[0].image))  # warm-up: the network's first shapes
    print(f"{len(pages)} pages, {args.rounds} rounds; ours: {recognizer.decoder}; "
          f"Tesseract {tesseract_version()} --psm 3", flush=True)

    def ours(path: Path) -> str:
        return recognizer.read_page(load_image(path), "auto").text

    def tesseract(path: Path) -> str:
        return tesseract_text(load_image(path), level="page")

    times: dict[str, list[list[float]]] = {"ours": [[] for _ in pages],
                                           "tesseract": [[] for _ in pages]}
    texts: dict[str, list[str]] = {"ours": [""] * len(pages), "tesseract": [""] * len(pages)}
    for r in range(args.rounds):
        for i, page in enumerate(pages):
            order = (("ours", ours), ("tesseract", tesseract))
            for name, read in order if (r + i) % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                texts[name][i] = read(page.image)
                times[name][i].append(time.perf_counter() - start)
        print(f"round {r + 1}: ours {sum(t[-1] for t in times['ours']):.1f} s, Tesseract "
              f"{sum(t[-1] for t in times['tesseract']):.1f} s", flush=True)

    truth = [p.text for p in pages]
    total = {name: sum(statistics.median(t) for t in per_page) for name, per_page in times.items()}
    for name in ("ours", "tesseract"):
        # Line by line, as the truth is (normalising a whole page would join its lines).
        hyp = ["\n".join(normalize_text(line) for line in t.splitlines()) for t in texts[name]]
        print(f"{name:10s} {total[name] / len(pages):.2f} s/page (median of {args.rounds} per page), "
              f"page CER {cer(truth, hyp):.1%}")
    print(f"ours / Tesseract: {total['ours'] / total['tesseract']:.2f}x the time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
