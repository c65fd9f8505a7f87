#!/usr/bin/env python3
"""How the model reads line crops that take in their neighbours' strokes: the PAGE-XML lines of
a set cut out as their outlines (the polygon, a little grown, everything else painted paper:
how training and the validation tables cut them) and as plain boxes (the polygon's box, nothing
painted: how a person or another tool often crops a line), each read as given (``line``) and
as ``python -m htr read`` reads an image by default (``auto``).

    python bench/loose_crops.py [--data ../shared/data/hooker] [--split val] [--limit N]

Prints CER per cut and level, and, at ``auto``, what the crops were taken for (a box crop that
takes in most of the lines above and below is read as a page of two or three lines). Measured
2026-12-07 (Hooker validation, 419 lines, wordbeam, each read twice): outlines 17.79% (line) /
18.34% (auto), boxes 27.49% / 79.68% (134 of them taken for pages); the next session, with a
crop's edge-cut rows no longer counted (``htr.input_kind.EDGE_ROW``): outlines 17.79% / 18.17%,
boxes 27.49% / 51.95% (55 taken for pages); and with neighbours painted out only where the own
row is clear (``htr.input_kind.OWN_ROW_OUTWEIGHS``): 17.79% / 18.18%, 27.49% / 52.46%; and with
the lines a page's edge cuts through left unread (``htr.input_kind.uncut_lines``): 17.79% /
18.11%, 27.49% / 34.56% (the same 55 taken for pages).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from htr.evaluate import evaluate  # noqa: E402
from htr.readers import split_of  # noqa: E402
from htr.readers.pagexml import read_pagexml  # noqa: E402
from htr.recognizer import Recognizer  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "hooker",
                   help="a folder of PAGE-XML pages (default: ../shared/data/hooker)")
    p.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped one)")
    p.add_argument("--split", choices=("train", "val", "all"), default="val")
    p.add_argument("--limit", type=int, default=0, help="at most this many lines, spread over the set")
    args = p.parse_args()
    recognizer = Recognizer.load(args.model)
    print(f"{'cut':10} {'level':6} {'n':>5} {'CER':>8}  taken for")
    for cut, mask in (("outlines", True), ("boxes", False)):
        samples = [s for s in read_pagexml(args.data, mask=mask)
                   if args.split == "all" or split_of(s) == args.split]
        if args.limit and len(samples) > args.limit:
            samples = [samples[int(i * len(samples) / args.limit)] for i in range(args.limit)]
        for level in ("line", "auto"):
            result = evaluate(recognizer, samples, progress=False, level=level)
            kinds = ", ".join(f"{n} {k}s" for k, n in sorted(result.kinds.items())) if result.kinds else ""
            print(f"{cut:10} {level:6} {len(samples):5d} {100 * result.cer:7.2f}%  {kinds}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
