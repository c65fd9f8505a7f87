"""Pen strokes as ink on paper: how online handwriting (IAM-OnDB) becomes offline training images.

:func:`parse_strokes` reads a stroke file (``<StrokeSet><Stroke><Point x= y= .../>``);
:func:`render_strokes` draws the strokes as a grey line image, ink dark on light paper. With
``rng=None`` the rendering is canonical (fixed pen, no slant, white paper: validation and
previews); with a generator the pen, pressure, slant, rotation, scale, ink, paper, lighting, blur
and sensor noise vary, so that a model sees ink rather than a plotter.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import cv2
import numpy as np

#: Default height of a rendered line in pixels.
DEFAULT_HEIGHT = 80
#: Writing body (x-height) as a fraction of the output height in the canonical rendering.
BODY_FRACTION = 0.27
#: Pen width as a fraction of the body height in the canonical rendering.
PEN_FRACTION = 0.13
#: Widest rendered line, in units of its height (longer lines are drawn smaller).
MAX_ASPECT = 60

_STROKE_RE = re.compile(rb"<Stroke\b[^>]*?(?:/>|>(.*?)</Stroke\s*>)", re.S)
_POINT_RE = re.compile(rb"<Point\b([^>]*)>")
_XY_RE = re.compile(rb'\bx\s*=\s*"(-?[0-9.eE+]+)"\s+y\s*=\s*"(-?[0-9.eE+]+)"')
_SHIFT = 3  # fractional bits of the coordinates handed to OpenCV
_ONE = 1 << _SHIFT


# --------------------------------------------------------------------------------------------
# Parsing


def parse_strokes(xml_bytes: bytes | str) -> list[np.ndarray]:
    """Strokes of an IAM-OnDB ``lineStrokes`` file: one float32 array ``(n, 2)`` of x, y per stroke.

    Coordinates are whiteboard units, y pointing down. Strokes without points are left out.
    Raises ValueError on text that is not XML of that form.
    """
    data = xml_bytes.encode("utf-8") if isinstance(xml_bytes, str) else bytes(xml_bytes)
    if b"</StrokeSet" not in data:  # no stroke set, or a truncated file: let the XML parser say
        if b"<" not in data:
            raise ValueError("not a stroke file (no XML)")
        strokes = _parse_with_etree(data)  # raises ValueError on broken XML
        if b"<StrokeSet" not in data:
            raise ValueError("not a stroke file (no <StrokeSet>)")
        return strokes
    strokes: list[np.ndarray] = []
    for match in _STROKE_RE.finditer(data):
        body = match.group(1) or b""
        pairs = _XY_RE.findall(body)
        if len(pairs) != body.count(b"<Point"):  # unusual attribute order: take the slow path
            return _parse_with_etree(data)
        if pairs:
            strokes.append(np.array(pairs, dtype=np.float32).reshape(-1, 2))
    return strokes


def _parse_with_etree(data: bytes) -> list[np.ndarray]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"not a stroke file ({exc})") from None
    strokes = []
    for stroke in root.iter("Stroke"):
        pts = [(float(p.get("x", "nan")), float(p.get("y", "nan"))) for p in stroke.iter("Point")]
        arr = np.array(pts, dtype=np.float32).reshape(-1, 2)
        arr = arr[np.isfinite(arr).all(axis=1)]
        if len(arr):
            strokes.append(arr)
    return strokes


# --------------------------------------------------------------------------------------------
# Cleaning and measuring strokes


def clean_strokes(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Strokes ready to draw: float64 ``(n, 2)`` arrays without non-finite or repeated points,
    without outlier points far outside the writing's robust bounding box (IAM-OnDB has stray
    points from the sensor), and split where the pen jumps implausibly far between two samples."""
    pts, starts = _flatten(strokes)
    if len(pts) == 0:
        return []
    return np.split(pts, starts[1:]) if len(starts) > 1 else [pts]


def _flatten(strokes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Cleaned points of all strokes, concatenated, and the index where each stroke starts."""
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return np.zeros((0, 2)), np.zeros(0, np.int64)
    pts = np.concatenate(arrays)
    first = np.zeros(len(pts), bool)
    first[np.cumsum([0] + [len(a) for a in arrays[:-1]])] = True

    keep = np.isfinite(pts).all(axis=1)
    if not keep.all():
        pts, first = _drop(pts, first, keep)
    if len(pts) == 0:
        return pts, np.zeros(0, np.int64)
    if len(pts) >= 8:
        # Robust box: the bulk of the points plus a generous margin in units of the writing's size.
        x, y = pts[:, 0], pts[:, 1]
        x0, x1 = np.percentile(x, (1.0, 99.0))
        y0, y25, y75, y1 = np.percentile(y, (2.0, 25.0, 75.0, 98.0))
        ref = max(y75 - y25, 0.25 * (y1 - y0), 0.02 * (x1 - x0), 1e-6)
        keep = (x >= x0 - 8 * ref) & (x <= x1 + 8 * ref) & (y >= y0 - 4 * ref) & (y <= y1 + 4 * ref)
        if not keep.all():
            pts, first = _drop(pts, first, keep)
    else:
        ref = np.inf  # too few points to tell a glitch from a quick stroke
    # Repeated points add nothing; a jump of several body heights between two samples is a glitch.
    step = np.hypot(*np.diff(pts, axis=0).T)
    dup = np.concatenate([[False], (step == 0) & ~first[1:]])
    if dup.any():
        pts, first = pts[~dup], first[~dup]
        step = np.hypot(*np.diff(pts, axis=0).T)
    jump = np.concatenate([[False], step > 5 * ref])
    first |= jump
    starts = np.flatnonzero(first)
    # A point or two cut off by jumps on either side is a sensor glitch, not a dot.
    lengths = np.diff(np.append(starts, len(pts)))
    glitch = (lengths <= 2) & (jump[starts] | np.append(jump[starts[1:]], False))
    if glitch.any():
        keep = ~np.repeat(glitch, lengths)
        pts, first = pts[keep], first[keep]
        starts = np.flatnonzero(first)
    return pts, starts


def _drop(pts: np.ndarray, first: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the points where ``keep``; a stroke whose first point goes starts at its next kept one."""
    sid = np.cumsum(first)
    pts, sid = pts[keep], sid[keep]
    first = np.ones(len(pts), bool)
    first[1:] = sid[1:] != sid[:-1]
    return pts, first


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    order = np.argsort(values)
    cw = np.cumsum(weights[order])
    cw /= cw[-1]
    return np.interp(qs, cw, values[order])


def _point_weights(pts: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Ink length around each point (half of each neighbouring segment in the same stroke), so
    that slowly drawn parts, sampled densely, do not count more than fast ones."""
    step = np.hypot(*np.diff(pts, axis=0).T)
    step[first[1:]] = 0.0  # pen-up moves are no ink
    w = np.zeros(len(pts))
    w[:-1] += 0.5 * step
    w[1:] += 0.5 * step
    pos = w[w > 0]
    w += (np.median(pos) if len(pos) else 1.0) * 0.05  # dots and lone points still count a little
    return w


# --------------------------------------------------------------------------------------------
# Rendering


def render_strokes(strokes: list[np.ndarray], rng: np.random.Generator | None = None,
                   height: int = DEFAULT_HEIGHT, *, body: float | None = None,
                   angle: float | None = None) -> np.ndarray:
    """Draw pen strokes as a grey line image (uint8, ink dark on light paper), ``height`` rows.

    ``strokes`` are float arrays ``(n, 2)`` of x, y (y down) in any unit: the writing is scaled so
    that its body (x-height) is about a quarter of the height, and the width follows with a small
    margin. Pen-up gaps stay gaps; a one-point stroke is a dot; outlier points are dropped.
    ``rng=None`` gives the canonical rendering (fixed pen, upright, white paper); a generator
    varies pen width and pressure, slant, rotation, scale, ink, paper, lighting, blur and noise.

    ``body`` and ``angle`` (in the strokes' units and radians, as :func:`ink_frame` measures them)
    replace the body height and the levelling rotation that are otherwise estimated from the
    points: a word cut from a line (:func:`split_words`) is drawn at its line's size and angle
    rather than blown up or tilted by its own few points.
    """
    if height < 8:
        raise ValueError(f"height must be at least 8 pixels, not {height}")
    pts, starts = _flatten(strokes)
    first = np.zeros(len(pts), bool)
    first[starts] = True
    if len(pts) == 0:
        return _finish(np.zeros((height, height), np.float32), rng)

    w = _point_weights(pts, first)
    # Straighten the line (whiteboard lines drift), then measure the body on the level line.
    cx, cy = _weighted_quantiles(pts[:, 0], w, 0.5), _weighted_quantiles(pts[:, 1], w, 0.5)
    c = pts - (cx, cy)
    xq = _weighted_quantiles(c[:, 0], w, (0.05, 0.95))
    given_body = body is not None and np.isfinite(body) and body > 0
    if given_body:
        body = float(body)
    if angle is None:
        angle = _level_angle(c, w, xq, body if given_body else _body(c, w, xq))
    else:
        angle = float(angle)
    if not given_body:
        body = _body(c, w, xq)
    if rng is None:
        shear, sx, sy, body_frac, pen_frac = 0.0, 1.0, 1.0, BODY_FRACTION, PEN_FRACTION
    else:
        angle += np.deg2rad(rng.uniform(-2.0, 2.0))
        shear = rng.uniform(-0.35, 0.35)
        aspect = np.exp(rng.uniform(-0.15, 0.15))
        sx, sy = aspect, 1.0 / aspect
        body_frac = BODY_FRACTION * np.exp(rng.uniform(-0.2, 0.12))
        pen_frac = np.exp(rng.uniform(np.log(0.06), np.log(0.26)))
    ca, sa = np.cos(angle), np.sin(angle)
    m = np.array([[ca, -sa], [sa, ca]])
    if angle:
        c = c @ m.T
        if not given_body:
            body = _body(c, w, xq)
    if shear or sx != 1.0:
        c = c @ np.array([[sx, -shear * sy], [0.0, sy]]).T

    # Scale: body at body_frac of the height, unless the ink would not fit (tall capitals,
    # long descenders) or the line would be wider than MAX_ASPECT heights.
    lo, hi = c.min(axis=0), c.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    pen_body = body_frac * height  # pen width follows the body as it would be drawn
    margin_y = 0.06 * height
    k = min(body_frac * height / (body * sy), (height - 2 * margin_y - 1) / span[1])
    if rng is None:
        mx0 = mx1 = 0.08 * height
    else:
        mx0, mx1 = rng.uniform(0.02, 0.18, size=2) * height
    k = min(k, (MAX_ASPECT * height - mx0 - mx1 - 1) / span[0])
    width = int(np.ceil(span[0] * k + mx0 + mx1))
    free = height - span[1] * k
    top = free / 2 if rng is None else rng.uniform(min(margin_y, free / 2), max(free - margin_y, free / 2))
    xy = (c - lo) * k + (mx0, top)

    # Pen: width relative to the body at its intended size (a line shrunk to fit keeps its pen).
    pen = max(pen_frac * min(pen_body, body * sy * k * 1.6), 0.9)
    alpha = _draw(xy, first, pen, (height, width), rng)
    return _finish(alpha, rng)


def _level_angle(c: np.ndarray, w: np.ndarray, xq: np.ndarray, body: float) -> float:
    """Rotation (radians) that levels a line drifting up or down the board: the main axis of its
    ink, within +-0.25; 0 for writing less than four bodies wide (a word is no line to level)."""
    if xq[1] - xq[0] > 4 * body:
        cov = np.cov(c[:, 0], c[:, 1], aweights=w)
        return -float(np.clip(np.arctan2(cov[0, 1], cov[0, 0]), -0.25, 0.25))
    return 0.0


def _body(c: np.ndarray, w: np.ndarray, xq: np.ndarray) -> float:
    """Height of the writing's body: the spread of the middle half of the ink (weighted by ink
    length), a little more than half the x-height; never collapsing on flat scribbles."""
    y02, y25, y75, y98 = _weighted_quantiles(c[:, 1], w, (0.02, 0.25, 0.75, 0.98))
    return max(y75 - y25, 0.15 * (y98 - y02), 0.01 * (xq[1] - xq[0]), 1e-6)


def _thickness(width_ss: np.ndarray | float) -> np.ndarray:
    """OpenCV thickness drawing an anti-aliased line about ``width_ss`` pixels wide.

    A LINE_AA line of thickness t covers about 2 * ceil(t / 2) + 1.4 pixels (t = 1: 1.35)."""
    k = np.maximum(np.rint((np.asarray(width_ss) - 1.44) / 2.0), 0).astype(np.int64)
    return np.where(k == 0, 1, 2 * k)


def _draw(xy: np.ndarray, first: np.ndarray, pen: float, shape: tuple[int, int],
          rng: np.random.Generator | None) -> np.ndarray:
    """Ink coverage (float32 0..1) of the strokes drawn with a round pen ``pen`` pixels wide."""
    h, w = shape
    ss = 4 if pen < 2.5 else 3 if pen < 5 else 2  # supersampling: finer width steps for thin pens
    fixed = np.rint(xy * (ss * _ONE)).astype(np.int32)
    n = len(fixed)
    canvas = np.zeros((h * ss, w * ss), np.uint8)
    if rng is None:
        thick = int(_thickness(pen * ss))
        # A one-point stroke is drawn as a segment of zero length: a round dot.
        pieces = _pieces(fixed, np.flatnonzero(first))
        cv2.polylines(canvas, pieces, False, 255, thick, cv2.LINE_AA, _SHIFT)
    else:
        # Pressure: the width swells and thins smoothly along the writing (a few slow waves in
        # arc length), fast strokes (points far apart: the digitiser samples at a fixed rate)
        # come out thinner, and the pen lifts a little at the ends of a stroke.
        seg = np.hypot(*np.diff(xy, axis=0).T)
        seg[first[1:]] = 0.0
        s = np.concatenate([[0.0], np.cumsum(seg)]) / max(pen, 1.0)
        amp = rng.uniform(0.0, 0.4)
        wave = np.zeros(n)
        for _ in range(3):
            wave += np.sin(s / rng.uniform(3.0, 25.0) + rng.uniform(0, 2 * np.pi))
        factor = 1.0 + amp * wave / 3.0
        speed = np.zeros(n)
        speed[:-1] += seg
        speed[1:] += seg
        moving = speed > 0
        if moving.sum() > 2:
            rel = speed / np.median(speed[moving])
            factor *= np.where(moving, np.clip(rel, 0.5, 2.0) ** -rng.uniform(0.0, 0.3), 1.0)
        starts = np.flatnonzero(first)
        stroke = np.cumsum(first) - 1
        s_end = np.append(s[starts[1:] - 1], s[-1])
        to_end = np.minimum(s - s[starts][stroke], s_end[stroke] - s)  # in pen widths
        lift = rng.uniform(0.0, 0.4)
        factor *= 1.0 - lift * np.clip(1.0 - to_end / 2.0, 0.0, 1.0)
        thick = _thickness(pen * ss * np.clip(factor, 0.4, 1.6))
        pieces_idx = np.flatnonzero(first | np.concatenate([[False], thick[1:] != thick[:-1]]))
        # Pieces of one thickness: each piece ends on the first point of the next one in the same
        # stroke, so that the line stays continuous where the thickness changes.
        cont = ~first[pieces_idx[1:]]  # does the next piece continue this stroke?
        ends = np.concatenate([pieces_idx[1:] + cont, [n]])
        by_thick: dict[int, list[np.ndarray]] = {}
        for a, b in zip(pieces_idx.tolist(), ends.tolist()):
            p = fixed[a:b]
            if len(p) == 1:
                p = np.repeat(p, 2, axis=0)
            by_thick.setdefault(int(thick[a]), []).append(p)
        for t, group in by_thick.items():
            cv2.polylines(canvas, group, False, 255, t, cv2.LINE_AA, _SHIFT)
    small = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) * (1.0 / 255.0)


def _pieces(fixed: np.ndarray, starts: np.ndarray) -> list[np.ndarray]:
    pieces = np.split(fixed, starts[1:])
    return [p if len(p) > 1 else np.repeat(p, 2, axis=0) for p in pieces]


def _finish(alpha: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """Ink coverage -> grey image: white paper and black ink, or a randomised ink on paper."""
    if rng is None:
        return np.clip(255.5 - 255.0 * alpha, 0, 255).astype(np.uint8)
    h, w = alpha.shape
    # Ballpoint ink is not perfectly even: a faint, blotchy loss of ink along the line.
    if rng.random() < 0.6:
        tex = rng.random((max(2, h // 3), max(2, w // 3)), dtype=np.float32)
        tex = cv2.resize(tex, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = alpha * (1.0 - rng.uniform(0.0, 0.35) * tex)
    paper = rng.uniform(185.0, 250.0)
    ink = rng.uniform(0.0, min(110.0, paper - 110.0))
    # Lighting: a gentle gradient across the line.
    gx, gy = rng.uniform(-25.0, 25.0), rng.uniform(-15.0, 15.0)
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32) * gx
    ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None] * gy
    bg = paper + xs + ys
    img = bg - (bg - ink) * alpha
    if rng.random() < 0.7:
        sigma = rng.uniform(0.3, 1.0)
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    noise = rng.uniform(0.0, 8.0)
    if noise > 0.5:
        img = img + rng.standard_normal((h, w), dtype=np.float32) * noise
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Words: cutting a line's strokes at the spaces between its words


#: Rough width of a character in units of an average letter, for telling whether a group of
#: strokes could hold a word: narrow letters and punctuation count less, wide ones more.
_NARROW = set("ijlrtfI1!|.,;:'\"`()[]-")
_WIDE = set("mwMW")
#: A cut is accepted only when the narrowest space it cuts at is this many times as wide as the
#: widest space it leaves inside a word ...
MIN_GAP_RATIO = 1.5
#: ... and at least this many body heights wide (a space between words, not between letters).
MIN_GAP_BODIES = 0.8
#: A word's width per character may differ from its line's median by at most this factor.
WIDTH_BAND = 1.45
#: ... give or take this many body heights (a short word's width is mostly its pen's whims).
WIDTH_SLACK = 0.5
#: Ink less than MARK_WIDTH body heights wide and MARK_HEIGHT high is a mark (dot, comma, quote)
#: rather than a letter; next to a word whose text has punctuation on that side, up to
#: PUNCT_WIDTH wide and PUNCT_HEIGHT high (a long comma).
MARK_WIDTH = 0.5
MARK_HEIGHT = 0.5
PUNCT_WIDTH = 0.5
PUNCT_HEIGHT = 2.5
_CLOSING = set(".,;:!?'\")]")
_OPENING = set("\"'([")


def ink_frame(strokes: list[np.ndarray],
              height: int | None = DEFAULT_HEIGHT) -> tuple[float, float]:
    """``(body, angle)`` of written strokes as the canonical :func:`render_strokes` sees them: the
    body height (the spread of the middle half of the ink, in the strokes' units) and the
    rotation ``angle`` (radians) that levels the line. ``(1.0, 0.0)`` without ink.

    With a ``height``, ``body`` is the body as drawn at that height: enlarged by the factor the
    whole was shrunk by to fit (tall ascenders and descenders, a very long line), so that
    ``render_strokes(part, body=body, angle=angle)`` draws a part of the line (one word) at the
    very scale and angle it has in the line's canonical rendering (its pen comes out a little
    bolder where the line had to shrink by more than 1.6). ``height=None`` gives the body as
    measured."""
    body, drawn, angle = _frame(strokes, height)
    return (body if height is None else drawn), angle


def _frame(strokes: list[np.ndarray], height: int | None) -> tuple[float, float, float]:
    """The body as measured, the body as drawn at ``height`` (see :func:`ink_frame`) and the
    levelling angle."""
    pts, starts = _flatten(strokes)
    if len(pts) == 0:
        return 1.0, 1.0, 0.0
    first = np.zeros(len(pts), bool)
    first[starts] = True
    w = _point_weights(pts, first)
    cx, cy = _weighted_quantiles(pts[:, 0], w, 0.5), _weighted_quantiles(pts[:, 1], w, 0.5)
    c = pts - (cx, cy)
    xq = _weighted_quantiles(c[:, 0], w, (0.05, 0.95))
    body = _body(c, w, xq)
    angle = _level_angle(c, w, xq, body)
    if angle:
        ca, sa = np.cos(angle), np.sin(angle)
        c = c @ np.array([[ca, -sa], [sa, ca]]).T
        body = _body(c, w, xq)
    drawn = body
    if height is not None:  # the scale render_strokes(strokes, None, height) draws at
        span = np.maximum(c.max(axis=0) - c.min(axis=0), 1e-6)
        k = min(BODY_FRACTION * height / body, (height - 2 * 0.06 * height - 1) / span[1],
                (MAX_ASPECT * height - 2 * 0.08 * height - 1) / span[0])
        drawn = BODY_FRACTION * height / k
    return float(body), float(drawn), float(angle)


def _char_units(word: str) -> float:
    return sum(0.45 if ch in _NARROW else 1.4 if ch in _WIDE else 1.15 if ch.isupper() else 1.0
               for ch in word)


def _slant(pieces: list[np.ndarray]) -> float:
    """Mean slant dx/dy of the steep pen-down segments (y down: writing leaning right is < 0)."""
    num = den = 0.0
    for p in pieces:
        if len(p) < 2:
            continue
        d = np.diff(p, axis=0)
        steep = np.abs(d[:, 1]) > np.abs(d[:, 0])
        if not steep.any():
            continue
        d = d[steep]
        length = np.hypot(d[:, 0], d[:, 1])
        num += float(np.sum(d[:, 0] * np.sign(d[:, 1]) * length))
        den += float(np.sum(np.abs(d[:, 1]) * length))
    return float(np.clip(num / den, -1.0, 1.0)) if den > 0 else 0.0


def word_split_details(pieces: list[np.ndarray], words: list[str],
                       frame: tuple[float, float] | None = None) -> dict | None:
    """How :func:`assign_words` sees a line: the clusters of ink along the (levelled, deslanted)
    line, the spaces between them, the cut and the measures it is judged by (for tuning and
    diagnosing the cut). None when there is no ink or fewer clusters than words."""
    n = len(words)
    pieces = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in pieces]
    if n == 0 or not pieces or not any(len(p) for p in pieces):
        return None
    body, angle = frame if frame is not None else ink_frame(pieces, None)
    ca, sa = np.cos(angle), np.sin(angle)
    m = np.array([[ca, -sa], [sa, ca]]).T
    level = [p @ m for p in pieces]
    slant = _slant(level)
    x0 = np.array([float((p[:, 0] - slant * p[:, 1]).min()) for p in level])
    x1 = np.array([float((p[:, 0] - slant * p[:, 1]).max()) for p in level])
    order = np.argsort(x0, kind="stable")
    # Clusters: pieces whose extents along the line overlap (a word's letters written on top
    # of one another, its i-dots and t-crosses, however late they were written).
    cluster = np.empty(len(pieces), np.int64)
    starts, ends = [], []
    for j in order.tolist():
        if starts and x0[j] <= ends[-1]:
            ends[-1] = max(ends[-1], x1[j])
        else:
            starts.append(x0[j])
            ends.append(x1[j])
        cluster[j] = len(starts) - 1
    starts, ends = np.array(starts), np.array(ends)
    gaps = starts[1:] - ends[:-1]
    if len(starts) < n:
        return None
    cut = np.sort(np.argsort(-gaps, kind="stable")[:n - 1])  # the n-1 widest spaces
    chosen = np.zeros(len(gaps), bool)
    chosen[cut] = True
    min_chosen = float(gaps[chosen].min()) if n > 1 else np.inf
    max_other = float(gaps[~chosen].max()) if (~chosen).any() else 0.0
    bounds = np.concatenate([[0], cut + 1, [len(starts)]])
    word_of_cluster = np.repeat(np.arange(n), np.diff(bounds))
    word = word_of_cluster[cluster]
    widths = ends[bounds[1:] - 1] - starts[bounds[:-1]]
    units = np.array([max(_char_units(wd), 0.45) for wd in words])
    y0 = np.full(len(starts), np.inf)
    y1 = np.full(len(starts), -np.inf)
    for j, p in enumerate(level):
        k = cluster[j]
        y0[k] = min(y0[k], float(p[:, 1].min()))
        y1[k] = max(y1[k], float(p[:, 1].max()))
    # Clusters that are a mere mark (dot, comma, quote) first or last in a word of several.
    wide, tall = ends - starts, y1 - y0
    small = (wide < MARK_WIDTH * body) & (tall < MARK_HEIGHT * body)
    punct = (wide < PUNCT_WIDTH * body) & (tall < PUNCT_HEIGHT * body)
    several = np.diff(bounds) > 1
    # ... and whether it sits high, above the body, where an i-dot does (y points down).
    mid = float(np.median(np.concatenate([p[:, 1] for p in level])))
    high = y1 < mid - 0.5 * body
    return dict(word=word, gaps=gaps, chosen=chosen, min_chosen=min_chosen, max_other=max_other,
                body=float(body), slant=slant, widths=widths, units=units,
                starts=starts, ends=ends, lead_mark=small[bounds[:-1]] & several,
                tail_mark=small[bounds[1:] - 1] & several, lead_high=high[bounds[:-1]],
                tail_high=high[bounds[1:] - 1], lead_punct=punct[bounds[:-1]] & several,
                tail_punct=punct[bounds[1:] - 1] & several)


def assign_words(pieces: list[np.ndarray], words: list[str], *,
                 frame: tuple[float, float] | None = None) -> list[np.ndarray] | None:
    """Which of a line's cleaned strokes (:func:`clean_strokes`) belong to each of its words:
    one array of stroke indices per word, in writing order, or None when the cut is not clear.

    The strokes are levelled and deslanted, strokes whose extents along the line overlap form
    clusters (so an i-dot or t-cross written later stays with its word), and the line is cut at
    the ``len(words) - 1`` widest spaces between clusters. The cut is accepted only when it is
    unambiguous: its narrowest space at least :data:`MIN_GAP_RATIO` times the widest space left
    inside a word and :data:`MIN_GAP_BODIES` body heights wide; every word's width plausible for
    its characters (within :data:`WIDTH_BAND` of the line's median width per character, give or
    take :data:`WIDTH_SLACK` body heights); no lone mark (:data:`MARK_WIDTH` by
    :data:`MARK_HEIGHT` bodies; :data:`PUNCT_WIDTH` by :data:`PUNCT_HEIGHT` where the neighbouring
    word's text has punctuation on that side) at the edge of a word whose text has a letter or
    digit there, other than a high i- or j-dot; and the words begun in the order they are
    written along the line. A word lost, added or run into its neighbour, or a comma that
    strayed to the next word, thus skips the line rather than giving words the wrong ink.

    ``frame`` is the line's ``(body, angle)`` as measured (``ink_frame(strokes, None)``);
    without it, it is measured on ``pieces``.
    """
    d = word_split_details(pieces, words, frame)
    if d is None:
        return None
    n = len(words)
    body = d["body"]
    if n > 1:
        if d["min_chosen"] < MIN_GAP_RATIO * d["max_other"]:
            return None
        if d["min_chosen"] < MIN_GAP_BODIES * body:
            return None
    elif d["max_other"] >= MIN_GAP_BODIES * body * MIN_GAP_RATIO:
        return None  # one word, but a space as wide as between words
    if n > 1:
        # Width per character against the line's median, with some slack for short words.
        per_char = d["widths"] / d["units"]
        ref = float(np.median(per_char))
        slack = WIDTH_SLACK * body
        lo = (d["widths"] + slack) / (d["units"] * ref)
        hi = np.maximum(d["widths"] - slack, 0.0) / (d["units"] * ref)
        if (lo < 1.0 / WIDTH_BAND).any() or (hi > WIDTH_BAND).any():
            return None
    # A mark alone at the start of a word that starts with a letter or digit (or at the end of one
    # that ends with one) is most likely its neighbour's full stop, comma or quote, or one the
    # transcription left out; unless it is the dot of an i or j, written high and a little off.
    for k, text in enumerate(words):
        if not text:
            continue
        lead_dot = text[0] in "ij" and d["lead_high"][k]
        tail_dot = text[-1] in "ij" and d["tail_high"][k]
        if (d["lead_mark"][k] and text[0].isalnum() and not lead_dot) or \
                (d["tail_mark"][k] and text[-1].isalnum() and not tail_dot):
            return None
        # A comma or full stop nearer the next word than its own: written for the word before.
        if k > 0 and text[0].isalnum() and words[k - 1][-1:] in _CLOSING and d["lead_punct"][k]:
            return None
        if k < n - 1 and text[-1].isalnum() and words[k + 1][:1] in _OPENING and \
                d["tail_punct"][k]:
            return None
    word = d["word"]
    # Writing order: each word's first stroke in time comes after the previous word's.
    firsts = np.array([int(np.flatnonzero(word == k)[0]) for k in range(n)])
    if (np.diff(firsts) < 0).any():
        return None
    return [np.flatnonzero(word == k) for k in range(n)]


def split_words(strokes: list[np.ndarray], words: list[str]) -> list[list[np.ndarray]] | None:
    """A line's strokes cut into its ``words``: for each word the strokes (cleaned as by
    :func:`clean_strokes`) written for it, or None when the cut is ambiguous (see
    :func:`assign_words`). ``render_strokes(word, body=body, angle=angle)`` with
    ``body, angle = ink_frame(strokes)`` draws a word at the size it has in its line."""
    pieces = clean_strokes(strokes)
    parts = assign_words(pieces, words, frame=ink_frame(strokes, None))
    if parts is None:
        return None
    return [[pieces[j] for j in idx] for idx in parts]
