"""Ink masks of page and line images, and what is measured on them before lines and words
are looked for: the binarised ink (:func:`binarise`), each mark's contrast against its paper
(:func:`mark_contrast`) and the sharpness of its edges (:func:`edge_sharpness`), dark scanner
edges and a sheet's borders taken out (:func:`remove_edges`), ruled lines taken out
(:func:`remove_rules`), and the skew of the writing (:func:`estimate_skew`).

Used by :mod:`htr.segment` (the lines of a page) and :mod:`htr.words` (the words of a line).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .image import load_image

#: Largest skew (degrees) searched for; the line tracking absorbs a degree or two more locally.
MAX_SKEW = 5.0


def as_grey(image: np.ndarray) -> np.ndarray:
    """uint8 greyscale; colour, 16-bit and float arrays go through :func:`load_image`'s rules
    (which raise :class:`~htr.errors.ImageError` for an unusable array)."""
    a = np.asarray(image)
    return a if a.dtype == np.uint8 and a.ndim == 2 and a.size else load_image(a)


def binarise(flat: np.ndarray) -> np.ndarray:
    """Ink mask (uint8 0/1) of a lighting-flattened image.

    Otsu loses faded strokes of brown ink; Sauvola's local threshold keeps them. The global
    ceiling keeps show-through from the back of the sheet (faint, but locally contrasted on
    empty paper, where Sauvola alone would take it) out.
    """
    x = flat.astype(np.float32)
    win = max(15, (min(flat.shape) // 30) | 1)
    m = cv2.boxFilter(x, -1, (win, win))
    s = np.sqrt(np.maximum(cv2.boxFilter(x * x, -1, (win, win)) - m * m, 0))
    return ((x < m * (1 + 0.2 * (s / 128 - 1))) & (x < 215)).astype(np.uint8)


def mark_contrast(grey: np.ndarray, labels: np.ndarray, stats: np.ndarray, cents: np.ndarray,
              with_depth: bool = False):
    """Each component's mean darkness against the paper round it, in the image as it was
    (before the contrast stretch): 1 - ink grey / paper grey. Pen ink scores 0.3 and more,
    pencil 0.15 and more, the grain of blank paper under 0.1. ``with_depth``: also the
    difference itself (paper grey - ink grey, grey levels). Label 0 (the paper) gets no
    meaningful value."""
    h, w = grey.shape
    g = grey.astype(np.float32)
    n = stats.shape[0]
    area = np.maximum(stats[:, cv2.CC_STAT_AREA], 1).astype(np.float64)
    # Sums over the marks' pixels only (a few percent of the page), each label's in the same
    # order as over the whole image.
    marked = np.flatnonzero(labels)
    sums = np.bincount(labels.ravel()[marked], weights=g.ravel()[marked], minlength=n)[:n]
    mean = sums / area
    ink_px, paper_px = len(marked), labels.size - len(marked)
    if ink_px and paper_px:
        ink_sum = float(sums[1:].sum())
        if ink_sum / ink_px > (float(g.sum(dtype=np.float64)) - ink_sum) / paper_px:
            # Light ink on a dark ground: normalize_ink turned it.
            g, mean = 255.0 - g, 255.0 - mean
    # Paper brightness: the brightest of each neighbourhood, on a grid of 8-pixel cells.
    c = 8 if min(h, w) >= 64 else 1
    paper = cv2.resize(g, (max(1, w // c), max(1, h // c)), interpolation=cv2.INTER_AREA)
    paper = cv2.blur(cv2.dilate(paper, np.ones((7, 7), np.uint8)), (5, 5))
    py = np.minimum((cents[:, 1] / c).astype(int), paper.shape[0] - 1)
    px = np.minimum((cents[:, 0] / c).astype(int), paper.shape[1] - 1)
    contrast = 1.0 - mean / np.maximum(paper[py, px], 1.0)
    return (contrast, paper[py, px] - mean) if with_depth else contrast



def edge_sharpness(grey: np.ndarray, ink: np.ndarray, labels: np.ndarray,
                    depth: np.ndarray) -> np.ndarray:
    """Each component's mean grey-level gradient along its rim (its pixels next to paper) over
    its depth (paper grey - ink grey): 1 / the width, in pixels, over which its darkness rises
    from the paper's. The area-weighted median over a page's marks: 0.29-0.65 on the Hooker and
    Copiste validation scans, 0.24-0.48 on their synthetic photos, 0.13 on a plastered wall."""
    g = grey.astype(np.float32)
    grad = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3),
                         cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    rim = (ink > 0) & (cv2.erode(ink, np.ones((3, 3), np.uint8), borderValue=1) == 0)
    n = depth.shape[0]
    count = np.bincount(labels[rim], minlength=n)[:n]
    total = np.bincount(labels[rim], weights=grad[rim], minlength=n)[:n]
    return total / np.maximum(count, 1) / np.maximum(depth, 1.0)


#: Short side (pixels) from which an image may have a sheet's or a scanner's edges in it.
#: Below it, :func:`remove_edges` took whole words of tight word crops for a frame (real IAM
#: words cut from the validation lines, ``bench/real_words.py``: of a sample of 944, 59 were
#: taken for pages, most of them then read as empty).
EDGES_FROM = 200
#: Share of its length along the border that a frame round the sheet covers unbroken.
FRAME_COVER = 0.9


def remove_edges(ink: np.ndarray) -> np.ndarray:
    """Drop dark scanner edges and background round a photographed sheet: solid components that
    touch the image border and run along a good part of it, and thin ones (the sheet's edge,
    often broken into pieces) lying wholly in the outer 3 % of the image along its border.
    Handwriting touching the border of a tight crop is thin strokes (low fill) and stays. An
    image under :data:`EDGES_FROM` pixels on its short side is a line or word crop, not a sheet
    or a scan of one, and is left alone: a tight crop's bold word touches all four borders."""
    h, w = ink.shape
    if min(h, w) < EDGES_FROM:
        return ink
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    x, y, bw, bh, area = (stats[:, i].astype(np.int64) for i in range(5))
    touches = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    fill = area / np.maximum(1, bw * bh)
    big = (bh > 0.2 * h) | (bw > 0.2 * w)
    drop = touches & big & (fill > 0.45)
    mx, my = max(2, 0.03 * w), max(2, 0.03 * h)
    side = ((x + bw <= mx) | (x >= w - mx)) & (bh >= 3 * bw) & (bh >= 0.02 * h)
    flat = ((y + bh <= my) | (y >= h - my)) & (bw >= 3 * bh) & (bw >= 0.02 * w)
    drop |= side | flat
    # Specks on the very rim (the sheet's edge, dust on the scanner glass' frame).
    rim = (x + bw <= 0.01 * w) | (x >= 0.99 * w) | (y + bh <= 0.01 * h) | (y >= 0.99 * h)
    drop |= rim
    # A frame round the sheet (often hollow, so not solid): a large component with a long run
    # of pixels inside the outer band.
    large = (bw >= 0.1 * w) | (bh >= 0.1 * h)
    near = (x < mx) | (y < my) | (x + bw > w - mx) | (y + bh > h - my)
    for i in np.flatnonzero(large & near & ~drop):
        if i == 0:
            continue
        ys, xs = np.nonzero(labels[y[i]:y[i] + bh[i], x[i]:x[i] + bw[i]] == i)
        xs, ys = xs + x[i], ys + y[i]
        for in_band, along, length in ((xs < mx, ys, h), (xs >= w - mx, ys, h),
                                       (ys < my, xs, w), (ys >= h - my, xs, w)):
            run = along[in_band]
            # Along the border, a frame is unbroken; writing near it (a label at the top, a
            # signature at the foot of a tight page) has gaps between its letters and words.
            if run.size and np.ptp(run) >= 0.15 * length and \
                    np.unique(run).size >= FRAME_COVER * (np.ptp(run) + 1):
                drop[i] = True
                break
    # The sheet's edge a little inside the image, broken into dashes: a band of columns (rows)
    # near the border where a third of the rows (columns) have ink, unlike any writing. Narrow
    # components inside such a band go.
    for axis, length, depth in ((0, h, w), (1, w, h)):
        band = max(8, int(0.06 * depth))
        for side in (slice(0, band), slice(depth - band, depth)):
            strip = ink[:, side] if axis == 0 else ink[side, :].T
            win = cv2.dilate(strip, np.ones((1, 7), np.uint8))  # a wavy edge: 7 columns
            cover = win.mean(axis=0)
            edge = np.flatnonzero(cover >= 0.3)
            if edge.size == 0:
                continue
            lo, hi = side.start + edge.min() - 4, side.start + edge.max() + 5
            pos, size = (x, bw) if axis == 0 else (y, bh)
            drop |= (pos >= lo) & (pos + size <= hi) & (size <= 12)
    drop[0] = False
    if not drop.any():
        return ink
    return np.where(drop[labels], 0, ink).astype(np.uint8)


#: Thickest ruled line (working pixels, or 1/250 of its length if more). A scan's rules are 1-2
#: pixels thick; in a phone photo, blurred and flattened, they spread to 2-6 (the Copiste
#: validation pages as synthetic photos, ``bench/bench_photos.py``: median 3.2, largest 5.8).
RULE_THICK = 8.0
#: Largest scatter (pixels, standard deviation) of a rule's centre line about a straight line.
RULE_WANDER = 2.0
#: Shortest rule, as a share of the page's width (vertical rules: of its height).
RULE_LENGTH = 0.4
#: Shortest piece of a broken rule, in opening runs (:func:`remove_rules`): a faint rule in a
#: photo binarises into pieces with gaps between them, each straight and on the one line.
RULE_PIECE = 2
#: Most of a broken rule's gaps that may be bare paper (no grey darker than :data:`RULE_PAPER`
#: within :data:`RULE_WANDER` of its line). A faint rule is still there, too light to binarise:
#: 0-2 % of its gaps are bare on the Copiste photos, against 18-69 % for the straight baseline
#: strokes of neat cursive, which stop between words.
RULE_BARE_GAPS = 0.1
#: Grey (of the normalised page, paper 255) from which a gap's column counts as bare paper.
RULE_PAPER = 210
#: Rules (whole or broken) a page needs for its broken ones to be taken as rules too.
RULED_PAGE = 3


def remove_rules(ink: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Remove ruled lines from ``ink`` (binarised ``flat``): straight, a few pixels thick
    (:data:`RULE_THICK`) and longer than :data:`RULE_LENGTH` of the width (vertical: of the
    height), whole or in straight pieces on one line with faint rule between them.
    Handwritten strokes are never that long and straight; an underline long enough to go is no
    loss for finding lines."""
    h, w = ink.shape
    out = ink
    for axis in (0, 1):
        along = flat if axis == 0 else flat.T  # rows along the rule
        length = w if axis == 0 else h
        if length < 100:
            continue
        run = max(15, length // 40)  # short enough that a 3-degree rule still leaves pieces
        k = (run, 1) if axis == 0 else (1, run)
        pieces = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, k))
        if not pieces.any():
            continue
        # Join the stair steps of a slightly skewed rule back into one long component.
        joined = cv2.morphologyEx(pieces, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (run, 3) if axis == 0 else (3, run)))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        span = stats[:, cv2.CC_STAT_WIDTH] if axis == 0 else stats[:, cv2.CC_STAT_HEIGHT]
        thick = stats[:, cv2.CC_STAT_AREA] / np.maximum(1, span)
        candidate = (span >= RULE_PIECE * run) & (thick <= max(RULE_THICK, length / 250))
        candidate[0] = False
        straight = []  # each straight, unbroken piece
        for i in np.flatnonzero(candidate):
            # A rule is straight and unbroken: its centre line (the mean row of its ink in
            # each column) lies on a straight line, and it is ink nearly all along. A row of
            # cursive joined up by the closing wanders more and has gaps. The centre line, not
            # every pixel: a blurred rule's thickness alone would scatter its pixels as much.
            x0, y0, bw, bh = stats[i, :4]
            box = (labels[y0:y0 + bh, x0:x0 + bw] == i) & (pieces[y0:y0 + bh, x0:x0 + bw] > 0)
            ys, xs = np.nonzero(box)
            u, v = (xs + x0, ys + y0) if axis == 0 else (ys + y0, xs + x0)
            cols, at = np.unique(u, return_inverse=True)
            if cols.size < 2 or cols.size < 0.8 * (np.ptp(u) + 1):
                continue
            piece = _Piece(int(i), cols, np.bincount(at, weights=v) / np.bincount(at))
            if piece.fit.wander() <= RULE_WANDER:
                straight.append(piece)
        # Each rule: its pieces, left to right (one for a rule in one piece).
        rules = [chain for group in _collinear(straight) for chain in _unbroken(group, along)
                 if chain[-1].cols[-1] - chain[0].cols[0] >= RULE_LENGTH * length]
        if len(rules) < RULED_PAGE:
            # Not a ruled page (a crop of one line, a page with a rule or two drawn on it):
            # only whole rules go. Pieces of a faint rule with underscores on it would take the
            # line's strokes along the rule with them.
            rules = [chain for chain in rules if len(chain) == 1]
        if rules:
            rule = np.zeros(n, bool)
            rule[[p.label for chain in rules for p in chain]] = True
            mask = cv2.dilate((rule[labels] & (pieces > 0)).astype(np.uint8), np.ones((3, 3), np.uint8))
            out = np.where(mask > 0, 0, out).astype(np.uint8)
    return out


class _LineFit:
    """A least-squares straight line ``v = slope * u + offset`` kept as its sums, so that the
    fit of two sets of points together costs no more than adding them."""

    def __init__(self, sums: np.ndarray) -> None:
        self.sums = sums  # n, su, sv, suu, suv, svv

    @classmethod
    def of(cls, u: np.ndarray, v: np.ndarray) -> "_LineFit":
        return cls(np.array([u.size, u.sum(), v.sum(), u @ u, u @ v, v @ v], np.float64))

    def __add__(self, other: "_LineFit") -> "_LineFit":
        return _LineFit(self.sums + other.sums)

    def line(self) -> tuple[float, float]:
        n, su, sv, suu, suv, _ = self.sums
        det = n * suu - su * su
        slope = (n * suv - su * sv) / det if det > 0 else 0.0
        return slope, (sv - slope * su) / n

    def wander(self) -> float:
        """Standard deviation of the points about the line."""
        slope, offset = self.line()
        n, su, sv, suu, suv, svv = self.sums
        sse = svv - 2 * slope * suv - 2 * offset * sv + slope * slope * suu \
            + 2 * slope * offset * su + n * offset * offset
        return float(np.sqrt(max(sse, 0.0) / n))


@dataclass
class _Piece:
    """A straight piece of a possible rule: its label, the columns (rows, for a vertical rule)
    it covers and its centre line there."""

    label: int
    cols: np.ndarray
    centre: np.ndarray

    def __post_init__(self) -> None:
        self.fit = _LineFit.of(self.cols.astype(np.float64), self.centre)


def _unbroken(group: list[_Piece], along: np.ndarray) -> list[list[_Piece]]:
    """A line's straight pieces cut where the gap between two is mostly bare paper (more than
    :data:`RULE_BARE_GAPS` of its columns: no grey darker than :data:`RULE_PAPER` within
    :data:`RULE_WANDER` of the line; ``along``: the normalised grey, rows along the line)."""
    group = sorted(group, key=lambda p: p.cols[0])
    if len(group) == 1:
        return [group]
    fit = group[0].fit
    for piece in group[1:]:
        fit = fit + piece.fit
    slope, offset = fit.line()
    reach = int(np.ceil(RULE_WANDER))
    runs = [[group[0]]]
    for piece in group[1:]:
        gaps = np.arange(runs[-1][-1].cols[-1] + 1, piece.cols[0])
        if gaps.size:
            centre = np.round(slope * gaps + offset).astype(int)
            darkest = np.min([along[np.clip(centre + d, 0, along.shape[0] - 1), gaps]
                              for d in range(-reach, reach + 1)], axis=0)
            if np.mean(darkest >= RULE_PAPER) > RULE_BARE_GAPS:
                runs.append([piece])
                continue
        runs[-1].append(piece)
    return runs


def _collinear(straight: list[_Piece]) -> list[list[_Piece]]:
    """Straight pieces grouped by the line they lie on: a piece joins a group (longest pieces
    first) when the group and the piece together are still straight (:data:`RULE_WANDER`)."""
    groups: list[tuple[list[_Piece], _LineFit, tuple[float, float]]] = []
    for piece in sorted(straight, key=lambda p: -len(p.cols)):
        n, su, sv = piece.fit.sums[:3]
        for g, (members, fit, (slope, offset)) in enumerate(groups):
            if abs(sv - slope * su - offset * n) / n > RULE_WANDER:
                continue  # quick reject: its mean row is off the group's line
            joined = fit + piece.fit
            if joined.wander() <= RULE_WANDER:
                groups[g] = (members + [piece], joined, joined.line())
                break
        else:
            groups.append(([piece], piece.fit, piece.fit.line()))
    return [members for members, _, _ in groups]


def ink_pixels(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns and rows (int64) of a uint8 mask's nonzero pixels, in ``np.nonzero``'s order
    (row by row), found by OpenCV several times faster."""
    found = cv2.findNonZero(ink)
    if found is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return found[:, 0, 0].astype(np.int64), found[:, 0, 1].astype(np.int64)


def ink_points(ink: np.ndarray, limit: int = 60_000) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ink_pixels` as float64, evenly subsampled to at most ``limit`` of them."""
    xs, ys = ink_pixels(ink)
    if ys.size > limit:  # an even subsample: the profile's shape does not need every pixel
        step = ys.size / limit
        idx = (np.arange(limit) * step).astype(np.int64)
        ys, xs = ys[idx], xs[idx]
    return xs.astype(np.float64), ys.astype(np.float64)


def estimate_skew(ink: np.ndarray, max_skew: float) -> float:
    """Degrees by which the lines fall to the right (y grows with x): the shear whose
    horizontal profile has the largest sum of squares, searched coarsely then finely."""
    if max_skew <= 0:
        return 0.0
    xs, ys = ink_points(ink)
    if xs.size < 50:
        return 0.0
    xs = xs - ink.shape[1] / 2
    pad = ink.shape[1] * np.tan(np.radians(max_skew)) + 2

    def score(deg: float) -> float:
        yp = ys - xs * np.tan(np.radians(deg)) + pad
        counts = np.bincount((yp / 2).astype(np.int64))
        return float(np.dot(counts, counts))

    best = max(np.arange(-max_skew, max_skew + 1e-9, 0.5), key=score)
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, 0.1)
    return float(max(fine, key=score))
