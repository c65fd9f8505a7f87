"""Where a page's text lines run: a small trained network's per-pixel probability of a line's core
(the band between its baseline and its x-height), which :class:`htr.segment.LineSegmenter` uses
to tell writing from what only looks like it.

The classical segmenter takes every dark mark for ink of some line. On old letters much of it is
not: show-through from the back of a thin sheet, notes written up a margin, stamps and stains;
it then finds lines that are not there and stretches real ones over the margin. A network trained
on the lines people drew on real pages (the Hooker letters' PAGE-XML, the Copiste pages' ALTO)
sees the difference: mirrored, fainter, sideways writing is not on a line.

The network (:mod:`htr.linemask_training` builds and trains it) is a U-Net of about 0.27M
weights; it reads the page as the segmenter sees it (:func:`htr.image.normalize_ink` of the page
at the segmenter's working size), scaled so that its lines are :data:`SPACING_PX` pixels apart,
whatever the writing's size (:func:`mask_input`), and runs with ONNX Runtime. The same function
prepares its training pages, and draws their targets (:func:`line_targets`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

#: Line spacing, in the network's input pixels, that every page is scaled to (the training
#: pages' lines were drawn at this spacing, jittered by a third either way).
SPACING_PX = 20.0
#: Bounds of the network's input (long side, pixels): a page whose spacing would make it larger
#: or smaller is scaled to the bound instead.
MIN_SIDE, MAX_SIDE = 96, 1280
#: The network pools three times: its input's sides are padded to a multiple of this.
MULTIPLE = 8
#: Pixels darker than this (0 paper, 1 black) are the page's ink when its darkness is
#: measured, and the darkness it is stretched by is at least MIN_LEVEL (a blank page is not
#: made into ink).
INKED, MIN_LEVEL = 0.1, 0.25
#: Where the line cores are drawn in training, in line spacings: the band's centre above the
#: baseline and its thickness.
CORE_ABOVE = 0.2
CORE_THICKNESS = 0.22
#: The shipped network, trained as its card (``models/linemask/README.md``) says, in int8
#: (:func:`htr.linemask_training.quantize_line_mask`; ``linemask.onnx`` beside it is the float
#: network it was made from).
DEFAULT_LINE_MASK = Path(__file__).resolve().parent.parent / "models" / "linemask" / "linemask-int8.onnx"
#: The float32 network the shipped one was quantised from (what ``train-linemask`` trains).
FLOAT_LINE_MASK = DEFAULT_LINE_MASK.with_name("linemask.onnx")


def mask_input(flat: np.ndarray, spacing: float) -> tuple[np.ndarray, float]:
    """The network's input for a page: ``flat`` (uint8, ink dark, as :func:`htr.image.normalize_ink`
    gives it) scaled so that lines ``spacing`` pixels apart come :data:`SPACING_PX` apart, as
    float32 ink darkness (0 paper, 1 the page's dark ink), padded with paper to a multiple of
    :data:`MULTIPLE`. Returns it and the scale."""
    h, w = flat.shape
    f = SPACING_PX / max(spacing, 1.0)
    f = min(max(f, MIN_SIDE / max(h, w)), MAX_SIDE / max(h, w))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(flat, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    ph, pw = -small.shape[0] % MULTIPLE, -small.shape[1] % MULTIPLE
    small = np.pad(small, ((0, ph), (0, pw)), constant_values=255)
    dark = 1.0 - small.astype(np.float32) / 255.0
    # Shrunk, a fine pen's strokes blur into grey: the page's writing is made as dark as any
    # (its darker ink pixels to 1), so that the network judges marks by their darkness against
    # the page's own writing, as show-through is to be told.
    inked = dark[dark > INKED]
    level = float(np.percentile(inked, 90)) if inked.size else 1.0
    return np.minimum(dark / max(level, MIN_LEVEL), 1.0), f


def line_targets(shape: tuple[int, int], baselines: Sequence[np.ndarray], spacing: float,
                 scale: float) -> np.ndarray:
    """Training target (uint8 0/1, ``shape``) of one page: each line's core, a band
    :data:`CORE_THICKNESS` line spacings thick along its baseline raised by :data:`CORE_ABOVE`
    spacings. ``baselines``: (n, 2) points in the page's pixels; ``scale``: the input's scale."""
    target = np.zeros(shape, np.uint8)
    thickness = max(2, int(round(CORE_THICKNESS * spacing * scale)))
    for base in baselines:
        b = np.array(sorted(map(tuple, base)), np.float64)
        b[:, 1] -= CORE_ABOVE * spacing
        pts = (b * scale).round().astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(target, [pts], False, 1, thickness=thickness)
    return target


class LineMask:
    """The line-core probability of every pixel of a page: ``LineMask.load()(flat, spacing)``.
    ``network``: anything with ``predict_on_batch`` (:class:`htr.runtimes.OnnxNetwork`)."""

    def __init__(self, network) -> None:
        self.network = network

    @classmethod
    def load(cls, path: Path | str = DEFAULT_LINE_MASK, threads: int = 2) -> "LineMask":
        """The network of an ONNX file (:class:`htr.runtimes.OnnxNetwork` reads it: a missing
        or unreadable file raises :class:`htr.errors.ModelError`)."""
        from .runtimes import OnnxNetwork

        return cls(OnnxNetwork(path, threads))

    def __call__(self, flat: np.ndarray, spacing: float) -> np.ndarray:
        """Probabilities (float32, ``flat``'s shape) that each pixel lies on a line's core."""
        x, f = mask_input(flat, spacing)
        p = self.network.predict_on_batch(x[None, ..., None])[0, ..., 0]
        h, w = flat.shape
        used = p[:max(1, round(h * f)), :max(1, round(w * f))]
        return cv2.resize(used, (w, h), interpolation=cv2.INTER_LINEAR)


@functools.lru_cache(maxsize=None)
def default_line_mask() -> LineMask | None:
    """The shipped network, loaded once; None where it is not installed."""
    return LineMask.load() if DEFAULT_LINE_MASK.is_file() else None
