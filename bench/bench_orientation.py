#!/usr/bin/env python3
"""Pages the wrong way up: validation pages read upright, on their side, upside down and askew.

Each validation page (Hooker letters, PAGE-XML; Copiste texts, ALTO; split as in training,
:func:`htr.readers.group_split`), scanned or, with ``--photos``, as a synthetic phone photo
(:func:`htr.photo.photograph`), is turned by ``np.rot90(page, k)`` for k = 0..3 and read at
``auto`` (:mod:`htr.orientation` turns it back when it reads as nonsense). For each turn:
how many pages were read the right way up, the CER of their text, line detection against the
true lines (IoU >= 0.5, the found lines mapped back onto the upright page) and seconds a page.
For the upright pages, also how many were doubtful enough to be tried at the other turns, and
the time each takes with turning off (``PageReader(turn_pages=False)``), read in turns with it.

``--tilts 5 10 -15``: the pages also laid askew by those degrees (counter-clockwise, on a canvas
that holds the whole page, the new corners paper-grey), read as they lie and levelled
(:func:`htr.orientation.level_angle`); the true lines' boxes are turned the same way (the box
round their turned corners) to score line detection.

    python bench/bench_orientation.py [--sets hooker copiste] [--limit N] [--photos] [--seed 0]
                                      [--tilts DEGREES ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from htr.image import load_image  # noqa: E402
from htr.metrics import Detection, cer, detection  # noqa: E402
from htr.orientation import looks_upright, turned_back, turned_image  # noqa: E402
from htr.photo import photograph  # noqa: E402
from htr.readers import group_split  # noqa: E402
from htr.readers.pagexml import read_alto_pages, read_pagexml_pages  # noqa: E402

ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {"hooker": (read_pagexml_pages, ROOT / "hooker"), "copiste": (read_alto_pages, ROOT / "copiste")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", nargs="+", choices=tuple(SETS), default=list(SETS))
    p.add_argument("--limit", type=int, help="at most N pages of each set")
    p.add_argument("--photos", action="store_true", help="read synthetic phone photos of the pages")
    p.add_argument("--seed", type=int, default=0, help="the photos' random draws")
    p.add_argument("--model", default=None)
    p.add_argument("--tilts", type=float, nargs="*", default=[],
                   help="also lay the pages askew by these degrees")
    args = p.parse_args()

    from htr.page import PageReader
    from htr.recognizer import Recognizer

    recognizer = Recognizer.load(args.model)
    reader, unturned = PageReader(recognizer), PageReader(recognizer, turn_pages=False)
    rng = np.random.default_rng(args.seed)
    for name in args.sets:
        read_pages, root = SETS[name]
        pages = [pg for pg in read_pages(root) if group_split(pg.group) == "val"][:args.limit]
        if args.photos:
            pages = [photograph(pg, rng).page for pg in pages]
        images = [load_image(pg.image) for pg in pages]
        references = [pg.text for pg in pages]
        reader.read(images[0])  # warm-up: the first reading loads the lexicons' caches
        print(f"{name}{' photos' if args.photos else ''}: {len(pages)} validation pages", flush=True)
        for turns in range(4):
            right, texts, seconds, found, doubtful, plain = 0, [], [], Detection(0, 0, 0), 0, []
            for pg, grey in zip(pages, images):
                start = time.perf_counter()
                result = reader.read(turned_image(grey, turns))
                seconds.append(time.perf_counter() - start)
                if turns == 0:  # the same page with turning off, in turns with it
                    start = time.perf_counter()
                    unturned.read(grey)
                    plain.append(time.perf_counter() - start)
                right += result.turned == 90 * ((4 - turns) % 4)
                doubtful += turns == 0 and result.turned == 0 and not looks_upright(result)
                texts.append(result.text)
                upright = turned_back(result, turns)  # in the upright page's pixels
                found += detection([line.box for line in upright.lines], pg.line_boxes())
            print(f"  turned {90 * turns:3d} degrees: read the right way up {right}/{len(pages)}, "
                  f"CER {cer(references, texts):.2%}, lines found F1 {found.f1:.3f}, "
                  f"{np.mean(seconds):.2f} s a page", flush=True)
            if turns == 0:
                print(f"    upright pages tried at other turns: {doubtful}; {np.mean(plain):.2f} s a "
                      f"page with turning off", flush=True)
        for degrees in args.tilts:
            scores = {}
            for name_, chosen in (("as they lie", unturned), ("levelled", reader)):
                texts, seconds, found = [], [], Detection(0, 0, 0)
                for pg, grey in zip(pages, images):
                    askew, turn = laid_askew(grey, degrees)
                    start = time.perf_counter()
                    result = chosen.read(askew)
                    seconds.append(time.perf_counter() - start)
                    texts.append(result.text)
                    found += detection([line.box for line in result.lines],
                                       [turned_box(b, turn) for b in pg.line_boxes()])
                scores[name_] = f"CER {cer(references, texts):.2%}, F1 {found.f1:.3f}, {np.mean(seconds):.2f} s"
            print(f"  laid {degrees:g} degrees askew: " + "; ".join(f"{k} {v}" for k, v in scores.items()),
                  flush=True)
    return 0


def laid_askew(grey: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """``grey`` turned ``degrees`` counter-clockwise on a canvas that holds all of it, and the
    2 x 3 matrix that took it there."""
    h, w = grey.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    size = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    turn[:, 2] += (size[0] - w) / 2, (size[1] - h) / 2
    return cv2.warpAffine(grey, turn, size, flags=cv2.INTER_CUBIC,
                          borderValue=int(np.median(grey))), turn


def turned_box(box, turn: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    corners = cv2.transform(np.array([[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]], np.float64), turn)[0]
    (a, b), (c, d) = corners.min(axis=0), corners.max(axis=0)
    return int(a), int(b), int(np.ceil(c)), int(np.ceil(d))


if __name__ == "__main__":
    sys.exit(main())
