"""Page segmentation: find the text lines of a page image, so that the
recognizer, which reads one line or word at a time, can be given a whole page.

Classical image processing (numpy and OpenCV), helped where it is installed by a small trained
network that says where lines run (:mod:`htr.linemask`):

1. The page is shrunk to at most :data:`WORK_SIZE` pixels on its long side for analysis (every
   coordinate is mapped back to the original image at the end), its lighting flattened with
   :func:`htr.image.normalize_ink` and binarised (Sauvola, plus a global ceiling). Dark scanner
   edges, the sheet's edge and ruled lines (long thin straight components) are removed, and so
   is ink much fainter than the page's writing (paper grain, show-through from the back).
2. The skew (up to :data:`MAX_SKEW` degrees) is the shear that makes the horizontal ink profile
   peakiest; the line spacing is the period of that profile. The line network, given the page
   scaled by that spacing, marks the lines' cores; marks that touch none (show-through that
   passed step 1, notes written up a margin, stamps) are left out, and skew and spacing are
   measured again.
3. The ink, reduced to a coarse density map (weighed by the network's marks), sheared level and
   smoothed far more along the lines than across them, shows each text line as a ridge. Ridge
   points are chained column by column into line centre curves, so lines that drift or curve
   and lines of any length are followed.
4. Every ink component goes to the line whose core band holds most of it (whole, so that the
   line keeps its ascenders and descenders); a component touching two lines' cores is cut at the
   boundary half-way between them. A line's box and outline are those of its ink (the box with a
   small margin); slivers that are not writing (a flourish's tail, a stain) are dropped.

:func:`htr.input_kind.classify_input` tells a page from a single line or word. The words of a
line are found by :mod:`htr.words`; the ink masks and their clean-up (step 1) are
:mod:`htr.ink_mask`'s.

Measured on the 291 Hooker letter pages (``bench/eval_segmentation.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .image import normalize_ink, shrink_to
from .ink_mask import (MAX_SKEW, as_grey, binarise, edge_sharpness, estimate_skew, ink_pixels,
                       ink_points, mark_contrast, remove_edges, remove_rules)
from .linemask import LineMask, default_line_mask
from .results import Box, Line, Point

#: Long side (pixels) an image is reduced to for analysis: a letter page's handwriting keeps a
#: few pixels of stroke width there, and the cost no longer grows with the camera's resolution.
WORK_SIZE = 1600
#: Largest skew (degrees) searched for; the line tracking absorbs a degree or two more locally.
#: Line spacing in coarse-map pixels: enough rows to separate neighbouring lines' ridges.
COARSE_SPACING = 16
#: Ink components fainter than this fraction of the page's writing (its contrast, see
#: :func:`mark_contrast`) are show-through from the back of the sheet and left out of the analysis
#: (pencil notes beside ink writing go too: on the Hooker letters that trade pays)...
COMPONENT_FAINT = 0.5
#: ...and so are lines whose ink is, on average, fainter than this fraction.
FAINT_RATIO = 0.6
#: Ink has sharp edges: its darkness falls off within a few pixels round each stroke, even in a
#: blurred photo. A component whose edges are softer than this (the mean grey-level gradient on
#: its rim over its depth, 1/pixels: the ramp is wider than 1/SOFT_EDGE working pixels) is a
#: blotch: the shading of a wall or a table, a stain, a smudge...
SOFT_EDGE = 0.18
#: ...and where blotches make more than this share of all the marks' area, the image is a
#: textured surface, not a page of writing: it has no lines. Measured (area share at
#: SOFT_EDGE): the four plaster walls of tests/test_sheet.py 0.92-0.97; the Hooker and Copiste
#: validation pages, scans and synthetic photos, at most 0.26 (a stain beside two words of a
#: signature), median under 0.01.
SOFT_SHARE = 0.6
#: Smoothing of the coarse density map, in line spacings: along the lines (bridges letters and
#: word gaps; wider gives fewer broken lines, fewer fragments) and across them (narrow enough
#: to keep neighbouring lines apart). Tuned on the Hooker letters.
SMOOTH_X = 1.8
SMOOTH_Y = 0.12
#: A ridge point must reach this fraction of the strongest ridge within a spacing or so: the
#: rows of ascenders and descenders between two lines stay below it.
NEAR_RATIO = 0.3
#: Marks fainter than 0.1 (1 - ink grey / paper grey) are the grain of the paper, unless they are
#: strokes: marks of at least FAINT_AREA pixels count from FAINT_FLOOR. Blurred pencil a fifth
#: darker than its paper measures 0.07-0.12, and its lines were lost in parts.
FAINT_AREA = 60
FAINT_FLOOR = 0.07
#: A mark is writing when the line network (:mod:`htr.linemask`) puts at least one of its pixels
#: on a line's core with this probability; the rest (show-through, notes up a margin, stains)
#: is left out before the lines are tracked.
ON_LINE = 0.5
#: ... and at least this share of its pixels: a stamp or a blot that merely touches a line's
#: core is not writing of that line.
ON_SHARE = 0.05
#: The line network looks at images at least this many line spacings high: a line or word crop
#: is writing all through, and the network was trained on whole pages.
MASK_FROM_LINES = 4.0
#: Where the network sees no line, the ink's density counts this much in the ridge tracking (a
#: line it missed can still be found, but a ridge it saw wins).
OFF_LINE_WEIGHT = 0.2
#: A mark at least this share of the page's width is not counted in the writing's typical height
#: when the line spacing is measured (:func:`_estimate_spacing`).
WIDE_MARK = 0.3
#: A mark cut off by the removal of a ruled line (a descender's tail below the rule) is writing
#: when it lies within this many line spacings of a line's core.
RULE_REACH = 0.3
#: Least ink (pixels, in squared x-heights: ink grows with the square of the writing's size)
#: of a line that lies within another's height or is not wide; a short word has about 8.
MIN_LINE_INK = 6.0
#: Least ink of any line (a short date has about 3). Below it on the Hooker pages: specks, strokes
#: and scraps of show-through far more often than a word (2.0 -> 2.5, all 291 pages: 17 found
#: lines fewer, 1 of them a true one; page CER on both validation sets a little better).
MIN_LONE_INK = 2.5


@dataclass
class Layout:
    """What :meth:`LineSegmenter.analyse` found, in original image pixels: the lines in reading
    order, the skew (degrees, positive when the lines run downhill to the right, as image rows
    count downwards), the line spacing and the x-height (0 where there are no lines), and the
    image's (width, height). ``debug`` holds intermediate results for tuning and diagnosis."""

    lines: list[Line]
    angle: float = 0.0
    spacing: float = 0.0
    x_height: float = 0.0
    size: tuple[int, int] = (0, 0)  # width, height
    ink_box: Box | None = None  # round all the ink taken for writing (None: no ink at all)
    #: Each line's ink, in squared x-heights (as if written with a pen of the usual width).
    line_ink: list[float] = field(default_factory=list)
    debug: dict = field(default_factory=dict, repr=False)


class LineSegmenter:
    """Finds the text lines of a page: ``LineSegmenter().find_lines(grey)``.

    ``work_size`` is the long side analysed (see :data:`WORK_SIZE`); ``max_skew`` the largest
    skew searched for, in degrees. ``merge_gap`` is the widest gap, in line spacings, across
    which two ridge pieces at one height are chained into one line, and ``split_gap`` the
    widest stretch of blank paper a line's ink may have (wider leaves two lines: a signature set
    off to the right, a date beside an address). ``margin`` grows every box by that many
    x-heights on each side: the box then holds the whole ink with a little paper round it, as
    line crops and hand-drawn ground truth (the Hooker letters') do. ``line_mask``: the line
    network that tells writing from show-through (:mod:`htr.linemask`); True: the shipped one
    where it is installed, None: none (the classical segmenter alone).
    """

    def __init__(self, work_size: int = WORK_SIZE, max_skew: float = MAX_SKEW,
                 merge_gap: float = 1.5, split_gap: float = 2.0, margin: float = 0.4,
                 line_mask: LineMask | bool | None = True) -> None:
        self.line_mask = default_line_mask() if line_mask is True else (line_mask or None)
        self.margin = margin
        self.work_size = work_size
        self.max_skew = max_skew
        self.merge_gap = merge_gap
        self.split_gap = split_gap

    def find_lines(self, grey: np.ndarray) -> list[Line]:
        """The text lines of a greyscale page (uint8, ink dark), top to bottom (a two-column
        page: left column first). Each line has its box, an outline polygon round its ink and a
        baseline, in ``grey``'s pixels; text and words are left empty. A blank page gives []."""
        return self.analyse(grey).lines

    def analyse(self, grey: np.ndarray) -> Layout:
        """:meth:`find_lines` with the measurements made on the way (skew, spacing, x-height)."""
        grey = as_grey(grey)
        h, w = grey.shape
        small, scale = shrink_to(grey, self.work_size)
        flat = normalize_ink(small)
        ink = binarise(flat)
        ink = remove_edges(ink)
        unruled = remove_rules(ink, flat)
        rule_px, ink = ink - unruled, unruled  # what the rules took (a rule cuts strokes too)
        n, labels, stats, cents = cv2.connectedComponentsWithStats(ink, connectivity=8)
        # Specks (paper grain, dust) and faint marks (the grain of an empty sheet, which the
        # contrast stretch of normalize_ink blows up into "ink") would only add noise below.
        contrast, depth = mark_contrast(small, labels, stats, cents, with_depth=True)
        big = stats[:, cv2.CC_STAT_AREA] >= FAINT_AREA
        keep = (stats[:, cv2.CC_STAT_AREA] >= 4) & (
            (contrast >= 0.1) | (big & (contrast >= FAINT_FLOOR)))
        keep[0] = False
        if not keep.any():
            return Layout([], size=(w, h))
        # A textured surface (a photo of a wall, no sheet found on it) binarises into blotches
        # with soft edges: where they are most of the marks, there is no writing to find (the
        # few sharp specks of such a surface would only be read as lines of noise).
        soft = keep & (edge_sharpness(small, ink, labels, depth) < SOFT_EDGE)
        area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
        if area[soft].sum() > SOFT_SHARE * area[keep].sum():
            return Layout([], size=(w, h))
        level = ink_level(contrast[keep], stats[keep])
        keep &= contrast >= COMPONENT_FAINT * level
        ink = keep[labels].astype(np.uint8)
        labels = np.where(ink > 0, labels, 0)  # specks' labels stay unused (no pixels)
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        ink_box = (int(cols[0] / scale), int(rows[0] / scale),
                   min(w, int(np.ceil((cols[-1] + 1) / scale))), min(h, int(np.ceil((rows[-1] + 1) / scale))))
        angle = estimate_skew(ink, self.max_skew)
        spacing = _estimate_spacing(ink, angle, stats[keep])
        on_line = None
        if self.line_mask is not None and ink.shape[0] >= MASK_FROM_LINES * spacing:
            # Only marks on a line the network sees are writing; skew and spacing are measured
            # again without the rest. (A crop of a line or a word is all writing.)
            on_line = self.line_mask(flat, spacing)
            keep &= _on_lines(on_line, labels, stats, rule_px, spacing)
            if not keep.any():
                return Layout([], size=(w, h), ink_box=ink_box)
            ink = keep[labels].astype(np.uint8)
            labels = np.where(ink > 0, labels, 0)
            angle = estimate_skew(ink, self.max_skew)
            spacing = _estimate_spacing(ink, angle, stats[keep])
        tracks, debug = _find_tracks(ink, angle, spacing, self.merge_gap, on_line)
        if not tracks:
            return Layout([], angle=angle, spacing=spacing / scale, size=(w, h), ink_box=ink_box,
                          debug=debug)
        lines, ink_px, line_contrast, x_height = _lines_from_tracks(
            ink, labels, stats, cents, contrast, tracks, spacing, self.split_gap)
        level = ink_level(contrast[keep], stats[keep])
        # Too little ink for a line of writing (a speck, a stray stroke, a flourish's tail),
        # or too faint: show-through.
        kept = [i for i in range(len(lines)) if line_contrast[i] >= FAINT_RATIO * level]
        # Ink is counted as if written with a pen of the usual width for the writing's size:
        # a thin ballpoint leaves far fewer pixels for the same words.
        ink_px = ink_px * _thin_pen(ink, x_height)
        kept = _drop_fragments(lines, kept, ink_px, x_height)
        order = [kept[i] for i in _reading_order([lines[i] for i in kept], spacing)]
        out = [_to_original(lines[i], scale, (w, h), self.margin * x_height) for i in order]
        # What each line was judged by (tuning and diagnosis): contrast / the page's.
        debug["line_contrast"] = [float(line_contrast[i] / level) for i in order]
        return Layout(out, angle=angle, spacing=spacing / scale, x_height=x_height / scale,
                      size=(w, h), ink_box=ink_box,
                      line_ink=[float(ink_px[i] / x_height ** 2) for i in order], debug=debug)


def find_lines(grey: np.ndarray) -> list[Line]:
    """The text lines of a page with the default :class:`LineSegmenter`."""
    return LineSegmenter().find_lines(grey)




# --- which marks are writing -----------------------------------------------------------------

def _on_lines(on_line: np.ndarray, labels: np.ndarray, stats: np.ndarray, rule_px: np.ndarray,
              spacing: float) -> np.ndarray:
    """Which marks (``labels``, ``stats`` of the connected components) are writing by the line
    network's ``on_line`` probabilities: those with at least :data:`ON_SHARE` of their pixels
    (and one at least) on a line's core, and the pieces the ruled lines (``rule_px``, what
    :func:`htr.ink_mask.remove_rules` took) cut off within :data:`RULE_REACH` line spacings of a core."""
    n = stats.shape[0]

    def pixels_in(where: np.ndarray) -> np.ndarray:  # each mark's pixels where ``where`` is set
        return np.bincount(labels[where > 0], minlength=n)[:n]

    core = (on_line >= ON_LINE).astype(np.uint8)
    on = pixels_in(core)
    writing = (on > 0) & (on >= ON_SHARE * stats[:, cv2.CC_STAT_AREA])
    if rule_px.any():
        reach = max(1, int(round(RULE_REACH * spacing)))
        near = cv2.dilate(core, np.ones((2 * reach + 1, 1), np.uint8))
        cut = pixels_in(cv2.dilate(rule_px, np.ones((3, 3), np.uint8))) > 0
        writing |= cut & (pixels_in(near) > 0)
    return writing


# --- line spacing ---------------------------------------------------------------------------

def _estimate_spacing(ink: np.ndarray, angle: float, stats: np.ndarray) -> float:
    """Line spacing (working pixels): the period of the deskewed horizontal ink profile, summed
    over a few vertical strips (lines drift apart across a page). Without a period (a single
    line) it is guessed from the components' height."""
    h, w = ink.shape
    heights = stats[:, cv2.CC_STAT_HEIGHT].astype(np.float64)
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    # A component a third of the page wide is no letter or word: a ruled line that was not
    # removed (on a photographed page it is ragged), holding the writing along it and reaching
    # the next line through its descenders. Its height would put the true period below `lo`.
    narrow = stats[:, cv2.CC_STAT_WIDTH] < WIDE_MARK * w
    if areas[narrow].sum() >= 0.25 * areas.sum():
        heights, areas = heights[narrow], areas[narrow]
    order = np.argsort(heights)
    cum = np.cumsum(areas[order])
    typical = float(heights[order][np.searchsorted(cum, cum[-1] / 2)])  # area-weighted median
    guess = max(8.0, 1.3 * typical)
    xs, ys = ink_points(ink, 120_000)
    tan = np.tan(np.radians(angle))
    pad = w * abs(tan) + 2
    yp = (ys - (xs - w / 2) * tan + pad).astype(np.int64)
    rows = int(yp.max()) + 1
    strips = 4 if w > 8 * guess else 1
    strip = np.minimum((xs * strips / w).astype(np.int64), strips - 1)
    profile = np.bincount(strip * rows + yp, minlength=strips * rows).reshape(strips, rows)
    profile = profile - profile.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * rows)))
    spec = np.fft.rfft(profile, size, axis=1)
    ac = np.fft.irfft((spec * spec.conj()).real, size, axis=1)[:, :rows].sum(axis=0)
    if ac[0] <= 0:
        return guess
    ac = ac / ac[0]
    lo = max(4, int(0.7 * typical))  # lines are never much closer than the writing is high
    hi = min(rows // 2, int(10 * guess))
    if hi <= lo + 2:
        return guess
    seg = ac[lo:hi]
    # The first peak after the profile has decorrelated: its first minimum.
    first_min = int(np.argmax(np.diff(seg) > 0)) if np.any(np.diff(seg) > 0) else len(seg)
    if first_min >= len(seg) - 1:
        return guess
    rest = seg[first_min:]
    # The period is the first strong peak: its multiples can score as high when lines drift.
    maxima = np.flatnonzero((rest[1:-1] >= rest[:-2]) & (rest[1:-1] >= rest[2:])) + 1
    strong = maxima[rest[maxima] >= 0.75 * rest.max()] if maxima.size else maxima
    peak = first_min + int(strong[0] if strong.size else np.argmax(rest))
    if seg[peak] < 0.1 or seg[peak] - seg[first_min] < 0.05:
        return guess
    # With few lines the pairs of neighbours are few too, and lines unlike in shape (a tall
    # line beside a flat one) correlate less well than the like pair two lines apart: a peak
    # at about half the lag found, clearly positive and half as high, is the period.
    half = maxima[(maxima < peak - first_min) & (np.abs(first_min + maxima - peak / 2) <= 0.2 * peak)
                  ] + first_min if maxima.size else maxima
    half = half[(seg[half] >= 0.5 * seg[peak]) & (seg[half] >= 0.1)
                & (seg[half] - seg[first_min] >= 0.05)] if half.size else half
    if half.size:
        peak = int(half[np.argmax(seg[half])])
    return float(lo + peak)


# --- line tracking ----------------------------------------------------------------------------

@dataclass
class _Track:
    """A line centre curve in working pixels (unsheared): x ascending, y at each x."""

    xs: np.ndarray
    ys: np.ndarray
    strength: float

    def y_at(self, x: np.ndarray) -> np.ndarray:
        return np.interp(x, self.xs, self.ys)


def _find_tracks(ink: np.ndarray, angle: float, spacing: float, merge_gap: float,
                 on_line: np.ndarray | None = None) -> tuple[list[_Track], dict]:
    """Line centre curves: ridges of the coarse, sheared, anisotropically smoothed ink density
    (weighed by the line network's ``on_line`` probability where there is one), chained column
    by column."""
    h, w = ink.shape
    f = max(1.0, spacing / COARSE_SPACING)
    cw, ch = max(1, int(round(w / f))), max(1, int(round(h / f)))
    dens = cv2.resize(ink.astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA)
    if on_line is not None:
        seen = cv2.resize(on_line, (cw, ch), interpolation=cv2.INTER_AREA)
        dens *= OFF_LINE_WEIGHT + (1 - OFF_LINE_WEIGHT) * seen
    sc = spacing / f  # spacing in coarse pixels
    # Shear level (about the centre column), padded so that nothing leaves the map.
    tan = np.tan(np.radians(angle))
    pad = int(np.ceil(cw * abs(tan) / 2)) + 2
    shear = np.float32([[1, 0, 0], [-tan, 1, tan * cw / 2 + pad]])
    dens = cv2.warpAffine(dens, shear, (cw, ch + 2 * pad), flags=cv2.INTER_LINEAR)
    # Smoothing along the lines (SMOOTH_X spacings) bridges letters and word gaps; across them
    # (about a tenth of a spacing) it keeps neighbouring lines apart.
    smooth = cv2.GaussianBlur(dens, (0, 0), sigmaX=SMOOTH_X * sc, sigmaY=max(0.8, SMOOTH_Y * sc))
    top = float(np.percentile(smooth[smooth > 0], 99)) if np.any(smooth > 0) else 0.0
    if top <= 0:
        return [], {}
    r = max(1, int(round(0.3 * sc)))
    local_max = cv2.dilate(smooth, np.ones((2 * r + 1, 1), np.uint8))
    near = cv2.dilate(smooth, np.ones((int(1.4 * sc) | 1, int(3 * sc) | 1), np.uint8))
    peak = (smooth >= local_max) & (smooth > 0.08 * top) & (smooth > NEAR_RATIO * near)
    peak[1:] &= ~peak[:-1]  # a flat top gives one peak, not two
    cols, rows = np.nonzero(peak.T)
    tol = max(2.0, 0.25 * sc)
    max_gap = max(2, int(round(0.5 * sc)))
    chains: list[list[tuple[int, float]]] = []
    active: list[int] = []
    bounds = np.searchsorted(cols, np.arange(cw + 1))
    for c in range(cw):
        ys = rows[bounds[c]:bounds[c + 1]].astype(np.float64)
        active = [t for t in active if c - chains[t][-1][0] <= max_gap]
        used = np.zeros(ys.size, bool)
        if active and ys.size:
            last = np.array([chains[t][-1][1] for t in active])
            d = np.abs(last[:, None] - ys[None, :])
            for k in np.argsort(d, axis=None):
                i, j = divmod(int(k), ys.size)
                if d[i, j] > tol:
                    break
                t = active[i]
                if used[j] or chains[t][-1][0] == c:
                    continue
                chains[t].append((c, ys[j]))
                used[j] = True
        for j in np.flatnonzero(~used):
            chains.append([(c, ys[j])])
            active.append(len(chains) - 1)
    pieces = []
    for chain in chains:
        cs = np.array([p[0] for p in chain], np.float64)
        ys = np.array([p[1] for p in chain], np.float64)
        strength = float(np.mean(smooth[ys.astype(int), cs.astype(int)]))
        pieces.append([cs, ys, strength])
    pieces.sort(key=lambda p: p[0][0])
    # A piece continues the piece whose end it starts nearest to (at the same height, after a
    # gap of up to merge_gap spacings, or overlapping it by up to a spacing where the ridge
    # jumped a little at a word gap).
    merged: list[list] = []
    for p in pieces:
        best, best_dy = None, max(tol, 0.35 * sc)
        for m in merged:
            gap = p[0][0] - m[0][-1]
            if -sc <= gap <= merge_gap * sc and p[0][-1] > m[0][-1]:
                dy = abs(p[1][0] - np.interp(p[0][0], m[0], m[1]))
                if dy <= best_dy:
                    best, best_dy = m, dy
        if best is None:
            merged.append(p)
            continue
        before = best[0] < p[0][0]
        best[0] = np.concatenate([best[0][before], p[0]])
        best[1] = np.concatenate([best[1][before], p[1]])
        best[2] = max(best[2], p[2])
    # Chains to curves in working pixels, leaving out wisps (short or weak ridges).
    tracks = []
    for cs, ys, strength in merged:
        if (cs[-1] - cs[0] + 1) < 0.6 * sc or strength < 0.12 * top:
            continue
        if ys.size >= 5:  # ridge rows are integers: smooth the steps
            ys = np.convolve(np.pad(ys, 2, mode="edge"), np.ones(5) / 5, mode="valid")
        x = (cs + 0.5) * w / cw
        yp = (ys + 0.5 - pad) * h / ch  # sheared y in working pixels
        y = yp + tan * (x - w / 2)
        tracks.append(_Track(x, y, strength / top))
    return tracks, {"coarse": smooth, "factor": f, "pad": pad}


# --- ink to lines -----------------------------------------------------------------------------

#: Pixels of a mark more than this many line spacings from its line's centre curve, nearer
#: another line's, go to that line (:func:`_lines_from_tracks`).
DEEP_FROM = 0.9


def _lines_from_tracks(ink: np.ndarray, labels: np.ndarray, stats: np.ndarray, cents: np.ndarray,
                       contrast: np.ndarray, tracks: list[_Track], spacing: float,
                       split_gap: float) -> tuple[list[Line], np.ndarray, np.ndarray, float]:
    """Give every ink component (``labels``, ``stats`` and ``cents`` from OpenCV's connected
    components of ``ink``) to a line (see the module notes) and measure each line's ink.

    Returns the lines, each line's ink pixel count and mean contrast, and the x-height."""
    h, w = ink.shape
    n = labels.max() + 1
    t = len(tracks)
    band = np.zeros((h, w), np.int32)
    half = max(1, int(round(0.2 * spacing)))
    for i, tr in enumerate(tracks):
        pts = np.stack([tr.xs, tr.ys], axis=1).round().astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(band, [pts], False, i + 1, thickness=2 * half + 1)
    # Nearest centre curve of every pixel (a Voronoi partition) and the distance to it, on a
    # reduced grid: a cut a pixel or two off the exact half-way line changes nothing.
    g = max(1.0, spacing / 24)
    gh, gw = int(np.ceil(h / g)), int(np.ceil(w / g))
    centre = np.full((gh, gw), 255, np.uint8)
    ids = np.zeros((gh, gw), np.int32)
    for i, tr in enumerate(tracks):
        pts = (np.stack([tr.xs, tr.ys], axis=1) / g).round().astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(centre, [pts], False, 0, thickness=1)
        cv2.polylines(ids, [pts], False, i + 1, thickness=1)
    gdist, vor = cv2.distanceTransformWithLabels(centre, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    zy, zx = np.nonzero(centre == 0)
    lut = np.zeros(int(vor.max()) + 1, np.int32)
    lut[vor[zy, zx]] = ids[zy, zx]
    gowner = lut[vor]  # 1-based track id

    def owner_at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        return gowner[np.minimum(gh - 1, (yy / g).astype(int)), np.minimum(gw - 1, (xx / g).astype(int))]

    def dist_at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        return g * gdist[np.minimum(gh - 1, (yy / g).astype(int)), np.minimum(gw - 1, (xx / g).astype(int))]

    px, py = ink_pixels(ink)
    plab = labels[py, px]
    pband = band[py, px]
    hit = pband > 0
    counts = np.bincount(plab[hit] * (t + 1) + pband[hit], minlength=n * (t + 1)).reshape(n, t + 1)
    counts[:, 0] = 0
    best = counts.argmax(axis=1)
    top = counts.max(axis=1)
    second = np.sort(counts, axis=1)[:, -2] if t > 1 else np.zeros(n, np.int64)
    comp_line = best.copy()  # 1-based; 0 = none
    split = (second >= 0.2 * top) & (top > 0)
    # Components in no core band (a comma, a dot, a flourish) join the nearest line if near.
    cx = np.clip(cents[:, 0].round().astype(int), 0, w - 1)
    cy = np.clip(cents[:, 1].round().astype(int), 0, h - 1)
    loose = np.flatnonzero(top == 0)
    near = owner_at(cy[loose], cx[loose])
    ends = np.array([[tr.xs[0], tr.xs[-1]] for tr in tracks])
    reach = 0.3 * spacing
    within = ((dist_at(cy[loose], cx[loose]) <= 0.5 * spacing)
              & (cx[loose] >= ends[near - 1, 0] - reach) & (cx[loose] <= ends[near - 1, 1] + reach)
              & (stats[loose, cv2.CC_STAT_AREA] >= 0.003 * spacing * spacing))
    comp_line[loose] = np.where(within, near, 0)
    comp_line[0] = 0
    pline = comp_line[plab]
    own = owner_at(py, px)  # the line whose cell each pixel lies in
    ps = split[plab]
    pline[ps] = own[ps]
    # A mark given whole to one line whose pixels reach deep into another line's cell (letters
    # of two close lines run together by blur): its part there goes to that line.
    deep = (pline > 0) & (own != pline) & (own > 0)
    if deep.any():
        far = np.zeros(deep.size, bool)
        idx = np.flatnonzero(deep)
        for i in np.unique(pline[idx]):
            sel = idx[pline[idx] == i]
            far[sel] = np.abs(py[sel] - tracks[i - 1].y_at(px[sel].astype(np.float64))) >= DEEP_FROM * spacing
        pline[far] = own[far]
    keep = pline > 0
    py, px, pline, pcon = py[keep], px[keep], pline[keep] - 1, contrast[plab[keep]]

    # x-height: the core of the ink's distribution about the centre curves.
    order = np.argsort(pline, kind="stable")
    py, px, pline = py[order], px[order], pline[order]
    starts = np.searchsorted(pline, np.arange(t + 1))
    dy = np.empty(py.size, np.float64)
    for i, tr in enumerate(tracks):
        a, b = starts[i], starts[i + 1]
        dy[a:b] = py[a:b] - tr.y_at(px[a:b].astype(np.float64))
    lim = int(spacing)

    def core_of(d: np.ndarray) -> tuple[float, float]:  # (x-height, baseline below the centre)
        hist = np.bincount(np.clip(d + lim, 0, 2 * lim).astype(int), minlength=2 * lim + 1)
        hist = np.convolve(hist, np.ones(3) / 3, mode="same")
        core = np.flatnonzero(hist >= 0.5 * hist.max()) - lim if hist.max() > 0 else np.array([0, 0])
        return float(core[-1] - core[0] + 1), float(core[-1])

    # Line by line, the median: a heavy line (a printed header, a thick-nibbed signature)
    # would otherwise set the x-height of all the others.
    enough = [i for i in range(t) if starts[i + 1] - starts[i] >= max(10, 0.02 * spacing * spacing)]
    if enough:
        cores = np.array([core_of(dy[starts[i]:starts[i + 1]]) for i in enough])
        x_height, base_off = (float(v) for v in np.median(cores, axis=0))
    else:
        x_height, base_off = core_of(dy)

    lines, ink_px, line_contrast = [], [], []
    for i, tr in enumerate(tracks):
        a, b = starts[i], starts[i + 1]
        if b - a < max(10, 0.02 * spacing * spacing):
            continue  # a few stray pixels are not a line
        ly, lx, lc = py[a:b], px[a:b], pcon[a:b]
        for piece in _pieces(lx, spacing, split_gap):
            line = _outline(ly[piece], lx[piece], tr, spacing, base_off)
            if line is not None:
                lines.append(line)
                ink_px.append(int(piece.sum()))
                line_contrast.append(float(lc[piece].mean()))
    return lines, np.array(ink_px), np.array(line_contrast), x_height


def _pieces(xs: np.ndarray, spacing: float, split_gap: float) -> list[np.ndarray]:
    """Masks of a line's ink pixels (their x) for the pieces it falls into at gaps of paper
    wider than ``split_gap`` spacings (a date beside an address, a signature after "yours
    truly": separate lines), without the specks at either end that lie a spacing or more beyond
    the rest and hold under 3 % of the ink (the ridge a line is followed along runs on past its
    last word, and would stretch the box to a dot or to the sheet's edge there)."""
    bw = max(1.0, spacing / 4)
    x0 = xs.min()
    col = ((xs - x0) / bw).astype(np.int64)
    hist = np.bincount(col)
    filled = np.flatnonzero(hist)

    def runs(gap_bins: float) -> list[tuple[int, int, int]]:  # (first bin, last bin, pixels)
        breaks = np.flatnonzero(np.diff(filled) > gap_bins)
        first = filled[np.concatenate([[0], breaks + 1])]
        last = filled[np.concatenate([breaks, [filled.size - 1]])]
        return [(f, l, int(hist[f:l + 1].sum())) for f, l in zip(first, last)]

    specks = runs(4)  # four empty bins: a spacing of paper
    lo, hi = 0, len(specks) - 1
    while lo < hi and specks[lo][2] < 0.03 * xs.size:
        lo += 1
    while hi > lo and specks[hi][2] < 0.03 * xs.size:
        hi -= 1
    keep_lo, keep_hi = specks[lo][0], specks[hi][1]
    out = []
    for f, l, _ in runs(split_gap * 4):
        f, l = max(f, keep_lo), min(l, keep_hi)
        if f <= l:
            out.append((col >= f) & (col <= l))
    return out


def _outline(ly: np.ndarray, lx: np.ndarray, tr: _Track, spacing: float, base_off: float
             ) -> Line | None:
    """A line from its ink pixels: box, outline polygon (the top and bottom of the ink in
    columns half a spacing wide, as steps: straight lines between column centres would cut
    the corners of tall letters and zigzag on the screen) and baseline (the centre curve
    lowered to the x-height's foot). None for a dot."""
    if lx.size == 0:
        return None
    x0, x1 = int(lx.min()), int(lx.max()) + 1
    y0, y1 = int(ly.min()), int(ly.max()) + 1
    if x1 - x0 < 0.3 * spacing and y1 - y0 < 0.3 * spacing:
        return None
    step = max(2.0, spacing / 2)
    nb = max(1, int(np.ceil((x1 - x0) / step)))
    bins = np.minimum(((lx - x0) / step).astype(int), nb - 1)
    tops = np.full(nb, y1, np.int64)
    bots = np.full(nb, -1, np.int64)
    np.minimum.at(tops, bins, ly)
    np.maximum.at(bots, bins, ly)
    filled = bots >= 0
    mid = x0 + (np.arange(nb) + 0.5) * step
    tops = np.interp(mid, mid[filled], tops[filled])  # an empty column bridges its neighbours
    bots = np.interp(mid, mid[filled], bots[filled] + 1)
    edges = np.minimum(x0 + np.arange(nb + 1) * step, x1)
    left, right = edges[:-1], edges[1:]
    steps = [(float(x), float(y)) for a, b, y in zip(left, right, tops) for x in (a, b)]
    steps += [(float(x), float(y)) for a, b, y in zip(left[::-1], right[::-1], bots[::-1])
              for x in (b, a)]
    polygon = [pt for i, pt in enumerate(steps) if i == 0 or pt != steps[i - 1]]
    bxs = np.linspace(x0, x1 - 1, max(2, min(nb + 1, 16)))
    baseline = [(float(x), float(y)) for x, y in zip(bxs, tr.y_at(bxs) + base_off)]
    return Line(box=(x0, y0, x1, y1), polygon=tuple(polygon), baseline=tuple(baseline))


def _drop_fragments(lines: list[Line], kept: list[int], ink_px: np.ndarray, x_height: float
                    ) -> list[int]:
    """``kept`` without the lines that are too slight to be writing: under
    :data:`MIN_LINE_INK` and either lying within the height of a line with more ink (the tail
    of a flourish, a loop, a dot that the ridge tracking took for a line of its own; its ink
    belongs to its neighbour, whose box mostly holds it already) or not at least 2.5 times as
    wide as high (a stroke, a stain); and anything under :data:`MIN_LONE_INK`. A short line of
    its own (a date, an initial and name) is wide and has more ink."""
    drop = set()
    for i in kept:
        if ink_px[i] >= MIN_LINE_INK * x_height ** 2:
            continue
        if ink_px[i] < MIN_LONE_INK * x_height ** 2:
            drop.add(i)
            continue
        x0, y0, x1, y1 = lines[i].box
        cy = (y0 + y1) / 2
        beside = any(lines[j].box[1] <= cy <= lines[j].box[3] for j in kept if j != i)
        if beside and x1 - x0 < 2.5 * (y1 - y0):
            # A few letters are wide; a loop or a stroke beside a line is not. Alone on its
            # rows, a short word (a signature, "faith") is kept.
            drop.add(i)
            continue
        for j in kept:
            if j == i or ink_px[j] <= 2 * ink_px[i]:
                continue
            a0, b0, a1, b1 = lines[j].box
            if b0 <= cy <= b1 and min(x1, a1) - max(x0, a0) >= 0.5 * (x1 - x0):
                drop.add(i)
                break
    return [i for i in kept if i not in drop]


#: The x-height of handwriting is about this many pen widths (the Hooker letters' median is
#: 4.4, their pages range 2.7-7); lines of a thinner pen have their ink counted up to match.
PEN_RATIO = 5.0


def _thin_pen(ink: np.ndarray, x_height: float) -> float:
    """How much thinner than usual (:data:`PEN_RATIO`) for writing of this x-height the pen is,
    at least 1 and at most 3: its width is twice the mean distance from the strokes' middle
    (the ridge of the distance transform) to their edge, less one."""
    d = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    ridge = (d > 0) & (d >= cv2.dilate(d, np.ones((3, 3), np.uint8)))
    if not ridge.any():
        return 1.0
    pen = max(1.0, 2 * float(d[ridge].mean()) - 1)
    return float(np.clip(x_height / pen / PEN_RATIO, 1.0, 3.0))


def ink_level(contrast: np.ndarray, stats: np.ndarray) -> float:
    """The contrast of the page's writing: the 75th percentile of its ink's (by area). Lines
    much fainter than it (:data:`FAINT_RATIO`) are show-through from the back of a thin sheet
    and are left out (pencil notes beside ink writing go too: a price for clean pages)."""
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    order = np.argsort(contrast)
    cum = np.cumsum(area[order])
    return float(contrast[order][np.searchsorted(cum, 0.75 * cum[-1])])


def _reading_order(lines: list[Line], spacing: float) -> list[int]:
    """Indices of ``lines`` in reading order: top to bottom; pieces of one text row (a date
    beside a line, a signature after a gap) left to right; a page split by a clear vertical
    gutter: left column first."""
    if len(lines) < 2:
        return list(range(len(lines)))
    boxes = np.array([l.box for l in lines], np.float64)
    mid = np.array([np.mean([p[1] for p in l.baseline]) for l in lines])
    cols = _columns(boxes, spacing)
    out = []
    for col in cols:
        idx = sorted(col, key=lambda i: mid[i])
        rows: list[list[int]] = []
        for i in idx:  # a row: lines whose baselines lie within a third of a spacing
            if rows and abs(mid[i] - np.mean([mid[j] for j in rows[-1]])) < spacing / 3:
                rows[-1].append(i)
            else:
                rows.append([i])
        for row in rows:
            out.extend(sorted(row, key=lambda i: boxes[i, 0]))
    return out


def _columns(boxes: np.ndarray, spacing: float) -> list[list[int]]:
    """Split lines into a left and a right column when a vertical gap at least a spacing wide,
    in the middle half of the text, is crossed by no line and each side holds three lines."""
    left, right = boxes[:, 0].min(), boxes[:, 2].max()
    width = right - left
    if width < 6 * spacing:
        return [list(range(len(boxes)))]
    grid = np.arange(int(left), int(right) + 1)
    cover = np.zeros(grid.size, np.int32)
    for x0, _, x1, _ in boxes:
        cover[int(x0 - left):int(x1 - left)] += 1
    lo, hi = int(0.25 * width), int(0.75 * width)
    free = np.flatnonzero(cover[lo:hi] == 0)
    if free.size < spacing:
        return [list(range(len(boxes)))]
    cut = left + lo + free[free.size // 2]
    a = [i for i in range(len(boxes)) if boxes[i, 2] <= cut]
    b = [i for i in range(len(boxes)) if boxes[i, 0] >= cut]
    if len(a) < 3 or len(b) < 3:
        return [list(range(len(boxes)))]
    return [a, b]


def _to_original(line: Line, scale: float, size: tuple[int, int], margin: float) -> Line:
    """Working pixels to the original image's, the box grown by ``margin`` working pixels on
    every side (boxes stay on the image, x1/y1 exclusive)."""
    w, h = size

    def points(ps: tuple[tuple[float, float], ...]) -> tuple[Point, ...]:
        # All at once (a page's outlines hold some 20,000 points): NumPy rounds halves to even,
        # as Python's round() does, so the points are the ones a loop over round() gave.
        if not ps:
            return ()
        xy = np.round(np.asarray(ps, np.float64) / scale)
        xs = np.clip(xy[:, 0], 0, w - 1).astype(np.int64).tolist()
        ys = np.clip(xy[:, 1], 0, h - 1).astype(np.int64).tolist()
        return tuple(zip(xs, ys))

    x0, y0, x1, y1 = line.box
    x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    box = (max(0, int(np.floor(x0 / scale))), max(0, int(np.floor(y0 / scale))),
           min(w, int(np.ceil(x1 / scale))), min(h, int(np.ceil(y1 / scale))))
    return Line(box=box, polygon=points(line.polygon), baseline=points(line.baseline))
