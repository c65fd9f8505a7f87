"""Cutting one line of writing out of an image, so that the network reads the line alone: a
page's line by its outline (:func:`line_crop`, :func:`level_line`), and the bits of the lines
above and below that a loose line crop takes in painted out (:func:`without_neighbours`). The
page reader (:mod:`htr.page`) uses both.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .image import dilate_ellipse, percentiles, shear_level
from .input_kind import neighbour_rows
from .results import Line
from .segment import Layout

#: Degrees of a line's slant whose rise still counts in its height (:func:`line_height`). The
#: Hooker scans' lines, most of them within it, read best with the margin their boxes give:
#: without it their page CER went 23.85 -> 24.27%, with it 23.80% (``bench/bench_photos.py``).
SLANT_KEPT = 2.0


def line_crop(grey: np.ndarray, line: Line) -> np.ndarray:
    """The line's box cut from the page, with the page outside its polygon (grown by a fifth of
    the line's height) painted paper-coloured, so that the neighbouring lines' ascenders and
    descenders that reach into the box are not read as part of it."""
    x0, y0, x1, y1 = line.box
    crop = grey[y0:y1, x0:x1].copy()
    if len(line.polygon) >= 3 and crop.size:
        outside = inside_lines(crop.shape, [line], max(1, line_height(line) // 5), (x0, y0)) == 0
        crop[outside] = np.uint8(percentiles(crop, (50,))[0])
    return crop


#: How far round the polygons of a crop's own line and of its neighbours' bits, in line
#: heights, :func:`without_neighbours` reaches.
NEIGHBOUR_GROW = 0.2


def without_neighbours(grey: np.ndarray, layout: Layout) -> np.ndarray:
    """A line crop with the bits of the neighbouring lines that it takes in painted
    paper-coloured (:func:`htr.input_kind.neighbour_rows`; their polygons grown by
    :data:`NEIGHBOUR_GROW` of a line's height, less the crop's own line's grown alike), the
    same size, so that boxes stay in its pixels; the crop itself where there are none.

    The network's own cut (:func:`htr.image.text_band`) takes a straight band round the
    densest rows, which a skewed or curving line and its neighbours' long strokes defeat.
    Validation crops read at ``level="line"`` (twice, as the shipped model reads), as they are
    -> so (2026-12-07; two other settings of the two constants read alike): Hooker lines 17.87
    -> 17.53%, the same lines cut as plain boxes (their neighbours' words in them) 27.67 ->
    25.69%, Copiste 10.63 -> 10.56%, IAM forms 8.43 -> 7.88%, IAM lines 6.19 -> 6.19%."""
    own, far = neighbour_rows(layout)
    if not far:
        return grey
    grow = max(1, int(NEIGHBOUR_GROW * np.median([line_height(line) for line in own])))
    paint = inside_lines(grey.shape, far, grow) & (1 - inside_lines(grey.shape, own, grow))
    out = grey.copy()
    out[paint == 1] = np.uint8(percentiles(grey, (50,))[0])
    return out


def line_height(line: Line) -> int:
    """The height of a line's writing: its box's, less the rise of its baseline's slant beyond
    :data:`SLANT_KEPT` across it. The box of a line written or photographed at a slant is taller
    than its writing by that rise (a line of 1,000 pixels at 6 degrees: 105 pixels more), and a
    margin of a fifth of it took in the neighbouring lines' words. (A baseline's waves are left
    in: the writing's own.)"""
    height = line.box[3] - line.box[1]
    slope = baseline_slope(line)
    if slope is not None:
        width = float(np.ptp([x for x, _ in line.baseline]))
        height -= int(max(0.0, abs(slope) - np.tan(np.radians(SLANT_KEPT))) * width)
    return max(1, height)


def baseline_slope(line: Line) -> float | None:
    """The slope (rows per column) of the straight line fitted to a line's baseline; None
    without a baseline that runs across."""
    if len(line.baseline) < 2:
        return None
    xs, ys = np.array(line.baseline, np.float64).T
    return float(np.polyfit(xs, ys, 1)[0]) if np.ptp(xs) > 0 else None


def level_line(crop: np.ndarray, line: Line, min_degrees: float = 0.5) -> np.ndarray:
    """A line crop sheared upright along its baseline, so that a line written (or photographed)
    at a slant reaches the network level, as its training lines were. Columns keep their x, so
    positions along the line still map straight back to the page."""
    slope = baseline_slope(line)
    if slope is None or abs(slope) < np.tan(np.radians(min_degrees)):
        return crop
    return shear_level(crop, slope)


def inside_lines(shape: tuple[int, int], lines: Sequence[Line], grow: int,
                 origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """1 inside the lines' polygons (their boxes where they have none) grown by ``grow``
    pixels, over an image of ``shape`` whose top left corner is ``origin`` in the lines' pixels
    (a line's box: ``shape`` its size, ``origin`` its corner)."""
    inside = np.zeros(shape, np.uint8)
    shift = np.array(origin, np.int32)
    for line in lines:
        if len(line.polygon) >= 3:
            cv2.fillPoly(inside, [np.array(line.polygon, np.int32) - shift], 1)
        else:
            x0, y0, x1, y1 = (max(0, v - o) for v, o in zip(line.box, 2 * tuple(origin)))
            inside[y0:y1, x0:x1] = 1
    return dilate_ellipse(inside, 2 * grow + 1)
