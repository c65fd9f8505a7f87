#!/usr/bin/env python3
"""Pages as people photograph them: validation pages turned into synthetic phone photos and read
beside the same pages scanned.

Each validation page (Hooker validation letters, PAGE-XML; Copiste validation texts, ALTO; split
as in training, :func:`htr.readers.group_split`) is put into a photo by
:func:`htr.photo.photograph`: turned by up to 8 degrees, its corners moved by up to 8% of the
page's size (perspective), tinted like paper under room light, laid on a coloured, textured
background (wood, cloth, stone, a painted desk) with a margin round it, crossed by a soft shadow,
lit unevenly, blurred, with sensor noise, and saved as a colour JPEG. The true lines go through
the same warp (their polygons and baselines mapped by the same homography), so line detection on
the photo is scored in the photo's own pixels.

Scans and photos are scored by :func:`htr.evaluate.evaluate_pages` (page CER, line detection
with IoU >= 0.5 one to one, seconds per page), the same code as ``python -m htr evaluate --level
page``. Sheet outlines found in the photos are checked against the true corners too.

    python bench/bench_photos.py [--hooker ../shared/data/hooker] [--copiste ../shared/data/copiste]
                                 [--sets hooker copiste] [--limit N] [--decoder wordbeam]
                                 [--seed 0] [--save 4]

``--crop F`` frames the photos tightly, as people often do: each is cut to its sheet's bounding
box shrunk by F of its size on every side (``--crop 0.04``: a turned sheet's corners fall out of
the frame, and the background shows only in the photo's corners).

``--surfaces N`` also photographs N of the backgrounds with no page on them (the same textures,
light falling off, blur, noise, JPEG) and counts the lines the segmenter finds there (none is
right).

``--save N`` writes the first N photos and an overlay of what was found on them (sheet outline
blue, found lines red, true lines green) to /tmp/photo_<page>.jpg and /tmp/photo_<page>_found.png.
"""

from __future__ import annotations

import argparse
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
from htr.photo import background, jpeg, photograph  # noqa: E402
from htr.readers.pagexml import PageSample, read_alto_pages, read_pagexml_pages  # noqa: E402
from htr.sheet import find_sheet  # noqa: E402

ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"


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
    p.add_argument("--crop", type=float, default=None,
                   help="frame the photos tightly: cut to the sheet's bounding box shrunk by this "
                        "share of its size on every side (0.04: a turned sheet's corners out of "
                        "the frame)")
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
            photo = photograph(pg, rng, args.crop)
            photos.append(photo.page)
            true_corners.append(photo.corners)
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
        tex = background(rng, h, w)
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
