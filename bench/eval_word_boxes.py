#!/usr/bin/env python3
"""How well :mod:`htr.segment` finds the words of a page: word-box precision, recall and F1 on
synthetic pages composed from rendered IAM-OnDB *validation* lines, where every word's true box
is known from the pen strokes.

Each page holds 10-25 lines drawn with randomised pens (:func:`htr.ink.render_strokes` with a
generator: pen width and pressure, slant, rotation), the ink made equally dark and the writing
one size (give or take 7 % a line: one writer, one pen), on regular baselines at a varied line
spacing (ascenders and descenders of neighbouring lines may touch) and indent, on paper with
uneven lighting, blotchy texture and grain, the whole page turned by up to ``--skew`` degrees.
The true boxes come from the strokes themselves: the renderer's pixel coordinates of every pen
point are captured (by wrapping ``htr.ink._draw``, which receives them), a word's box is the box of its points grown by half the pen width, and its points are
the strokes :func:`htr.ink.assign_words` gave it (the cut ``iam-ondb-words`` uses). Lines whose
cut is ambiguous (about half of them) are drawn too, so that the pages look like pages, but
their words are not scored: a found word lying mostly inside such a line is ignored. The
scored lines are thus the ones whose words the pen left clearly apart: the score flatters
writing that crowds its words. ``--split train`` composes pages of training lines instead (for
tuning, so that the validation pages stay unseen).

Word boxes are measured three ways:

* ``lines``: :class:`htr.words.WordSegmenter` on each scored line's ground-truth crop (the
  box of its ink with a margin of 0.4 body heights, cut by :func:`htr.linecut.line_crop` with the
  convex hull of its pen points as its polygon: neighbours' ascenders and descenders near it
  stay, as in a page segmenter's crop);
* ``page``: end to end, :class:`htr.segment.LineSegmenter` on the page, then WordSegmenter on
  each found line's crop (:func:`htr.linecut.line_crop`, as ``Recognizer.read_page`` cuts it);
* ``recognizer`` (``--recognizer``): the word boxes of ``Recognizer.read_page`` (``--model``).

A found word counts when its box matches a true word's box one to one at IoU >= 0.5 (Hungarian
matching, ``bench/eval_segmentation.match``). Unmatched true words are told apart as ``split``
(two or more found boxes lie mostly inside it), ``merged`` (the found box that covers it most
covers another true word too) or ``other``.

    python bench/eval_word_boxes.py [--pages 20] [--seed 0] [--overlays 3] [--recognizer]

Overlays (true boxes green, found red) go to /tmp/wordbox_<page>_<way>.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import htr.ink as ink  # noqa: E402
from eval_segmentation import iou_matrix, match  # noqa: E402
from htr.readers import open_data, split_of  # noqa: E402
from htr.linecut import line_crop  # noqa: E402
from htr.results import Line  # noqa: E402
from htr.segment import LineSegmenter  # noqa: E402
from htr.words import WordSegmenter  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared/data/iam-ondb"
#: Rendered line height before the page's scale (x-height about a quarter of it).
LINE_HEIGHT = 80


@dataclass
class PageLine:
    box: tuple[int, int, int, int]  # ground-truth crop: ink box plus margin, page pixels
    polygon: tuple  # convex hull of its pen points, page pixels
    words: np.ndarray  # (n, 4) true word boxes, or (0, 4) when the line is not scored
    text: str
    scored: bool


@dataclass
class SyntheticPage:
    name: str
    grey: np.ndarray
    lines: list[PageLine] = field(default_factory=list)

    @property
    def words(self) -> np.ndarray:
        boxes = [l.words for l in self.lines if l.scored]
        return np.concatenate(boxes) if boxes else np.zeros((0, 4))


# --- rendering with known geometry ------------------------------------------------------------

_ORIGINAL_DRAW = ink._draw


def render_with_points(strokes, rng, height=LINE_HEIGHT):
    """Ink coverage (float32 0..1) of a line drawn by :func:`htr.ink.render_strokes` with
    ``rng``, and where it drew every cleaned pen point: (xy (n, 2) pixels, first-point flags,
    pen width in pixels)."""
    seen = {}

    def spy(xy, first, pen, shape, r):
        alpha = _ORIGINAL_DRAW(xy, first, pen, shape, r)
        seen.update(xy=np.asarray(xy, np.float64).copy(), first=np.asarray(first).copy(), pen=pen,
                    alpha=alpha)
        return alpha

    ink._draw = spy
    try:
        ink.render_strokes(strokes, rng, height)
    finally:
        ink._draw = _ORIGINAL_DRAW
    return seen["alpha"], seen["xy"], seen["first"], seen["pen"]


def load_lines(data: Path, split: str = "val"):
    """The lines of one split: [(line index, text, ink loader, word pieces or None)]."""
    lines = [s for s in open_data(f"iam-ondb:{data}") if split_of(s) == split]
    words = [s for s in open_data(f"iam-ondb-words:{data}") if split_of(s) == split]
    pieces: dict[int, list[tuple[int, tuple[int, ...], int]]] = {}
    for w in words:
        loader = w.load
        pos = int(w.id.rsplit("-", 1)[1]) - 1
        pieces.setdefault(loader.index, []).append((pos, loader.pieces, loader.num_pieces))
    out = []
    for s in lines:
        idx = s.load.index
        cut = pieces.get(idx)
        n_words = len(s.text.split(" "))
        if cut is not None and len(cut) == n_words:
            cut = [p for _, p, _ in sorted(cut)]
        else:
            cut = None
        out.append((idx, s.text, s.load, cut))
    return out


def paper_texture(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Paper brightness: a base tone, lighting falling off across the sheet, soft blotches and
    fibre grain."""
    base = rng.uniform(200, 245)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-30, 30, 2)
    light = gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    blot = rng.random((max(2, h // 60), max(2, w // 60))).astype(np.float32)
    blot = cv2.GaussianBlur(cv2.resize(blot, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 8)
    fibre = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.2)
    return base + light + rng.uniform(4, 14) * (blot - 0.5) + rng.uniform(2, 6) * fibre


def compose_page(name: str, pool, rng: np.random.Generator, skew: float) -> SyntheticPage:
    """A page of 10-25 lines drawn from ``pool`` (see :func:`load_lines`)."""
    n = int(rng.integers(10, 26))
    chosen = [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]
    scale = rng.uniform(0.55, 1.0)  # the page's writing size
    spacing = rng.uniform(0.95, 1.6)  # line pitch in rendered line heights (80 px at scale 1)
    width = int(rng.uniform(1500, 2200))
    left = int(rng.uniform(0.04, 0.12) * width)
    rendered = []
    for idx, text, loader, cut in chosen:
        strokes = loader.strokes()
        alpha, xy, first, pen = render_with_points(strokes, rng)
        starts = np.flatnonzero(first)
        bounds = np.append(starts, len(xy))
        words = []
        if cut is not None and len(starts) == cut_pieces(loader):
            for pieces in cut:
                pts = np.concatenate([xy[bounds[j]:bounds[j + 1]] for j in pieces])
                words.append(pts)
        else:
            cut = None
        body = max(1.0, float(np.subtract(*np.percentile(xy[:, 1], [75, 25]))))
        rendered.append((alpha, xy, pen, body, words, text, cut is not None))
    # One writer, one size: every line's body (the renderer draws each at its own) brought to
    # the page's, give or take 7 %; the sheet is widened for the longest line.
    page_body = float(np.median([r[3] for r in rendered]))
    drawn = []
    for alpha, xy, pen, body, words, text, scored in rendered:
        s = scale * page_body / body * rng.uniform(0.93, 1.07)
        drawn.append((alpha, xy, pen, s, words, text, scored))
    width = max(width, int(max(d[0].shape[1] * d[3] for d in drawn)) + left + 20)
    height = int(sum(LINE_HEIGHT * scale * spacing for _ in drawn) + 2 * LINE_HEIGHT * scale + 100)
    cover = np.zeros((height, width), np.float32)
    placed = []
    y = 50 + LINE_HEIGHT * scale * 0.6 + rng.uniform(0, 40)  # the first line's middle
    for alpha, xy, pen, s, words, text, scored in drawn:
        a = cv2.resize(alpha, (max(1, round(alpha.shape[1] * s)), max(1, round(alpha.shape[0] * s))),
                       interpolation=cv2.INTER_AREA)
        # One pen and ink per page: a thin pen, shrunk below a pixel, would otherwise come out
        # pale beside its neighbours (the renderer picks a pen per line).
        strong = a[a > 0.1]
        if strong.size:
            a = np.clip(a / max(0.3, float(np.percentile(strong, 95))), 0, 1)
        indent = left + int(rng.uniform(0, 0.15) * width) if rng.random() < 0.3 else left
        indent = min(indent, width - a.shape[1] - 5)
        # Lines written on regular baselines: the middle of each line's ink (not of its
        # rendered box, in which the renderer places the ink at random) one pitch apart.
        oy = max(0, int(round(y - s * float(np.median(xy[:, 1])))))
        hh, ww = min(a.shape[0], height - oy), a.shape[1]
        cover[oy:oy + hh, indent:indent + ww] = np.maximum(cover[oy:oy + hh, indent:indent + ww], a[:hh])
        placed.append((xy * s + (indent, oy), pen * s, [p * s + (indent, oy) for p in words], text, scored))
        y += LINE_HEIGHT * scale * spacing * rng.uniform(0.92, 1.08)
    # The whole sheet turned a little (points turned with it).
    angle = rng.uniform(-skew, skew)
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cover = cv2.warpAffine(cover, turn, (width, height), flags=cv2.INTER_LINEAR)
    ink_level = rng.uniform(20, 110)
    paper = paper_texture(height, width, rng)
    grey = paper - (paper - ink_level) * np.clip(cover * rng.uniform(0.8, 1.0), 0, 1)
    grey = cv2.GaussianBlur(grey, (0, 0), rng.uniform(0.3, 0.8))
    grey = np.clip(grey + rng.normal(0, rng.uniform(1, 5), grey.shape), 0, 255).astype(np.uint8)

    def turned(p):
        return p @ turn[:, :2].T + turn[:, 2]

    def box_of(p, grow):
        return (max(0, int(np.floor(p[:, 0].min() - grow))), max(0, int(np.floor(p[:, 1].min() - grow))),
                min(width, int(np.ceil(p[:, 0].max() + grow)) + 1),
                min(height, int(np.ceil(p[:, 1].max() + grow)) + 1))

    page = SyntheticPage(name, grey)
    for xy, pen, words, text, scored in placed:
        pts = turned(xy)
        body = float(np.subtract(*np.percentile(xy[:, 1], [75, 25])))  # about the x-height
        line_box = box_of(pts, pen / 2 + 0.4 * max(body, 4))
        boxes = np.array([box_of(turned(p), pen / 2) for p in words], np.float64).reshape(-1, 4)
        hull = cv2.convexHull(np.round(pts).astype(np.int32)).reshape(-1, 2)
        polygon = tuple((int(x), int(y)) for x, y in hull)
        page.lines.append(PageLine(line_box, polygon, boxes, text, scored))
    return page


def cut_pieces(loader) -> int:
    return len(ink.clean_strokes(loader.strokes()))


# --- scoring ------------------------------------------------------------------------------------

@dataclass
class Tally:
    pred: int = 0
    gt: int = 0
    hit: int = 0
    ignored: int = 0
    misses: Counter = field(default_factory=Counter)
    seconds: list = field(default_factory=list)

    def add(self, pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> list:
        pairs = match(pred, gt)
        matched_p = {r for r, _ in pairs}
        keep = np.ones(len(pred), bool)
        if ignore is not None and len(ignore) and len(pred):
            # Unmatched predictions lying mostly inside an unscored line are not counted.
            ix = np.clip(np.minimum(pred[:, None, 2], ignore[None, :, 2])
                         - np.maximum(pred[:, None, 0], ignore[None, :, 0]), 0, None)
            iy = np.clip(np.minimum(pred[:, None, 3], ignore[None, :, 3])
                         - np.maximum(pred[:, None, 1], ignore[None, :, 1]), 0, None)
            area = np.maximum((pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1]), 1)
            inside = (ix * iy).max(axis=1) / area >= 0.5
            near_gt = iou_matrix(pred, gt).max(axis=1, initial=0) >= 0.1 if len(gt) else np.zeros(len(pred), bool)
            keep = ~(inside & ~near_gt) | np.isin(np.arange(len(pred)), list(matched_p))
        self.ignored += int((~keep).sum())
        self.pred += int(keep.sum())
        self.gt += len(gt)
        self.hit += len(pairs)
        matched_g = {c for _, c in pairs}
        for g in range(len(gt)):
            if g not in matched_g:
                self.misses[self.why(g, pred[keep], gt)] += 1
        return pairs

    @staticmethod
    def why(g: int, pred: np.ndarray, gt: np.ndarray) -> str:
        if len(pred) == 0:
            return "other"
        inter = _intersection(pred, gt)
        area_p = np.maximum((pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1]), 1)
        area_g = np.maximum((gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1]), 1)
        inside = inter[:, g] / area_p >= 0.5
        if inside.sum() >= 2:
            return "split"
        best = int(np.argmax(inter[:, g]))
        if inter[best, g] > 0 and ((inter[best] / area_g >= 0.5).sum() >= 2):
            return "merged"
        return "other"

    def report(self, label: str) -> str:
        p, r = self.hit / max(1, self.pred), self.hit / max(1, self.gt)
        f = 2 * p * r / max(1e-9, p + r)
        misses = ", ".join(f"{k} {v}" for k, v in sorted(self.misses.items()))
        extra = f", {self.ignored} ignored in unscored lines" if self.ignored else ""
        t = f"  {np.mean(self.seconds):.3f} s/page" if self.seconds else ""
        return (f"{label:10s} precision {p:.3f}  recall {r:.3f}  F1 {f:.3f}  "
                f"(true {self.gt}, found {self.pred}, matched {self.hit}{extra}; missed: {misses}){t}")


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    return ix * iy


def overlay(page: SyntheticPage, pred: np.ndarray, path: Path, lines=None) -> None:
    image = cv2.cvtColor(page.grey, cv2.COLOR_GRAY2BGR)
    for line in page.lines:
        if not line.scored:
            x0, y0, x1, y1 = line.box
            cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (200, 200, 0), 1)
    for line in lines or []:
        x0, y0, x1, y1 = line.box
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (230, 0, 0), 1)
    for x0, y0, x1, y1 in page.words.astype(int):
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (0, 170, 0), 3)
    for x0, y0, x1, y1 in pred.astype(int):
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (0, 0, 230), 1)
    cv2.imwrite(str(path), image)


def boxes_of(words) -> np.ndarray:
    return np.array([w.box for w in words], np.float64).reshape(-1, 4)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--pages", type=int, default=20)
    p.add_argument("--split", default="val", choices=["val", "train"],
                   help="lines of this split (train: for tuning, keeping val for the score)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skew", type=float, default=2.0, help="largest page rotation, degrees")
    p.add_argument("--overlays", type=int, default=3, help="overlay PNGs of the first N pages")
    p.add_argument("--only", choices=["lines", "page"], help="measure one way only")
    p.add_argument("--recognizer", action="store_true", help="also Recognizer.read_page's word boxes")
    p.add_argument("--model", help="model folder for --recognizer (default: the shipped model)")
    p.add_argument("--save-pages", type=Path, help="also write the page images to this folder")
    p.add_argument("--threads", type=int, default=1, help="OpenCV threads (1: one-core timing)")
    args = p.parse_args()
    cv2.setNumThreads(args.threads)

    pool = load_lines(args.data, args.split)
    n_cut = sum(1 for line in pool if line[3] is not None)
    print(f"IAM-OnDB {args.split} lines: {len(pool)} ({n_cut} with known word boxes)")
    rng = np.random.default_rng(args.seed)
    lines_segmenter, words_segmenter = LineSegmenter(), WordSegmenter()
    tallies = {"lines": Tally(), "page": Tally()}
    recognizer = None
    if args.recognizer:
        from htr.recognizer import Recognizer
        recognizer = Recognizer.load(args.model) if args.model else Recognizer.load()
        tallies["recognizer"] = Tally()
    render_s = []
    for k in range(args.pages):
        start = time.perf_counter()
        page = compose_page(f"p{args.seed}-{k:02d}", pool, rng, args.skew)
        render_s.append(time.perf_counter() - start)
        if args.save_pages:
            args.save_pages.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.save_pages / f"{page.name}.png"), page.grey)
        gt = page.words
        ignore = np.array([l.box for l in page.lines if not l.scored], np.float64).reshape(-1, 4)
        draw = k < args.overlays
        hits = {name: t.hit for name, t in tallies.items()}
        if args.only != "page":
            t = tallies["lines"]
            found_all = []
            start = time.process_time()
            for line in page.lines:
                if not line.scored:
                    continue
                crop = line_crop(page.grey, Line(box=line.box, polygon=line.polygon))
                found = boxes_of(words_segmenter.find_words(crop, line.box))
                found_all.append(found)
                t.add(found, line.words)
            t.seconds.append(time.process_time() - start)
            if draw:
                overlay(page, np.concatenate(found_all) if found_all else np.zeros((0, 4)),
                        Path(f"/tmp/wordbox_{page.name}_lines.png"))
        if args.only != "lines":
            t = tallies["page"]
            start = time.process_time()
            found_lines = lines_segmenter.find_lines(page.grey)
            found = []
            for line in found_lines:
                found.extend(words_segmenter.find_words(line_crop(page.grey, line), line.box))
            t.seconds.append(time.process_time() - start)
            pred = boxes_of(found)
            t.add(pred, gt, ignore)
            if draw:
                overlay(page, pred, Path(f"/tmp/wordbox_{page.name}_page.png"), found_lines)
        if recognizer is not None:
            t = tallies["recognizer"]
            start = time.process_time()
            result = recognizer.read_page(page.grey, level="page")
            t.seconds.append(time.process_time() - start)
            pred = boxes_of([w for line in result.lines for w in line.words])
            t.add(pred, gt, ignore)
            if draw:
                overlay(page, pred, Path(f"/tmp/wordbox_{page.name}_recognizer.png"))
        print(f"  {page.name}: {page.grey.shape[1]}x{page.grey.shape[0]}, {len(page.lines)} lines "
              f"({sum(l.scored for l in page.lines)} scored), {len(gt)} words"
              + "".join(f"; {name} {t.hit - hits[name]} matched, {t.seconds[-1]:.2f} s"
                        for name, t in tallies.items() if t.seconds),
              flush=True)
    print(f"pages {args.pages} (seed {args.seed}, skew up to {args.skew} deg); composing took "
          f"{np.mean(render_s):.2f} s/page; CPU seconds per page, {args.threads} OpenCV thread(s)")
    for name, t in tallies.items():
        if t.gt or t.pred:
            print(t.report(name))
    if args.overlays:
        print("overlays: /tmp/wordbox_<page>_<way>.png (true green, found red, found lines blue, "
              "unscored lines cyan)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
