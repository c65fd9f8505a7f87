"""Whole Hooker validation pages read end to end (load, sheet, segmentation, network, decoding)
by one checkout's library, for timing two checkouts in turns.

    python bench/bench_read_pages.py [--root OTHER_CHECKOUT] [--pages 6]

    # in turns, e.g. the code before a change (git worktree add /tmp/old HEAD~1) and now:
    for i in 1 2 3; do for r in /tmp/old .; do python bench/bench_read_pages.py --root $r; done; done

``--together`` reads them as one stream instead (:meth:`htr.Recognizer.read_pages`, as ``python
-m htr read`` reads a folder: the next page is segmented while one is read).

Prints seconds per page, wall clock and this process's CPU time (TensorFlow's threads included),
after one warm-up page, with the machine's load: on a busy machine compare CPU times, and take
medians of several turns. Both checkouts read with the same model folder (``--model``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=HERE, help="checkout whose htr library reads")
    ap.add_argument("--model", type=Path, default=HERE / "models" / "default")
    ap.add_argument("--data", type=Path, default=HERE.parent / "shared" / "data" / "hooker")
    ap.add_argument("--pages", type=int, default=6)
    ap.add_argument("--together", action="store_true",
                    help="read the pages as one stream (Recognizer.read_pages, as the command "
                         "line reads a folder), not one read_page call each")
    args = ap.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    from htr.image import load_image
    from htr.readers import group_split
    from htr.readers.pagexml import read_pagexml_pages
    from htr.recognizer import Recognizer

    pages = [p for p in read_pagexml_pages(args.data) if group_split(p.group) == "val"][:args.pages]
    recognizer = Recognizer.load(args.model)
    recognizer.read_page(load_image(pages[0].image))  # warm-up: the network's first shapes
    wall, cpu = time.perf_counter(), time.process_time()
    if args.together:
        for _ in recognizer.read_pages([p.image for p in pages]):
            pass
    else:
        for p in pages:
            recognizer.read_page(load_image(p.image))
    n = len(pages)
    print(f"{args.root}: {n} pages{' together' if args.together else ''}, "
          f"{(time.perf_counter() - wall) / n:.3f} s per page wall, "
          f"{(time.process_time() - cpu) / n:.3f} s CPU; load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
