"""Synthetic phone photos of pages: a scanned page with known lines turned into a photo of it
lying on a table, its true lines carried into the photo's pixels.

A page is turned by up to :data:`MAX_TURN` degrees, its corners moved by up to
:data:`MAX_PERSPECTIVE` of its size (perspective), tinted like paper under room light, laid on a
coloured, textured background (wood, cloth, stone, a painted desk) with a margin round it,
crossed by a soft shadow, lit unevenly, blurred, with sensor noise, and coded as a colour JPEG.

Used by the photo benchmark (``bench/bench_photos.py``, on validation pages), by the line
network's training (:func:`htr.linemask_training.prepare_photo`, on training pages), and by the
recognizer's (:func:`photographed_page`: the ``pagexml-photos`` and ``alto-photos`` data), so
that all see the same kind of photo.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .image import load_image
from .readers.pagexml import PageLine, PageSample, crop_polygon, line_spacing
from .sheet import SHARPEN, Sheet, sharpen

#: The photo conditions' limits: rotation (degrees) and corner displacement (share of the
#: page's size).
MAX_TURN, MAX_PERSPECTIVE = 8.0, 0.08
#: JPEG quality range of the photos (a phone's, and a messaging app's recompression).
JPEG_QUALITY = (60, 90)


@dataclass(frozen=True)
class Photo:
    """A page photographed: ``page`` is the photo (its image JPEG bytes, its lines mapped into
    the photo's pixels), ``homography`` takes the scan's pixels to the photo's, ``corners`` are
    the sheet's four corners in the photo (clockwise from the top left)."""

    page: PageSample
    homography: np.ndarray
    corners: np.ndarray


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
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
    tint = np.array([rng.uniform(0.85, 0.95), rng.uniform(0.92, 1.0), 1.0], np.float32)[
        rng.permutation(3) if rng.random() < 0.3 else [0, 1, 2]]
    paper = grey.astype(np.float32)[..., None] * tint
    warped = cv2.warpPerspective(paper, homography, (pw, ph), flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.ones((h, w), np.float32), homography, (pw, ph), flags=cv2.INTER_LINEAR)
    photo = warped + (1 - inside[..., None]) * background(rng, ph, pw)
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
    """``bgr`` coded as a JPEG of ``quality`` (0-100)."""
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("OpenCV could not code the image as JPEG")
    return data.tobytes()


def photographed_page(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The page ``grey`` photographed (:func:`synthetic_photo`, a JPEG of a quality in
    :data:`JPEG_QUALITY`) and flattened back onto its own pixels by its true corners, as the
    reader flattens a photo's sheet and sharpens it before reading its lines
    (:meth:`htr.sheet.Sheet.flatten`, :data:`htr.sheet.SHARPEN`): the scan's lines lie where
    they were, with a photo's blur, resampling, coding and evened-out light on them."""
    bgr, homography, corners = synthetic_photo(grey, rng)
    photo = load_image(jpeg(bgr, int(rng.integers(*JPEG_QUALITY))))
    h, w = grey.shape
    sheet = Sheet(corners, (w, h), np.linalg.inv(homography), 1.0)
    return sharpen(sheet.flatten(photo), *SHARPEN)


def warp_points(points, homography: np.ndarray) -> list[tuple[int, int]]:
    """Points (x, y) mapped through ``homography``, rounded to whole pixels."""
    pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
    out = cv2.perspectiveTransform(pts, homography).reshape(-1, 2)
    return [(int(round(x)), int(round(y))) for x, y in out]


def warp_lines(lines: Sequence[PageLine], homography: np.ndarray) -> list[PageLine]:
    """A page's lines carried through ``homography``: each polygon as the reader cuts it
    (:func:`crop_polygon`) and its baseline mapped; a line's box is its mapped polygon's."""
    spacing = line_spacing(list(lines))
    out = []
    for line in lines:
        poly = warp_points(crop_polygon(line, spacing), homography)
        xs, ys = [p[0] for p in poly], [p[1] for p in poly]
        base = warp_points(line.baseline, homography) if line.baseline else None
        out.append(dataclasses.replace(line, polygon=poly, baseline=base,
                                       box=(min(xs), min(ys), max(xs) + 1, max(ys) + 1)))
    return out


def photograph(page: PageSample, rng: np.random.Generator, crop: float | None = None) -> Photo:
    """``page`` as a synthetic phone photo (:func:`synthetic_photo`, then JPEG of a quality in
    :data:`JPEG_QUALITY`), its true lines carried into the photo.

    ``crop``: the photo framed tightly, cut to the sheet's bounding box shrunk by this share of
    its size on every side (a turned sheet's corners then fall out of the frame; negative: a
    margin round the box). The same random draws either way."""
    bgr, homography, corners = synthetic_photo(load_image(page.image), rng)
    if crop is not None:
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        x0, y0 = np.maximum(0, np.floor(lo + crop * (hi - lo))).astype(int)
        x1, y1 = np.minimum(bgr.shape[1::-1], np.ceil(hi - crop * (hi - lo))).astype(int)
        bgr = bgr[y0:y1, x0:x1]
        homography = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ homography
        corners = corners - [x0, y0]
    data = jpeg(bgr, int(rng.integers(*JPEG_QUALITY)))
    return Photo(PageSample(page.id, data, warp_lines(page.lines, homography), page.group),
                 homography, corners)
