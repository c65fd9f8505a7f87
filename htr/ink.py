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
                   height: int = DEFAULT_HEIGHT) -> np.ndarray:
    """Draw pen strokes as a grey line image (uint8, ink dark on light paper), ``height`` rows.

    ``strokes`` are float arrays ``(n, 2)`` of x, y (y down) in any unit: the writing is scaled so
    that its body (x-height) is about a quarter of the height, and the width follows with a small
    margin. Pen-up gaps stay gaps; a one-point stroke is a dot; outlier points are dropped.
    ``rng=None`` gives the canonical rendering (fixed pen, upright, white paper); a generator
    varies pen width and pressure, slant, rotation, scale, ink, paper, lighting, blur and noise.
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
    body = _body(c, w, xq)
    angle = 0.0
    if xq[1] - xq[0] > 4 * body:
        cov = np.cov(c[:, 0], c[:, 1], aweights=w)
        angle = -float(np.clip(np.arctan2(cov[0, 1], cov[0, 0]), -0.25, 0.25))
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
