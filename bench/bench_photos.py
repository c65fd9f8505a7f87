#!/usr/bin/env python3
"""Pages as people photograph them: validation pages turned into synthetic phone photos and read
beside the same pages scanned.

Each validation page (Hooker validation letters, PAGE-XML; Copiste validation texts, ALTO; split
as in training, :func:`htr.readers.group_split`) is put into a photo: turned by up to 8 degrees,
its corners moved by up to 8% of the page's size (perspective), tinted like paper under room
light, laid on a coloured, textured background (wood, cloth, stone, a painted desk) with a
margin round it, crossed by a soft shadow, lit unevenly, blurred, with sensor noise, and saved as
a colour JPEG. The true lines go through the same warp (their polygons and baselines mapped by
the same homography), so line detection on the photo is scored in the photo's own pixels.

Scans and photos are scored by :func:`htr.evaluate.evaluate_pages` (page CER, line detection
with IoU >= 0.5 one to one, seconds per page), the same code as ``python -m htr evaluate --level
page``. Sheet outlines found in the photos are checked against the true corners too.

    python bench/bench_photos.py [--hooker ../shared/data/hooker] [--copiste ../shared/data/copiste]
                                 [--sets hooker copiste] [--limit N] [--decoder wordbeam]
                                 [--seed 0] [--save 4]

``--surfaces N`` also photographs N of the backgrounds with no page on them (the same textures,
light falling off, blur, noise, JPEG) and counts the lines the segmenter finds there (none is
right).

``--save N`` writes the first N photos and an overlay of what was found on them (sheet outline
blue, found lines red, true lines green) to /tmp/photo_<page>.jpg and /tmp/photo_<page>_found.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from htr.image import load_image  # noqa: E402
from htr.readers import group_split  # noqa: E402
from htr.sheet import find_sheet  # noqa: E402
from htr.readers.pagexml import (PageLine, PageSample, crop_polygon, line_spacing,  # noqa: E402
                                 read_alto_pages, read_pagexml_pages)

ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
#: The photo conditions' limits (the issue's): rotation, corner displacement (share of the
#: page's size), the sheet's share of the photo's width.
MAX_TURN, MAX_PERSPECTIVE = 8.0, 0.08


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A coloured, textured background (BGR float 0..255): wood grain, woven cloth, speckled
    stone or a painted surface with smudges, each in a random colour."""
    kind = rng.integers(4)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:  # wood: warped stripes
        warp = cv2.GaussianBlur(rng.normal(0, 1, (h // 8 + 1, w // 8 + 1)).astype(np.float32), (0, 0), 6)
        warp = cv2.resize(warp, (w, h)) * 400
        grain = np.sin((yy + warp) / rng.uniform(6, 14)) * 0.5 + 0.5
        base = np.array(rng.choice([[40, 80, 130], [30, 60, 100], [60, 110, 160], [25, 45, 80]]), np.float32)
        tex = grain[..., None] * 0.35 + 0.8
    elif kind == 1:  # cloth: a fine weave
        p = rng.uniform(3, 6)
        tex = (0.85 + 0.1 * np.sin(xx / p)[..., None] * np.sin(yy / p)[..., None])
        base = rng.uniform(30, 170, 3).astype(np.float32)
    elif kind == 2:  # stone: speckles at two scales
        fine = rng.normal(0, 1, (h, w)).astype(np.float32)
        coarse = cv2.resize(rng.normal(0, 1, (h // 16 + 1, w // 16 + 1)).astype(np.float32), (w, h))
        tex = (0.85 + 0.08 * fine + 0.1 * coarse)[..., None]
        base = rng.uniform(50, 160, 3).astype(np.float32)
    else:  # a painted desk with smudges
        smudge = cv2.GaussianBlur(rng.normal(0, 1, (h // 32 + 1, w // 32 + 1)).astype(np.float32), (0, 0), 1.5)
        tex = (0.9 + 0.15 * cv2.resize(smudge, (w, h)))[..., None]
        base = rng.uniform(20, 150, 3).astype(np.float32)
    return np.clip(base * tex, 0, 255)


def synthetic_photo(grey: np.ndarray, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A phone photo (BGR uint8, not yet JPEG-coded) of the page ``grey``, the homography taking
    page pixels to photo pixels, and the page's four corners in the photo."""
    h, w = grey.shape
    margin = rng.uniform(0.12, 0.3)
    pw, ph = int(w * (1 + 2 * margin)), int(h * (1 + 2 * margin))
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    # Perspective: every corner moved by up to MAX_PERSPECTIVE of the page's size...
    moved = corners + rng.uniform(-MAX_PERSPECTIVE, MAX_PERSPECTIVE, (4, 2)) * [w, h]
    # ...then the whole turned round the page's centre and placed in the middle of the photo.
    angle = np.radians(rng.uniform(-MAX_TURN, MAX_TURN))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    placed = (moved - [w / 2, h / 2]) @ rot.T + [pw / 2, ph / 2]
    homography = cv2.getPerspectiveTransform(corners.astype(np.float32), placed.astype(np.float32))
    # Paper: the page tinted warm or cool, as room light colours it.
    tint = np.array([rng.uniform(0.85, 0.95), rng.uniform(0.92, 1.0), 1.0], np.float32)[rng.permutation(3) if rng.random() < 0.3 else [0, 1, 2]]
    paper = grey.astype(np.float32)[..., None] * tint
    warped = cv2.warpPerspective(paper, homography, (pw, ph), flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.ones((h, w), np.float32), homography, (pw, ph), flags=cv2.INTER_LINEAR)
    photo = warped + (1 - inside[..., None]) * _texture(rng, ph, pw)
    # A soft shadow (a hand, a phone) across part of the picture, and light falling off.
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    a = rng.uniform(0, np.pi)
    d = (xx - pw * rng.uniform(0.2, 0.8)) * np.cos(a) + (yy - ph * rng.uniform(0.2, 0.8)) * np.sin(a)
    shadow = 1 - rng.uniform(0.2, 0.4) / (1 + np.exp(-d / (0.04 * max(pw, ph))))
    ga = rng.uniform(0, 2 * np.pi)
    ramp = ((xx - pw / 2) * np.cos(ga) + (yy - ph / 2) * np.sin(ga)) / max(pw, ph)
    light = np.clip(0.85 + 0.3 * ramp, 0.6, 1.05)
    photo = photo * (shadow * light)[..., None]
    sigma = rng.uniform(0.5, 1.3)
    photo = cv2.GaussianBlur(photo, (0, 0), sigma) + rng.normal(0, 3, photo.shape).astype(np.float32)
    return np.clip(photo, 0, 255).astype(np.uint8), homography, placed


def jpeg(bgr: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def warp_points(points, homography: np.ndarray) -> list[tuple[int, int]]:
    pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
    out = cv2.perspectiveTransform(pts, homography).reshape(-1, 2)
    return [(int(round(x)), int(round(y))) for x, y in out]


def warp_page(page: PageSample, homography: np.ndarray, photo) -> PageSample:
    """The page's true lines carried into the photo: each polygon as the reader cuts it
    (:func:`crop_polygon`) and its baseline mapped through ``homography``; a line's box is its
    mapped polygon's."""
    spacing = line_spacing(page.lines)
    lines = []
    for line in page.lines:
        poly = warp_points(crop_polygon(line, spacing), homography)
        xs, ys = [p[0] for p in poly], [p[1] for p in poly]
        base = warp_points(line.baseline, homography) if line.baseline else None
        lines.append(dataclasses.replace(line, polygon=poly, baseline=base,
                                         box=(min(xs), min(ys), max(xs) + 1, max(ys) + 1)))
    return PageSample(page.id, photo, lines, page.group)


def overlay(photo_bytes: bytes, result, truth: PageSample, path: str) -> None:
    image = cv2.imdecode(np.frombuffer(photo_bytes, np.uint8), cv2.IMREAD_COLOR)
    for line in truth.lines:
        cv2.polylines(image, [np.array(line.polygon, np.int32)], True, (0, 170, 0), 2)
    for line in result.lines:
        cv2.polylines(image, [np.array(line.polygon, np.int32)], True, (0, 0, 230), 2)
        if len(line.baseline) >= 2:
            cv2.polylines(image, [np.array(line.baseline, np.int32)], False, (200, 0, 200), 2)
    if result.sheet:
        cv2.polylines(image, [np.array(result.sheet, np.int32)], True, (230, 120, 0), 3)
    cv2.imwrite(path, image)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hooker", type=Path, default=ROOT / "hooker")
    p.add_argument("--copiste", type=Path, default=ROOT / "copiste")
    p.add_argument("--sets", nargs="+", choices=("hooker", "copiste"), default=["hooker", "copiste"],
                   help="which validation sets to photograph (default both)")
    p.add_argument("--limit", type=int, help="at most N pages of each set")
    p.add_argument("--decoder", default="wordbeam")
    p.add_argument("--model", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", type=int, default=0, help="write the first N photos and overlays to /tmp")
    p.add_argument("--no-scans", action="store_true", help="read the photos only")
    p.add_argument("--surfaces", type=int, default=0,
                   help="also count the lines found on N photos of a bare background (no page)")
    p.add_argument("--without-sheet", action="store_true",
                   help="also read the photos as they are, without finding the sheet (before)")
    args = p.parse_args()

    from htr.evaluate import evaluate_pages
    from htr.metrics import cer
    from htr.page import PageReader
    from htr.recognizer import DEFAULT_MODEL, Recognizer

    if args.surfaces:
        surfaces(args.surfaces)
    recognizer = Recognizer.load(args.model or DEFAULT_MODEL, decoder=args.decoder)
    reader = PageReader(recognizer)  # for the overlays
    rng = np.random.default_rng(args.seed)
    sets = (("hooker", read_pagexml_pages, args.hooker), ("copiste", read_alto_pages, args.copiste))
    for name, read, root in sets:
        if name not in args.sets:
            continue
        pages = [pg for pg in read(root) if group_split(pg.group) == "val"]
        pages = pages[:args.limit] if args.limit else pages
        photos, true_corners, corner_err, sheet_seconds = [], [], [], []
        for pg in pages:
            bgr, homography, placed = synthetic_photo(load_image(pg.image), rng)
            photos.append(warp_page(pg, homography, jpeg(bgr, int(rng.integers(60, 90)))))
            true_corners.append(placed)
        print(f"{name}: {len(pages)} validation pages ({args.decoder})", flush=True)
        if not args.no_scans:
            scans = evaluate_pages(recognizer, pages, progress=False, desc=name)
            _report("scans ", scans)
        ev = evaluate_pages(recognizer, photos, progress=False, desc=name)
        _report("photos", ev)
        if not args.no_scans:  # where photos lose most against their scans
            gaps = sorted(((cer([r], [hp]) - cer([r], [hs]), pg.id, cer([r], [hs]), cer([r], [hp]))
                           for pg, r, hs, hp in zip(pages, ev.references, scans.hypotheses,
                                                    ev.hypotheses)), reverse=True)
            print("  largest losses (page: scan -> photo CER): " + ", ".join(
                f"{Path(i).name}: {a:.1%} -> {b:.1%}" for _, i, a, b in gaps[:4]), flush=True)
        if args.without_sheet:
            _report("photos, no sheet finding",
                    evaluate_pages(recognizer, photos, progress=False, desc=name, find_sheets=False))
        for k, (ph, corners) in enumerate(zip(photos, true_corners)):
            grey = load_image(ph.image)
            start = time.perf_counter()
            sheet = find_sheet(grey)
            sheet_seconds.append(time.perf_counter() - start)
            if sheet is not None:
                err = np.hypot(*(sheet.corners - corners).T).max()
                corner_err.append(err / max(np.ptp(corners, axis=0)))
            if k < args.save:
                result = reader.read(ph.image, "page")
                stem = Path(ph.id).name
                Path(f"/tmp/photo_{stem}.jpg").write_bytes(ph.image)
                overlay(ph.image, result, ph, f"/tmp/photo_{stem}_found.png")
        print(f"  sheet found in {len(corner_err)} of {len(photos)} photos; worst corner off by "
              f"{max(corner_err, default=float('nan')):.1%} of the page's size, median "
              f"{np.median(corner_err) if corner_err else float('nan'):.2%}; finding it took "
              f"{np.mean(sheet_seconds) * 1000:.0f} ms per photo", flush=True)
    return 0


def surfaces(n: int, size: tuple[int, int] = (1200, 1600)) -> None:
    """Photos of a bare table (seeds 100, 101, ...): the lines the segmenter finds on each."""
    from htr.segment import LineSegmenter

    h, w = size
    found = []
    for k in range(n):
        rng = np.random.default_rng(100 + k)
        tex = _texture(rng, h, w)
        xx = np.arange(w, dtype=np.float32)[None, :]
        light = np.clip(0.85 + 0.3 * (xx - w / 2) / w, 0.6, 1.05)
        photo = cv2.GaussianBlur(tex * light[..., None], (0, 0), 1.0) + rng.normal(0, 3, tex.shape)
        grey = load_image(jpeg(np.clip(photo, 0, 255).astype(np.uint8), 75))
        found.append(len(LineSegmenter().find_lines(grey)) if find_sheet(grey) is None else -1)
    print(f"bare backgrounds, no page: lines found on each of {n} (-1: a sheet was found): "
          f"{found}", flush=True)


def _report(what: str, ev) -> None:
    d = ev.detection
    print(f"  {what}: page CER {ev.cer:.2%}  WER {ev.wer:.2%}   lines P {d.precision:.3f} "
          f"R {d.recall:.3f} ({d.matched}/{d.truth} true, {d.found} found)   "
          f"{ev.seconds_per_page:.2f} s/page end to end (sheet + segmentation "
          f"{ev.segment_seconds_per_page:.2f} s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
