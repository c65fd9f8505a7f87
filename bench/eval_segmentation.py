#!/usr/bin/env python3
"""How well :mod:`htr.segment` finds the text lines of real pages: line detection precision,
recall and F1 against PAGE-XML or ALTO ground truth (the Hooker letters, the Copiste pages),
and seconds per page.

A predicted line counts as found when its bounding box matches a ground-truth line's box one to
one at IoU >= 0.5 (Hungarian matching; boxes, not polygons: the Hooker polygons are thin and
irregular while our boxes hold the whole ink). Every TextLine with geometry is ground truth,
transcribed or not (``read_layout`` keeps the empty ones), vertical marginal notes included.
Polygons that are only a thin band along the baseline, or lie off it, are replaced by a band
round the baseline (:func:`htr.readers.pagexml.line_boxes`); the score against the boxes as drawn is printed too.

    python bench/eval_segmentation.py [--data ../shared/data/hooker] [--limit N] [--split val]
                                      [--letters JDH_2_16_144,JDH_2_16_146] [--overlays 4]
                                      [--photo] [--classical]
    python bench/eval_segmentation.py --data ../shared/data/copiste [--split val]

``--classical`` scores the segmenter without its line network (:mod:`htr.linemask`), for
comparison; CPU seconds then count the network's two threads too.

Overlays (ground truth green, prediction red) go to /tmp/seg_<page>.png. ``--photo`` also times
a synthetic 2000x3000 photo (a page upscaled, with shading and noise).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from htr.image import load_image  # noqa: E402
from htr.metrics import box_iou as iou_matrix, match_boxes as match  # noqa: E402
from htr.readers import group_split  # noqa: E402
from htr.readers.pagexml import letter_of, line_boxes, read_layout, turns  # noqa: E402
from htr.segment import LineSegmenter  # noqa: E402

def fixed_boxes(lines) -> np.ndarray:
    """Ground-truth boxes as the PAGE-XML reader cuts the lines (:func:`line_boxes`)."""
    return np.array(line_boxes(lines), np.float64).reshape(-1, 4)


def overlay(grey: np.ndarray, gt: np.ndarray, lines, path: Path) -> None:
    image = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    for x0, y0, x1, y1 in gt:
        cv2.rectangle(image, (int(x0), int(y0)), (int(x1) - 1, int(y1) - 1), (0, 170, 0), 3)
    for i, line in enumerate(lines):
        x0, y0, x1, y1 = line.box
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (0, 0, 230), 1)
        cv2.polylines(image, [np.array(line.baseline, np.int32)], False, (230, 0, 0), 1)
        best = iou_matrix(np.array([line.box], np.float64), gt).max(initial=0)
        cv2.putText(image, f"{i}:{best:.2f}", (x0 + 2, y0 + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 230), 1)
    cv2.imwrite(str(path), image)


def upscaled_shaded(grey: np.ndarray, size: tuple[int, int] = (2000, 3000)) -> np.ndarray:
    """A page as a large phone photo of the page alone (for timing; `htr.photo` makes whole
    photos): upscaled, lit from one side, with sensor noise."""
    w, h = size
    big = cv2.resize(grey, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 0.65 + 0.35 * (xx / w) * (1 - 0.3 * yy / h)
    noise = np.random.default_rng(0).normal(0, 4, (h, w)).astype(np.float32)
    return np.clip(big * light + noise, 0, 255).astype(np.uint8)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/hooker")
    p.add_argument("--limit", type=int, help="evaluate the first N pages only")
    p.add_argument("--every", type=int, default=1, help="every Nth page only (a quick sample)")
    p.add_argument("--letters", help="comma-separated letters (page-name prefixes) to restrict to")
    p.add_argument("--overlays", type=int, default=4, help="overlay PNGs of this many pages")
    p.add_argument("--overlay-pages", help="comma-separated page names to draw overlays for")
    p.add_argument("--worst", type=int, default=8, help="list this many worst pages")
    p.add_argument("--photo", action="store_true", help="also time a synthetic 2000x3000 photo")
    p.add_argument("--threads", type=int, default=1, help="OpenCV threads (1: one-core timing)")
    p.add_argument("--split", choices=("all", "train", "val"), default="all",
                   help="the letters of one split only (as in training: htr.readers.group_split)")
    p.add_argument("--classical", action="store_true",
                   help="without the line network (htr.linemask): the classical segmenter alone")
    args = p.parse_args()
    cv2.setNumThreads(args.threads)

    xmls = sorted(args.data.glob("*.xml"))
    if args.letters:
        wanted = set(args.letters.split(","))
        xmls = [x for x in xmls if letter_of(x.stem) in wanted]
    if args.split != "all":
        xmls = [x for x in xmls if group_split(letter_of(x.stem)) == args.split]
    xmls = xmls[::args.every]
    if args.limit:
        xmls = xmls[:args.limit]
    if not xmls:
        print(f"no PAGE-XML or ALTO pages under {args.data}", file=sys.stderr)
        return 2
    draw = set(args.overlay_pages.split(",")) if args.overlay_pages else \
        {x.stem for x in xmls[::max(1, len(xmls) // max(1, args.overlays))][:args.overlays]}

    segmenter = LineSegmenter(line_mask=None if args.classical else True)
    if not args.classical and segmenter.line_mask is None:
        print("the line network is not installed (models/linemask): the classical segmenter alone")
    n_pred = n_gt = n_hit = n_hit_raw = n_vertical = 0
    seconds = []
    per_page = []
    near_miss_gt: list[float] = []  # best IoU of each unmatched ground-truth line
    near_miss_pred: list[float] = []  # and of each unmatched prediction
    for xml in xmls:
        gt_lines = read_layout(xml)
        n_vertical += sum(1 for l in gt_lines if turns(l))
        raw_gt = np.array([l.box for l in gt_lines], np.float64).reshape(-1, 4)
        gt = fixed_boxes(gt_lines)
        grey = load_image(gt_lines[0].image if gt_lines else xml.with_suffix(".jpg"))
        start = time.process_time()  # CPU time: the machine may be busy with other work
        lines = segmenter.find_lines(grey)
        seconds.append(time.process_time() - start)
        pred = np.array([l.box for l in lines], np.float64).reshape(-1, 4)
        pairs = match(pred, gt)
        hits = len(pairs)
        n_hit_raw += len(match(pred, raw_gt))
        iou = iou_matrix(pred, gt)
        if iou.size:
            missed = np.setdiff1d(np.arange(len(gt)), [c for _, c in pairs])
            extra = np.setdiff1d(np.arange(len(pred)), [r for r, _ in pairs])
            near_miss_gt.extend(iou[:, missed].max(axis=0).tolist())
            near_miss_pred.extend(iou[extra, :].max(axis=1).tolist())
        n_pred, n_gt, n_hit = n_pred + len(pred), n_gt + len(gt), n_hit + hits
        per_page.append((xml.stem, len(pred), len(gt), hits))
        if xml.stem in draw:
            overlay(grey, gt, lines, Path(f"/tmp/seg_{xml.stem}.png"))

    precision = n_hit / max(1, n_pred)
    recall = n_hit / max(1, n_gt)
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    print(f"pages {len(xmls)}  ground-truth lines {n_gt} ({n_vertical} vertical)  predicted {n_pred}"
          f"  matched {n_hit}")
    print(f"precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  (IoU >= 0.5, one to one)")
    p_raw, r_raw = n_hit_raw / max(1, n_pred), n_hit_raw / max(1, n_gt)
    print(f"  against the boxes as drawn (thin and shifted polygons kept): precision {p_raw:.3f}  "
          f"recall {r_raw:.3f}  F1 {2 * p_raw * r_raw / max(1e-9, p_raw + r_raw):.3f}")
    print(f"CPU seconds/page {np.mean(seconds):.3f} mean, {np.max(seconds):.3f} max "
          f"(typical page {grey.shape[1]}x{grey.shape[0]}, {args.threads} OpenCV thread(s))")
    bins = [0, 0.1, 0.3, 0.5]
    for name, values in (("unmatched ground truth", near_miss_gt), ("unmatched predictions", near_miss_pred)):
        counts = np.histogram(values, bins=bins + [1.01])[0][:3]
        print(f"{name}: {len(values)}, best IoU <0.1: {counts[0]}, 0.1-0.3: {counts[1]}, "
              f"0.3-0.5: {counts[2]}")
    f1s = np.array([2 * hits / max(1, npred + ngt) for _, npred, ngt, hits in per_page])
    print(f"pages by F1: >= 0.95: {np.sum(f1s >= 0.95)}, 0.9-0.95: {np.sum((f1s >= 0.9) & (f1s < 0.95))}, "
          f"0.8-0.9: {np.sum((f1s >= 0.8) & (f1s < 0.9))}, < 0.8: {np.sum(f1s < 0.8)}")
    if args.worst:
        print("worst pages (pred, gt, matched):")
        per_page.sort(key=lambda r: (r[3] - max(r[1], r[2])))
        for name, npred, ngt, hits in per_page[:args.worst]:
            print(f"  {name}  {npred} {ngt} {hits}")
    if draw:
        print("overlays:", " ".join(f"/tmp/seg_{s}.png" for s in sorted(draw)))
    if args.photo:
        photo = upscaled_shaded(grey)
        segmenter.find_lines(photo)  # warm-up
        times = []
        for _ in range(3):
            start = time.process_time()
            lines = segmenter.find_lines(photo)
            times.append(time.process_time() - start)
        sx, sy = photo.shape[1] / grey.shape[1], photo.shape[0] / grey.shape[0]
        back = np.array([l.box for l in lines], np.float64).reshape(-1, 4) / [sx, sy, sx, sy]
        hits = len(match(back, gt))
        print(f"synthetic 2000x3000 photo of {xml.stem}: {min(times):.3f} CPU s (best of 3), "
              f"{len(lines)} lines, {hits} of {len(gt)} ground-truth lines matched "
              f"(the page itself: {per_page[-1][3]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
