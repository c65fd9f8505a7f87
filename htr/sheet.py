"""Finding the sheet of paper in a photo: where it lies against its background, and the sheet
flattened (perspective and rotation undone, background cropped away, light and shadow evened
out) for the line segmenter, with the homography that maps every position found on it back to
the photo's own pixels.

Classical image processing only (OpenCV), a few milliseconds on a reduced copy of the image:

1. The image is reduced to :data:`WORK_SIZE` pixels on its long side and its ink is closed
   away (a grey closing wider than a pen stroke), leaving paper and background.
2. Candidate sheet regions: the bright side of several thresholds (Otsu's, and Otsu's on the
   image with its large-scale light divided out, which keeps a sheet under a shadow whole); the
   largest component of each, holes filled, its outline reduced to four corners, each side then
   refitted to the outline's points along it (so that a dog-eared corner does not pull it).
   Where none of them measures as a sheet (3.), they are tried once more with their holes
   filled and narrow necks cut (a patch of light table touching the sheet joins its region).
   Where still none does, a sheet framed tightly is looked for: its corners out of the frame,
   its sides seen in pieces across the image (:func:`_partial_quad`).
3. Each candidate is *measured*, and a sheet is only reported when the measurement is
   convincing: every side must be an edge along most of its length (the background beyond it
   differs from the paper within it), the region must fill its quadrilateral, and the
   quadrilateral must cover a plausible share of the image with plausible corner angles. A scan
   (paper to the image's edges), a crop of one line or word, or a textured wall has no such
   four-sided edge, and goes on untouched: the decision is a measurement, never the file type.

:func:`find_sheet` returns a :class:`Sheet` (or None); :meth:`Sheet.flatten` gives the flat page
and :meth:`Sheet.to_original` maps points on it back into the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .image import shrink_to

#: Long side (pixels) of the reduced copy the sheet is looked for on: a sheet's edges are long
#: straight features, which survive the reduction, and the cost stays a few milliseconds.
WORK_SIZE = 512
#: A side counts as an edge where the brightness step across it (paper inside, background
#: outside, measured on the ink-free image) is at least this many grey levels...
EDGE_STEP = 12.0
#: ...along at least this share of its length (the rest: glare, a background as light as paper).
MIN_SIDE_SUPPORT = 0.6
#: The share of the quadrilateral the bright region must fill (a textured wall's bright blobs
#: fit a quadrilateral badly).
MIN_FILL = 0.9
#: ...and of a sheet framed tightly, whose sides are each measured as edges stretch by stretch
#: (:func:`_partial_quad`): a shadow across the sheet takes its dark part out of the bright
#: region (``JDH_2_16_56_002`` framed tightly: 79% of the quadrilateral; read as it is at 51%
#: CER, flattened 17%). No more of 587 scans and 200 bare backgrounds is taken for a sheet at 0.7.
PARTIAL_FILL = 0.7
#: The sheet's share of the image: smaller is a card or a label on a table, not a page to read;
#: larger leaves no background beyond its edges to measure them by.
MIN_AREA, MAX_AREA = 0.12, 0.97
#: Bright ground beyond a sheet counts against it only in patches at least this share of the
#: image wide (see :func:`_measure`).
SPILL_WIDTH = 0.06
#: A sheet running out of the frame (:func:`_partial_quad`) is taken only where a side it shows
#: is turned this many degrees from the frame at least: a scan whose page has a dark strip of the
#: scanner's lid along two edges is read as it is.
MIN_TURN = 1.0
#: Widest neck (share of the long side) by which a patch of light ground may join the sheet's
#: region and still be cut away from it (:func:`_neckless`).
NECK = 0.06
#: A corner of a photographed rectangle: 90 degrees give or take this much (perspective).
MAX_CORNER_SKEW = 35.0
#: Corners are pulled in by this share of the sheet's size before flattening, so that a pixel
#: or two of error in a corner leaves no strip of background along the flat page's edge.
INSET = 0.006
#: Paper grey the flattened page's light is evened out to.
PAPER = 235.0
#: Unsharp masking of the flattened page its lines are read from (amount, Gaussian sigma in
#: pixels): a photo is softer than a scan (focus, shake, the sensor's noise filtering, JPEG, the
#: warp's resampling). Chosen on the synthetic photos of ``bench/bench_photos.py`` (README,
#: "Photos of pages"). A scan sharpened so read worse (Copiste validation scans 17.6% -> 18.5%
#: page CER), so scans and crops, which have no sheet, are never sharpened; nor is the flat page
#: the segmenter looks for lines on (its thresholds were measured on unsharpened pages).
SHARPEN = (1.2, 1.6)


@dataclass(frozen=True)
class Sheet:
    """A sheet found in a photo.

    ``corners``: its four corners in the photo's pixels, clockwise from the top left of the
    page as it is read (float, shape (4, 2); outside the photo where the sheet runs out of it);
    ``size``: (width, height) of the flattened page; ``homography``: the 3x3 matrix taking photo
    pixels to flat-page pixels; ``support``: the weakest side's share of its length that is a
    measured edge (how sure the finding is).
    """

    corners: np.ndarray
    size: tuple[int, int]
    homography: np.ndarray
    support: float

    @property
    def outline(self) -> tuple[tuple[int, int], ...]:
        """The four corners rounded to whole photo pixels (for results and drawing)."""
        return tuple((int(round(x)), int(round(y))) for x, y in self.corners)

    def flatten(self, grey: np.ndarray) -> np.ndarray:
        """The sheet cut out of ``grey`` (the photo it was found in), perspective undone
        (bicubic: bilinear resampling softens strokes further), with its light and shadows
        evened out: paper near :data:`PAPER` grey everywhere. Its lines are found on this;
        they are read from it sharpened (:func:`sharpen`, :data:`SHARPEN`)."""
        w, h = self.size
        flat = cv2.warpPerspective(grey, self.homography, (w, h), flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REPLICATE)
        return even_light(flat)

    def to_original(self, points) -> np.ndarray:
        """Points (x, y) on the flattened page, mapped back into the photo's pixels."""
        pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
        if not pts.size:
            return np.zeros((0, 2))
        return cv2.perspectiveTransform(pts, np.linalg.inv(self.homography)).reshape(-1, 2)


def find_sheet(grey: np.ndarray) -> Sheet | None:
    """The sheet of paper in a photo (uint8 greyscale), or None when the image shows no sheet
    against a background: a scan, a crop, a blank wall (see the module's docstring)."""
    h, w = grey.shape[:2]
    if min(h, w) < 64:  # a word or a thumbnail: nothing to find
        return None
    small, scale = shrink_to(grey, WORK_SIZE)
    # Ink closed away: a grey closing wider than a stroke at this size leaves paper and ground.
    k = max(3, round(max(small.shape) / 80)) | 1
    clean = cv2.morphologyEx(small, cv2.MORPH_CLOSE,
                             cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    clean = cv2.GaussianBlur(clean, (5, 5), 0)
    masks = _candidate_masks(clean)
    # A patch of ground as light as the paper may touch the sheet and join its region, pulling
    # a corner out to it, and dark ink or the light's estimate may leave a hole in the region:
    # only where no region measures as a sheet, the regions are looked at and measured again
    # with their holes filled and such necks cut.
    best = _best_quad(masks, clean)
    if best is None:
        masks = [_neckless(mask) for mask in masks]
        best = _best_quad(masks, clean)
    if best is None:
        # A photo framed tightly: the sheet's corners are out of the frame, and only pieces of
        # its sides cross the image (the background shows in the corners).
        for mask in masks:
            found = _partial_quad(mask, clean)
            if found is not None and (best is None or found[0] > best[0]):
                best = found
    if best is None:
        return None
    support, quad = best
    corners = _order(quad / scale)
    return _sheet(corners, support, (w, h))


def even_light(grey: np.ndarray) -> np.ndarray:
    """``grey`` with its paper brought to one brightness: divided by the paper's own brightness
    estimated round every point (a max filter wider than any stroke, on a reduced copy, then
    smoothed), so that a shadow or light falling off to one side no longer darkens the page."""
    h, w = grey.shape
    f = max(1, max(h, w) // 256)
    small = cv2.resize(grey, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    k = max(3, max(small.shape) // 40) | 1
    paper = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    paper = cv2.GaussianBlur(paper.astype(np.float32), (0, 0), k / 2)
    paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)
    out = grey.astype(np.float32) * (PAPER / np.maximum(paper, 8.0))
    return np.clip(out, 0, 255).astype(np.uint8)


def sharpen(grey: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    """Unsharp masking: ``grey`` plus ``amount`` times its difference from its Gaussian blur of
    ``sigma`` pixels (edges steeper, flat paper unchanged)."""
    g = grey.astype(np.float32)
    out = g + amount * (g - cv2.GaussianBlur(g, (0, 0), sigma))
    return np.clip(out, 0, 255).astype(np.uint8)


# --- candidates --------------------------------------------------------------------------------

def _best_quad(masks: list[np.ndarray], clean: np.ndarray) -> tuple[float, np.ndarray] | None:
    """(support, corners) of the best-measured four-sided region among ``masks``, or None."""
    best = None
    for mask in masks:
        quad = _quad_of(mask)
        if quad is None:
            continue
        support = _measure(quad, mask, clean)
        if support is not None and (best is None or support > best[0]):
            best = (support, quad)
    return best


def _candidate_masks(clean: np.ndarray) -> list[np.ndarray]:
    """Bright-region masks that may be the sheet: Otsu's threshold on the ink-free image, and on
    the same image with its large-scale light divided out (a shadow across the sheet would
    otherwise cut the shadowed part off with the background)."""
    masks = []
    _, m = cv2.threshold(clean, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    masks.append(m)
    # The light: a heavy blur, made on a copy an eighth the size (the same, and far cheaper).
    h, w = clean.shape
    tiny = cv2.resize(clean, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    light = cv2.GaussianBlur(tiny.astype(np.float32), (0, 0), max(tiny.shape) / 6)
    light = cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)
    ratio = clean.astype(np.float32) / np.maximum(light, 1.0)
    r8 = np.clip(ratio * 128, 0, 255).astype(np.uint8)
    _, m = cv2.threshold(r8, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    masks.append(m)
    return masks


def _neckless(mask: np.ndarray) -> np.ndarray:
    """``mask`` with its holes filled (the ink left in a sheet) and opened by a disc
    :data:`NECK` of its long side wide: a sheet, wider than that everywhere, keeps its shape
    but for its corners (which the sides' refit restores), and a patch of ground joined to it
    by anything narrower comes away. (The opening is made on a copy a quarter the size, where
    the disc costs a sixteenth, and only cuts the filled mask.)"""
    filled = np.zeros_like(mask)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(filled, contours, -1, 1, cv2.FILLED)
    h, w = mask.shape
    quarter = cv2.resize(filled, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_NEAREST)
    k = max(3, round(NECK * max(quarter.shape))) | 1
    opened = cv2.morphologyEx(quarter, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return filled & cv2.resize(opened, (w, h), interpolation=cv2.INTER_NEAREST)


def _partial_quad(mask: np.ndarray, clean: np.ndarray) -> tuple[float, np.ndarray] | None:
    """(support, four corners) of a sheet that runs out of the frame: the outline of the mask's
    largest region is cut into the stretches along the image's border and the rest, and the rest
    at its corners into straight stretches (:func:`_straight_parts`): the sheet's sides as far as
    they are seen. A stretch is kept only where it is an edge (a brightness step across it along
    :data:`MIN_SIDE_SUPPORT` of its length; a shadow's soft rim is not) and not the frame itself
    (parallel to a border, close along it). Each side of the sheet is the line fitted to the seen
    stretches across it (near the image's top, right, bottom or left border and roughly along
    it), or, where none is seen, that border: the sheet goes on out of the frame there. The
    corners, where neighbouring sides meet, may lie outside the image. Two sides at least must
    be seen, one of them turned :data:`MIN_TURN` from the frame, each a brightness step along
    :data:`MIN_SIDE_SUPPORT` of its seen length (the weakest's share is the support), and the
    region must fill :data:`PARTIAL_FILL` of the quadrilateral's part in the frame; else None."""
    h, w = mask.shape
    largest = _largest_region(mask)
    if largest is None or largest[1] < 0.5 * h * w:  # a sheet framed tightly fills the photo
        return None
    region, _, contour = largest
    outline = contour.reshape(-1, 2).astype(np.float64)
    margin = max(2.0, 0.01 * max(h, w))
    inside = ((outline[:, 0] > margin) & (outline[:, 0] < w - 1 - margin)
              & (outline[:, 1] > margin) & (outline[:, 1] < h - 1 - margin))
    # The seen stretches of the sheet's sides: runs of outline points off the image's border.
    borders = {"top": ((0, 0), (1, 0)), "right": ((w - 1, 0), (0, 1)),
               "bottom": ((0, h - 1), (1, 0)), "left": ((0, 0), (0, 1))}
    seen: dict[str, list[np.ndarray]] = {k: [] for k in borders}
    img = clean.astype(np.float32)
    off = max(3.0, max(h, w) / 100)
    centre = np.array([w / 2, h / 2])
    # A corner of the sheet in the frame joins two of its sides in one run: runs are cut at
    # their corners into straight stretches first.
    stretches = [run[a:b] for run in _runs(inside)
                 for a, b in _straight_parts(outline[run], 0.02 * max(h, w))]
    for run in stretches:
        pts = outline[run]
        if len(pts) < max(10, 0.05 * max(h, w)):
            continue
        (x0, y0), (vx, vy) = _fit_line(pts)
        # A stretch close to a border all along and parallel to it is the frame's edge (the
        # bright region stopping a few pixels short of it), not a side.
        near = 3 * margin
        if (min(abs(vx), abs(vy)) < np.sin(np.radians(MIN_TURN))
                and (pts[:, 1].max() <= near or pts[:, 1].min() >= h - 1 - near
                     or pts[:, 0].max() <= near or pts[:, 0].min() >= w - 1 - near)):
            continue
        if abs(vx) >= abs(vy):  # along the top or the bottom
            side = "top" if y0 < h / 2 else "bottom"
        else:
            side = "left" if x0 < w / 2 else "right"
        if abs(np.degrees(np.arctan2(min(abs(vx), abs(vy)), max(abs(vx), abs(vy))))) > MAX_CORNER_SKEW:
            continue  # a corner's two sides in one run: no one straight side
        # A stretch without a brightness step across it is no edge of the sheet: the soft rim of
        # a shadow that cut the bright region, or a patch of light ground.
        share = _edge_share(img, pts[::4], (np.array([x0, y0]), np.array([vx, vy])), centre, off)
        if share is not None and share >= MIN_SIDE_SUPPORT:
            seen[side].append(pts)
    if sum(1 for v in seen.values() if v) < 2:
        return None
    lines = {}
    turned = 0.0  # the largest angle between a seen side and its border
    for side, ((bx, by), (ux, uy)) in borders.items():
        if seen[side]:
            lines[side] = _fit_line(np.concatenate(seen[side]))
            vx, vy = lines[side][1]
            turned = max(turned, float(np.degrees(np.arcsin(min(1.0, abs(vx * uy - vy * ux))))))
        else:
            lines[side] = (np.array([bx, by], np.float64), np.array([ux, uy], np.float64))
    if turned < MIN_TURN:
        return None  # a scan's page with a dark strip along its edges: nothing to undo
    corners = [_meet(lines[a], lines[b]) for a, b in
               (("left", "top"), ("top", "right"), ("right", "bottom"), ("bottom", "left"))]
    if any(c is None for c in corners):
        return None
    quad = np.array(corners)
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return None
    # The quadrilateral's part in the frame must be the region's.
    frame = np.zeros_like(mask)
    cv2.fillPoly(frame, [np.round(quad).astype(np.int32)], 1)
    if (region & frame).sum() < PARTIAL_FILL * frame.sum() or (region & ~frame & 1).sum() > 0.02 * frame.sum():
        return None
    # Each seen side a brightness step (paper within, background beyond) along its seen points.
    supports = []
    for side, pts in seen.items():
        if not pts:
            continue
        share = _edge_share(img, np.concatenate(pts)[::4], lines[side], centre, off)
        if share is None:
            return None
        supports.append(share)
    if min(supports) < MIN_SIDE_SUPPORT:
        return None
    return min(supports), _order(quad)


def _edge_share(img: np.ndarray, pts: np.ndarray, line: tuple[np.ndarray, np.ndarray],
                centre: np.ndarray, off: float) -> float | None:
    """The share of ``pts`` along a side (``line``: a point on it and its direction) across which
    ``img`` steps by :data:`EDGE_STEP` from paper within to darker ground beyond (away from
    ``centre``); None where fewer than 5 of them have their outside in the image."""
    (p, u) = line
    normal = np.array([u[1], -u[0]])
    if normal @ (p - centre) < 0:
        normal = -normal  # out of the sheet
    step, ok = _steps(img, pts, normal, off)
    if ok.sum() < 5:
        return None
    return float(np.mean(step >= EDGE_STEP))


def _runs(flags: np.ndarray) -> list[np.ndarray]:
    """Index arrays of the runs of True in a closed outline's ``flags`` (a run across the
    outline's start is one run)."""
    if flags.all():
        return [np.arange(len(flags))]
    if not flags.any():
        return []
    start = int(np.argmin(flags))  # a False point: no run crosses the rolled start
    rolled = np.roll(flags, -start)
    idx = np.flatnonzero(rolled)
    cuts = np.flatnonzero(np.diff(idx) > 1) + 1
    return [(part + start) % len(flags) for part in np.split(idx, cuts)]


def _straight_parts(pts: np.ndarray, tolerance: float) -> list[tuple[int, int]]:
    """(start, end) index ranges cutting an open curve of whole-pixel points into pieces that
    each stay within ``tolerance`` of the chord between their ends (OpenCV's Douglas-Peucker
    simplification; its vertices are points of the curve): a run round a corner becomes its
    two sides."""
    curve = pts.astype(np.int32).reshape(-1, 1, 2)
    vertices = cv2.approxPolyDP(curve, tolerance, False).reshape(-1, 2)
    cuts, at = [], 0
    for v in vertices:  # each vertex's place on the curve, in order
        at += int(np.flatnonzero((curve[at:, 0] == v).all(axis=1))[0])
        cuts.append(at)
    return [(a, b + 1) for a, b in zip(cuts[:-1], cuts[1:])]


def _quad_of(mask: np.ndarray) -> np.ndarray | None:
    """Four corners (float (4, 2), small-image pixels) of the mask's largest component, or None
    when it has no four-sided outline."""
    k = max(3, max(mask.shape) // 100) | 1
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    largest = _largest_region(mask)
    if largest is None:
        return None
    contour = largest[2]
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    quad = None
    for eps in np.linspace(0.01, 0.08, 15):
        approx = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2).astype(np.float64)
            break
        if len(approx) < 4:
            break
    if quad is None:
        return None
    # Too small or too large to measure (a scan's paper fills it all): no need to refine.
    area = cv2.contourArea(quad.astype(np.float32))
    if not MIN_AREA * mask.size <= area <= MAX_AREA * mask.size:
        return None
    return _refit_sides(_order(quad), contour.reshape(-1, 2).astype(np.float64))


def _refit_sides(quad: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """Each side refitted (a robust line fit) to the outline points lying near it away from its
    corners, and the corners taken where neighbouring sides meet: exact where the sheet's
    corners are rounded, folded or hidden."""
    lines = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        d = b - a
        length = float(np.hypot(*d))
        if length < 1:
            return quad
        u = d / length
        rel = outline - a
        along = rel @ u
        across = np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])
        near = (across < max(2.0, 0.03 * length)) & (along > 0.1 * length) & (along < 0.9 * length)
        pts = outline[near][::2]  # every other point: as exact, and the fit is the cost here
        if len(pts) < 10:
            lines.append((a, u))
            continue
        lines.append(_fit_line(pts))
    out = [_meet(lines[i - 1], lines[i]) for i in range(4)]
    return quad if any(c is None for c in out) else np.array(out)


# --- the measurement ---------------------------------------------------------------------------

def _measure(quad: np.ndarray, mask: np.ndarray, clean: np.ndarray) -> float | None:
    """How well ``quad`` is a sheet on a background: the weakest side's share of its length with
    a brightness step of :data:`EDGE_STEP` across it; None where the shape, its size or the
    region's fill rule it out, or a side has too little edge."""
    h, w = clean.shape
    area = cv2.contourArea(quad.astype(np.float32))
    if not MIN_AREA * w * h <= area <= MAX_AREA * w * h:
        return None
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return None
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        u, v = a - b, c - b
        cos = float(u @ v / max(np.hypot(*u) * np.hypot(*v), 1e-9))
        if abs(np.degrees(np.arccos(np.clip(cos, -1, 1))) - 90) > MAX_CORNER_SKEW:
            return None
    inside = np.zeros_like(mask)
    cv2.fillPoly(inside, [np.round(quad).astype(np.int32)], 1)
    # Bright ground beyond the quadrilateral: a sheet is a bright region standing out against a
    # darker ground, not a part of a larger bright area. Thin bright streaks (the grain of a
    # light wood, a cloth's stripes) are no such area: only bright patches wider than
    # SPILL_WIDTH of the image count.
    k = max(3, round(SPILL_WIDTH * max(h, w))) | 1
    broad = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))  # square: fast
    if (mask & inside).sum() < MIN_FILL * inside.sum() or (broad & ~inside & 1).sum() > 0.1 * inside.sum():
        return None
    # The step across each side: the ink-free image a few pixels inside against a few outside,
    # sampled along the side; samples whose outside falls off the image do not count for or
    # against (a sheet running out of the frame), but three sides at least must be seen.
    img = clean.astype(np.float32)
    centre = quad.mean(axis=0)
    off = max(3.0, max(h, w) / 100)
    supports, seen_sides = [], 0
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        d = b - a
        normal = np.array([d[1], -d[0]]) / max(np.hypot(*d), 1e-9)
        if normal @ ((a + b) / 2 - centre) < 0:
            normal = -normal  # pointing out of the sheet
        t = np.linspace(0.08, 0.92, 40)[:, None]
        step, seen = _steps(img, a + t * d, normal, off)
        if seen.mean() < 0.5:
            continue
        seen_sides += 1
        supports.append(float(np.mean(np.abs(step) >= EDGE_STEP)))
    if seen_sides < 3 or min(supports) < MIN_SIDE_SUPPORT:
        return None
    return min(supports)


def _steps(img: np.ndarray, pts: np.ndarray, normal: np.ndarray, off: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """The brightness step across a side at its points ``pts``: ``img`` ``off`` pixels inside
    (against ``normal``, which points out of the sheet) less ``off`` outside, at the points
    whose outside lies in the image; and which points those are (the others run out of the
    frame and count neither for nor against)."""
    h, w = img.shape
    out_pts, in_pts = pts + off * normal, pts - off * normal
    seen = ((out_pts[:, 0] >= 0) & (out_pts[:, 0] <= w - 1)
            & (out_pts[:, 1] >= 0) & (out_pts[:, 1] <= h - 1))
    if not seen.any():
        return np.zeros(0, np.float32), seen
    return _sample(img, in_pts[seen]) - _sample(img, out_pts[seen]), seen


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``img`` at float points (clamped to the image)."""
    h, w = img.shape
    x = np.clip(pts[:, 0], 0, w - 1).astype(np.float32).reshape(1, -1)
    y = np.clip(pts[:, 1], 0, h - 1).astype(np.float32).reshape(1, -1)
    return cv2.remap(img, x, y, cv2.INTER_LINEAR).ravel()


# --- geometry -----------------------------------------------------------------------------------

def _largest_region(mask: np.ndarray) -> tuple[np.ndarray, int, np.ndarray] | None:
    """The largest 4-connected region of ``mask`` (uint8 0/1), its area and its outer outline
    (OpenCV contour, every point); None for an empty mask."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    if n < 2:
        return None
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (labels == big).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return region, int(stats[big, cv2.CC_STAT_AREA]), max(contours, key=cv2.contourArea)


def _fit_line(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A robust straight-line fit to points (x, y): a point on the line and its unit
    direction."""
    vx, vy, x0, y0 = cv2.fitLine(pts.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    return np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)


def _meet(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    """Where lines ``a`` and ``b`` (a point and a direction each) cross; None for parallel
    lines."""
    (p, u), (q, v) = a, b
    m = np.array([[u[0], -v[0]], [u[1], -v[1]]])
    if abs(np.linalg.det(m)) < 1e-6:
        return None
    return p + np.linalg.solve(m, q - p)[0] * u


def _order(quad: np.ndarray) -> np.ndarray:
    """Corners clockwise (in image coordinates) starting from the top left: the corner nearest
    the top left of the image's frame after sorting by angle round the centre."""
    c = quad.mean(axis=0)
    angles = np.arctan2(quad[:, 1] - c[1], quad[:, 0] - c[0])
    q = quad[np.argsort(angles)]  # clockwise on screen (y down), from the left
    start = int(np.argmin(q[:, 0] + q[:, 1]))
    return np.roll(q, -start, axis=0)


def _sheet(corners: np.ndarray, support: float, image_size: tuple[int, int]) -> Sheet:
    """The :class:`Sheet` of four ordered corners: the flat page's shape (width to height) the
    ratio of the mean lengths of its opposite sides, its size such that no side is shortened
    (no writing squeezed), and the homography onto it, corners pulled in by :data:`INSET`.

    The longer side of each pair alone gets the shape wrong where one pair is foreshortened
    more than the other (a camera tilted forward: the near edge long, the sides short): by 6.5%
    (median; 15% in a tenth) for a camera tilted up to 25 degrees either way, the mean by 2.5%
    (7%); for corners moved at random as in the photo benchmark, 4.9% against 4.5% (simulated
    quadrilaterals, corners 1% off). Not kept: the camera's geometry (Zhang and He's whiteboard
    method) fails where a pair of sides is parallel in the photo (a camera tilted forward only);
    with a phone's usual focal length assumed instead it gets tilted cameras' shapes within 1%
    (3%), but the benchmark's random corners 4.7% (11%) out, worse than the mean."""
    tl, tr, br, bl = corners
    across = (np.hypot(*(tr - tl)), np.hypot(*(br - bl)))
    down = (np.hypot(*(bl - tl)), np.hypot(*(br - tr)))
    aspect = float(np.mean(across) / np.mean(down))
    height = max(max(down), max(across) / aspect)
    width = height * aspect
    # Never larger than the photo itself: the flat page keeps the photo's resolution.
    shrink = min(1.0, max(image_size) / max(width, height))
    fw, fh = max(1, int(round(width * shrink))), max(1, int(round(height * shrink)))
    c = corners.mean(axis=0)
    inset = corners + (c - corners) * (2 * INSET)
    target = np.array([[0, 0], [fw - 1, 0], [fw - 1, fh - 1], [0, fh - 1]], np.float32)
    homography = cv2.getPerspectiveTransform(inset.astype(np.float32), target)
    return Sheet(corners=corners, size=(fw, fh), homography=homography, support=support)
