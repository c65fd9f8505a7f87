"""Training-time augmentation: make one scanned line look like another pen, hand, paper and camera.

:func:`augment` works on the 8-bit grey image as loaded (ink dark on light paper), *before*
:func:`htr.image.preprocess`, so the preprocessing still has to undo what augmentation does to
lighting and contrast, just as it has to for a user's photo. It is used in training only.

:func:`preview_grid` lays images out with captions in one picture, for ``train.py --preview`` and
for the model card's grid of validation predictions.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

__all__ = ["augment", "preview_grid"]

# Probability of each step at strength >= 1 (scaled down below 1). Steps run in a fixed,
# physically sensible order: pen -> hand/page geometry -> paper and lighting -> camera -> file.
_P_STROKE = 0.35     # pen: thicker or thinner strokes
_P_AFFINE = 0.75     # rotation, x/y scale, slant
_P_ELASTIC = 0.5     # smooth local distortion (another hand)
_P_TONE = 0.6        # paper brightness, ink darkness, gamma
_P_SHADE = 0.35      # lighting gradient or soft shadow
_P_GRAIN = 0.3       # paper texture
_P_RULED = 0.1       # faint ruled lines
_P_BLUR = 0.3        # defocus (Gaussian) or, a quarter of those times, motion blur
_P_LOWRES = 0.25     # downscale then upscale (low-resolution phone shot)
_P_NOISE = 0.4       # sensor noise
_P_JPEG = 0.3        # compression artefacts

#: Largest growth of the image height that rotation may cause (fraction of the height): rotating
#: a long line by 2 degrees would otherwise make it half as tall again, and the ink must stay in.
_MAX_ROTATION_GROWTH = 0.06
#: Elastic displacement, standard deviation in line heights (at strength 1).
_ELASTIC_AMP = 0.035
#: Largest vertical baseline drift of the elastic distortion, in line heights (at strength 1).
_ELASTIC_DRIFT = 0.015


def augment(grey: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Return a randomly altered copy of a uint8 grey text image (ink dark on light paper).

    Each of these is applied with its own probability, its range scaled by ``strength``
    (1.0 = the intended training setting, 0 = no change): stroke width, affine (rotation up to
    2 degrees, x/y scale, slant up to 0.3), elastic distortion, paper brightness / ink darkness /
    gamma, a lighting gradient or soft shadow, paper grain, faint ruled lines, Gaussian or motion
    blur, downscale-then-upscale, Gaussian noise and JPEG compression.

    Geometry pads with the paper colour and grows the canvas so that no ink is cut off; the size
    may therefore change a little (the height by a few per cent). Deterministic for a given
    state of ``rng``.
    """
    g = np.asarray(grey)
    if g.ndim != 2 or g.dtype != np.uint8:
        raise ValueError(f"augment expects a 2-D uint8 grey image, got {g.dtype} {g.shape}")
    s = float(strength)
    if s <= 0 or g.size == 0:
        return g.copy()
    p = min(1.0, s)

    def chance(prob: float) -> bool:
        return bool(rng.random() < prob * p)

    paper = _paper_level(g)
    out = g
    if chance(_P_STROKE):
        out = _stroke_width(out, rng, s)
    do_affine, do_elastic = chance(_P_AFFINE), chance(_P_ELASTIC)
    if do_affine or do_elastic:
        out = _geometry(out, rng, s, paper, do_affine, do_elastic)

    # Paper, lighting and camera in float32 on the 0..255 scale.
    tone, shade, grain, ruled = chance(_P_TONE), chance(_P_SHADE), chance(_P_GRAIN), chance(_P_RULED)
    blur, lowres, noise = chance(_P_BLUR), chance(_P_LOWRES), chance(_P_NOISE)
    if tone or shade or grain or ruled or blur or lowres or noise:
        f = cv2.LUT(out, _tone_lut(rng, s, paper) if tone else _identity_lut())
        if shade or grain:
            f *= _background(f.shape, rng, s, shade, grain)
        if ruled:
            _ruled_lines(f, rng, s)
        if blur:
            f = _blur(f, rng, s)
        if lowres:
            f = _low_resolution(f, rng, s)
        if noise:
            f += rng.standard_normal(f.shape, dtype=np.float32) * np.float32(rng.uniform(2.0, 9.0) * s)
        out = np.clip(f + 0.5, 0, 255).astype(np.uint8)
    if chance(_P_JPEG):
        quality = int(round(100 - s * (100 - rng.uniform(20, 70))))
        out = _jpeg(out, max(5, min(100, quality)))
    return out if out is not g else g.copy()


# --------------------------------------------------------------------------------------- steps


def _paper_level(g: np.ndarray) -> int:
    """The paper's grey level: a high percentile of a subsample (ink never covers most of a page)."""
    step = max(1, int(math.sqrt(g.size / 4096)))
    return max(1, int(np.percentile(g[::step, ::step], 90)))


def _stroke_width(g: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """A broader or finer pen: grey erosion spreads dark ink, dilation thins it; blended partly so
    that thin strokes get fainter rather than vanish."""
    h = g.shape[0]
    thicker = rng.random() < 0.6
    if thicker:
        k = 3 if h >= 80 and rng.random() < 0.5 else 2
        moved = cv2.erode(g, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        t = min(1.0, rng.uniform(0.5, 1.0) * s)
    else:
        moved = cv2.dilate(g, np.ones((2, 2), np.uint8))
        t = min(0.8, rng.uniform(0.3, 0.8) * s)
    return cv2.addWeighted(g, 1.0 - t, moved, t, 0.0)


def _geometry(g: np.ndarray, rng: np.random.Generator, s: float, paper: int,
              do_affine: bool, do_elastic: bool) -> np.ndarray:
    """Affine transform and smooth elastic distortion in one ``cv2.remap``.

    The canvas grows to hold the whole transformed image plus the largest elastic shift, and is
    padded with the paper colour, so no ink leaves the image and no dark corners appear.
    """
    h, w = g.shape
    m = np.eye(2)
    if do_affine:
        sx = math.exp(rng.uniform(-0.15, 0.15) * s)
        sy = math.exp(rng.uniform(-0.03, 0.03) * s)
        slant = rng.uniform(-0.3, 0.3) * s
        max_angle = min(math.radians(2.0) * s, math.asin(min(1.0, _MAX_ROTATION_GROWTH * h / (w * sx))))
        angle = rng.uniform(-max_angle, max_angle)
        c, sn = math.cos(angle), math.sin(angle)
        m = np.array([[c, -sn], [sn, c]]) @ np.array([[1.0, slant], [0.0, 1.0]]) @ np.diag([sx, sy])
    corners = m @ np.array([[-w, w, w, -w], [-h, -h, h, h]], float) / 2
    amp = _ELASTIC_AMP * h * s if do_elastic else 0.0
    # Horizontal room is cheap (a line is long); vertical room only for a small baseline drift.
    margin_x = int(math.ceil(2.5 * amp)) + 1 if do_elastic else 0
    margin_y = int(round(_ELASTIC_DRIFT * h * s)) if do_elastic else 0
    out_w = max(1, int(math.ceil(corners[0].max() - corners[0].min())) + 2 * margin_x)
    out_h = max(1, int(math.ceil(corners[1].max() - corners[1].min())) + 2 * margin_y)

    # Inverse map: output pixel q -> source m^-1 (q - centre_out) + centre_in.
    inv = np.linalg.inv(m).astype(np.float32)
    u = np.arange(out_w, dtype=np.float32) - np.float32((out_w - 1) / 2)
    v = np.arange(out_h, dtype=np.float32) - np.float32((out_h - 1) / 2)
    cx, cy = np.float32((w - 1) / 2), np.float32((h - 1) / 2)
    map_x = (inv[0, 0] * u)[None, :] + (inv[0, 1] * v + cx)[:, None]
    map_y = (inv[1, 0] * u)[None, :] + (inv[1, 1] * v + cy)[:, None]
    if do_elastic:
        dx, dy = _elastic_field(out_h, out_w, h, rng, amp, margin_x, margin_y)
        map_x += dx
        map_y += dy
    return cv2.remap(g, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=int(paper))


def _elastic_field(out_h: int, out_w: int, h: int, rng: np.random.Generator, amp: float,
                   limit_x: int, limit_y: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth displacement (pixels) from random control points, upsampled bicubically.

    Horizontally, control points in three rows, one every ~0.6 line heights, change letter widths
    and slant locally. Vertically, the middle of the line moves up or down while the top and
    bottom rows stay put (letters grow or shrink locally: the ink cannot leave the image), plus a
    slow baseline drift of at most ``limit_y`` pixels. Gentle enough that strokes never fold: the
    local stretch stays around +-10 %.
    """
    nx = max(2, int(round(out_w / (0.6 * h))) + 1)
    fine_x = rng.normal(0.0, amp, (3, nx)).astype(np.float32)
    dx = cv2.resize(fine_x, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    np.clip(dx, -limit_x, limit_x, out=dx)

    bulge = rng.normal(0.0, amp, (1, nx)).astype(np.float32)
    profile = np.sin(np.pi * (np.arange(out_h, dtype=np.float32) + 0.5) / out_h)[:, None]
    dy = cv2.resize(bulge, (out_w, 1), interpolation=cv2.INTER_CUBIC) * profile
    if limit_y > 0:
        nxc = max(2, int(round(out_w / (2.5 * h))) + 1)
        drift = rng.normal(0.0, 0.6 * limit_y, (1, nxc)).astype(np.float32)
        drift = cv2.resize(drift, (out_w, 1), interpolation=cv2.INTER_CUBIC)
        dy += np.clip(drift, -limit_y, limit_y)
    return dx, dy


@functools.lru_cache(maxsize=1)
def _identity_lut() -> np.ndarray:
    return np.arange(256, dtype=np.float32)


def _tone_lut(rng: np.random.Generator, s: float, paper: int) -> np.ndarray:
    """Grey level -> new level: paper brightness, black level (faded ink / flat photo), gamma.

    The ink-to-paper difference stays at least ~60 % of the paper level, so text stays legible.
    """
    new_paper = max(60.0, 255.0 - rng.uniform(0.0, 95.0) * s)
    black = min(0.6, rng.uniform(0.0, 0.35) * s) * new_paper
    gamma = math.exp(float(np.clip(rng.normal(0.0, 0.25), -0.5, 0.5)) * s)
    f = np.minimum(np.arange(256, dtype=np.float32) / np.float32(paper), 1.0) ** np.float32(gamma)
    return (black + (new_paper - black) * f).astype(np.float32)


def _background(shape: tuple[int, int], rng: np.random.Generator, s: float, shade: bool,
                grain: bool) -> np.ndarray:
    """A multiplicative paper/lighting field (1 = unchanged), built small and upsampled."""
    h, w = shape
    sh, sw = max(2, h // 4), max(2, w // 4)
    field = np.ones((sh, sw), np.float32)
    if shade:
        y, x = np.mgrid[0:sh, 0:sw].astype(np.float32)
        phi = rng.uniform(0, 2 * math.pi)
        # Measure distances in line heights so the shadow edge looks the same on words and lines.
        t = (x * math.cos(phi) + y * math.sin(phi)) / np.float32(sh)
        lo, hi = float(t.min()), float(t.max())
        if rng.random() < 0.5:  # linear lighting gradient across the image
            field -= np.float32(rng.uniform(0.05, 0.3) * s) * (t - lo) / max(hi - lo, 1e-6)
        else:  # the soft edge of a shadow (a hand, a phone) somewhere across the image
            edge = rng.uniform(lo, hi)
            soft = rng.uniform(0.3, 1.5)
            field -= np.float32(rng.uniform(0.1, 0.35) * s) / (1 + np.exp(np.clip((edge - t) / soft, -30, 30)))
    if grain:
        gh, gw = max(2, h // 2), max(2, w // 2)
        g = rng.standard_normal((gh, gw), dtype=np.float32)
        g = cv2.GaussianBlur(g, (0, 0), rng.uniform(0.5, 1.5))
        g *= np.float32(rng.uniform(0.02, 0.06) * s / max(float(g.std()), 1e-6))
        grain_full = cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)
        full = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
        full += grain_full
        return full
    return cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)


def _ruled_lines(f: np.ndarray, rng: np.random.Generator, s: float) -> None:
    """Faint, nearly horizontal ruled lines (lined paper) under the writing, in place."""
    h, w = f.shape
    mask = np.zeros((h, w), np.float32)
    dark = rng.uniform(0.08, 0.2) * min(1.0, s)
    thickness = 1 if h < 80 or rng.random() < 0.6 else 2
    spacing = h * rng.uniform(0.8, 1.3)
    y = h * rng.uniform(0.55, 0.98)
    tilt = rng.uniform(-0.004, 0.004) * w
    while y > 0:
        cv2.line(mask, (0, int(round(y * 16))), ((w - 1) * 16, int(round((y + tilt) * 16))), float(dark),
                 thickness, cv2.LINE_AA, shift=4)
        y -= spacing
    f *= 1.0 - mask


def _blur(f: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Out of focus (Gaussian) or, sometimes, a shaken camera (motion blur along a random angle)."""
    scale = f.shape[0] / 96.0  # blur in proportion to the writing size
    if rng.random() < 0.25:
        length = int(round(rng.uniform(2.5, 5.5) * s * scale)) | 1
        if length < 3:
            return f
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        kernel /= max(float(kernel.sum()), 1e-6)
        return cv2.filter2D(f, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    sigma = rng.uniform(0.4, 1.2) * s * scale
    return cv2.GaussianBlur(f, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def _low_resolution(f: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Downscale then upscale back: a distant or low-resolution phone shot. Never below ~36 px."""
    h, w = f.shape
    lowest = max(0.4, 36.0 / h)
    if lowest >= 0.9:
        return f
    factor = 1.0 - rng.uniform(0.0, 1.0 - lowest) * min(1.0, s)
    small = cv2.resize(f, (max(1, int(round(w * factor))), max(1, int(round(h * factor)))),
                       interpolation=cv2.INTER_AREA)
    interp = cv2.INTER_CUBIC if rng.random() < 0.5 else cv2.INTER_LINEAR
    return cv2.resize(small, (w, h), interpolation=interp)


def _jpeg(g: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if ok else g


# --------------------------------------------------------------------------------- preview grid


def preview_grid(images: list[np.ndarray], texts: list[str] | None = None, columns: int = 1,
                 width: int = 1200, *, row_height: int | None = None) -> np.ndarray:
    """Lay images out in ``columns`` columns, each with its caption underneath, as one uint8 image.

    Every image is scaled to a common row height (``row_height``, default the median image height
    kept within 24..128), or narrower where it would not fit its column. uint8 images are shown
    as they are; float images are taken as network input (ink = 1, paper = 0) and shown ink-dark.
    Captions (e.g. ``"truth | prediction"``) are drawn with OpenCV, or with PIL and a TrueType
    font when they are not ASCII, and shortened with "..." to fit. The result is ``width`` pixels
    wide and can be saved as a PNG.
    """
    if texts is not None and len(texts) != len(images):
        raise ValueError(f"{len(images)} images but {len(texts)} captions")
    width = int(width)
    if width < 16:
        raise ValueError(f"width {width} is too small")
    greys = [_as_display_grey(im) for im in images]
    if not greys:
        return np.full((32, width), 255, np.uint8)
    columns = max(1, min(int(columns), len(greys)))
    gap = 8
    cell_w = max(1, (width - gap * (columns + 1)) // columns)
    if row_height is None:
        row_height = int(np.clip(np.median([g.shape[0] for g in greys]), 24, 128))
    caption_h = _CAPTION_H if texts is not None else 0
    cell_h = row_height + caption_h
    rows = -(-len(greys) // columns)
    canvas = np.full((gap + rows * (cell_h + gap), width), 255, np.uint8)
    for i, g in enumerate(greys):
        r, c = divmod(i, columns)
        x0, y0 = gap + c * (cell_w + gap), gap + r * (cell_h + gap)
        h, w = g.shape
        new_h, new_w = row_height, max(1, int(round(w * row_height / h)))
        if new_w > cell_w:
            new_w, new_h = cell_w, max(1, int(round(h * cell_w / w)))
        interp = cv2.INTER_AREA if new_h < h else cv2.INTER_LINEAR
        small = cv2.resize(g, (new_w, new_h), interpolation=interp)
        top = y0 + (row_height - new_h) // 2
        canvas[top:top + new_h, x0:x0 + new_w] = small
        # A light frame shows where each image ends (padding and borders included).
        cv2.rectangle(canvas, (x0 - 1, top - 1), (x0 + new_w, top + new_h), 200, 1)
        if texts is not None:
            _draw_caption(canvas, str(texts[i]), x0, y0 + row_height + 2, cell_w)
    return canvas


_CAPTION_H = 22


def _as_display_grey(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = cv2.cvtColor(a[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"cannot show an image of shape {np.shape(image)}")
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        return np.clip((1.0 - a) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.clip(a, 0, 255).astype(np.uint8)


def _draw_caption(canvas: np.ndarray, text: str, x: int, y: int, max_w: int) -> None:
    text = " ".join(text.split())  # no newlines or tabs
    if text.isascii():
        font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1
        fits = lambda t: cv2.getTextSize(t, font, scale, thick)[0][0] <= max_w  # noqa: E731
        text = _shorten(text, fits)
        cv2.putText(canvas, text, (x, y + 14), font, scale, 0, thick, cv2.LINE_AA)
        return
    from PIL import Image, ImageDraw

    font = _pil_font()
    strip = Image.new("L", (max_w, _CAPTION_H - 2), 255)
    draw = ImageDraw.Draw(strip)
    text = _shorten(text, lambda t: draw.textlength(t, font=font) <= max_w)
    draw.text((0, 1), text, fill=0, font=font)
    region = canvas[y:y + _CAPTION_H - 2, x:x + max_w]
    region[...] = np.asarray(strip)[:region.shape[0], :region.shape[1]]


def _shorten(text: str, fits) -> str:
    if fits(text):
        return text
    lo, hi = 0, len(text)  # longest prefix that fits with the ellipsis
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(text[:mid] + "..."):
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "..."


@functools.lru_cache(maxsize=1)
def _pil_font():
    from PIL import ImageFont

    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, 14)
        except OSError:
            pass
    try:
        import matplotlib

        from pathlib import Path
        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return ImageFont.truetype(str(path), 14)
    except Exception:
        return ImageFont.load_default()
