"""Page reading speed on this machine: segmentation of a 2000x3000 photo and whole pages read
end to end (load, segmentation, network, decoding) with the shipped model.

    python bench/bench_page.py --data ../shared/data/hooker --pages 10 [--decoder greedy]

Pages are the Hooker validation letters' (real scans, about 1000x1600, 15-37 lines). The photo
is one of them scaled up to 2000x3000, as a phone camera delivers it. Timings are wall-clock
after one warm-up page, with whatever else runs on the machine: run it on a quiet machine.
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

import cv2  # noqa: E402

from htr.image import load_image  # noqa: E402
from htr.readers import group_split  # noqa: E402
from htr.readers.pagexml import read_pagexml_pages  # noqa: E402
from htr.recognizer import Recognizer  # noqa: E402
from htr.segment import LineSegmenter  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/hooker"))
    ap.add_argument("--pages", type=int, default=10, help="validation pages to read")
    ap.add_argument("--decoder", default=None, help="decoder (default: the library's)")
    args = ap.parse_args()

    pages = [p for p in read_pagexml_pages(args.data) if group_split(p.group) == "val"][:args.pages]
    if not pages:
        print(f"no validation pages under {args.data}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    recognizer = Recognizer.load(decoder=args.decoder)
    print(f"model and decoder ({recognizer.decoder}) loaded in {time.perf_counter() - start:.2f} s")
    greys = [load_image(p.image) for p in pages]
    recognizer.read_page(greys[0])  # warm-up: the network's first shapes

    segmenter = LineSegmenter()
    photo = cv2.resize(greys[0], (2000, 3000), interpolation=cv2.INTER_CUBIC)
    seg = min(_timed(lambda: segmenter.find_lines(photo)) for _ in range(3))
    read = min(_timed(lambda: recognizer.read_page(photo)) for _ in range(2))
    print(f"2000x3000 photo: segmentation {seg:.3f} s (best of 3), read end to end {read:.2f} s")

    # The segmenter with and without its line network (htr.linemask), in turns on the same pages.
    classical = LineSegmenter(line_mask=None)
    turns: dict[str, list[float]] = {"classical": [], "with the line network": []}
    for r in range(3):
        for grey in greys:
            order = [("classical", classical), ("with the line network", segmenter)]
            for name, seg_ in order if r % 2 == 0 else order[::-1]:
                turns[name].append(_timed(lambda: seg_.analyse(grey)))
    if segmenter.line_mask is not None:
        print("segmenting a page (median, 3 turns): " + ", ".join(
            f"{name} {1000 * statistics.median(t):.0f} ms" for name, t in turns.items()))

    seconds, lines = [], []
    for grey, page in zip(greys, pages):
        t = _timed(lambda: lines.append(len(recognizer.read_page(grey).lines)))
        seconds.append(t)
    per_line = sum(seconds) / max(1, sum(lines))
    print(f"{len(pages)} pages ({statistics.mean(lines):.1f} lines each, "
          f"{min(lines)}-{max(lines)}): {statistics.mean(seconds):.2f} s per page mean, "
          f"{statistics.median(seconds):.2f} median, {max(seconds):.2f} max; "
          f"{per_line * 1000:.0f} ms per line, so a 25-line page in {25 * per_line:.2f} s")
    return 0


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
