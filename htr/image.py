"""Images in: load any jpg/png into greyscale, correct contrast and lighting, and fit it to the
network's height. Training and inference share :func:`preprocess`, so a user's photo goes through
exactly what the training samples went through.
"""

from __future__ import annotations

import functools
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError
from .image_kernels import divide_paper, order_statistics, stretch

ImageSource = Union[str, Path, bytes, np.ndarray, Image.Image]

#: Pixel count above which an image is refused (a decompression bomb or a mistake): 80 MPix.
MAX_PIXELS = 80_000_000
#: Width (in units of the model height) beyond which a line image is squeezed: keeps memory bounded.
MAX_ASPECT = 60
#: Widths are padded to a multiple of this, which bounds how many shapes the network compiles for.
WIDTH_STEP = 32
#: A line image is cut down to its own line (:func:`text_band`) only when its ink is at least
#: this many times wider than tall: single words and form fields are left whole.
BAND_MIN_ASPECT = 6
#: How far a line's own ascenders and descenders reach beyond its core (x-height band), in core
#: heights; ink further out belongs to the lines above and below.
BAND_REACH = 1.0
#: A core thinner than this share of the image's ink height is a ruled line or one long stroke.
BAND_MIN_CORE = 0.15
#: Cut nothing when more than this share of the ink lies outside the band: that is a second line
#: of writing (a form's label row, two lines in one crop), not fragments of neighbours.
BAND_MAX_OUTSIDE = 0.15
#: A line is levelled (:func:`line_skew`) only when its ink, levelled, is at least this many
#: times wider than tall: in a word, its own slant and shape would pass for a skew.
SKEW_MIN_ASPECT = 7
#: The steepest skew looked for (rise over run, about 7 degrees), the step between the skews
#: tried, and the least one worth a resampling (about 1.1 degrees: the training augmentation
#: turns lines by up to 1).
MAX_SKEW, SKEW_STEP, MIN_SKEW = 0.12, 0.004, 0.02
_SKEWS = np.linspace(-MAX_SKEW, MAX_SKEW, int(round(2 * MAX_SKEW / SKEW_STEP)) + 1, dtype=np.float32)


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image into an 8-bit greyscale array (ink dark on light, as photographed).

    Accepts a path, encoded bytes, a PIL image or a numpy array. Applies EXIF rotation (phone
    photos), puts transparent pixels on white, scales 16-bit and float images to 8 bits.
    Raises :class:`ImageError` naming the file and the reason for anything it cannot read.
    """
    name = str(source) if isinstance(source, (str, Path)) else None
    if isinstance(source, np.ndarray):
        return _array_to_grey(source, name)
    if isinstance(source, Image.Image):
        return _pil_to_grey(source, name, max_pixels)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ImageError("no such file" if not path.exists() else "not a file", name, "missing")
        data = path.read_bytes()
    else:
        data = bytes(source)
    if not data:
        raise ImageError("empty file", name, "empty")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = None
        try:
            image = Image.open(io.BytesIO(data))
            _check_size(image.size, name, max_pixels)
            image.load()
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Image.open itself refuses the very largest before ``image`` exists.
            size = f"{image.size[0]}x{image.size[1]} pixels" if image is not None else "a decompression bomb"
            raise ImageError(f"image too large ({size})", name, "too_large",
                             image.size if image is not None else None) from None
        except UnidentifiedImageError:
            raise ImageError("not an image (unrecognised format)", name, "not_image") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"corrupt or truncated image ({exc})", name, "corrupt") from None
    return _pil_to_grey(image, name, max_pixels)


def _check_size(size: tuple[int, int], name: str | None, max_pixels: int) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise ImageError(f"image has no pixels ({w}x{h})", name, "no_pixels")
    if w * h > max_pixels:
        raise ImageError(f"image too large ({w}x{h} pixels, limit {max_pixels:,})", name, "too_large",
                         (w, h))


def _pil_to_grey(image: Image.Image, name: str | None, max_pixels: int) -> np.ndarray:
    _check_size(image.size, name, max_pixels)
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not lose the image itself
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return _array_to_grey(np.asarray(image), name)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.uint8).copy()


def _array_to_grey(array: np.ndarray, name: str | None) -> np.ndarray:
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 4:  # RGBA: put on white
        alpha = a[..., 3:4].astype(np.float32) / (65535.0 if a.dtype == np.uint16 else 255.0)
        top = 65535.0 if a.dtype == np.uint16 else 255.0
        a = a[..., :3] * alpha + top * (1 - alpha)
    if a.ndim == 3 and a.shape[2] == 3:
        a = a.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim != 2 or a.size == 0:
        raise ImageError(f"unsupported image array of shape {np.shape(array)}", name, "unsupported")
    if a.dtype == np.uint8:
        return a.copy()
    a = a.astype(np.float32)
    if np.issubdtype(np.asarray(array).dtype, np.floating) and a.max() <= 1.0:
        a = a * 255.0
    elif a.max() > 255:
        a = a * (255.0 / (65535.0 if a.max() <= 65535 else a.max()))
    return np.clip(a + 0.5, 0, 255).astype(np.uint8)


def normalize_ink(grey: np.ndarray) -> np.ndarray:
    """Flatten uneven lighting and stretch contrast: paper becomes white, ink dark.

    Light ink on a dark ground (a blackboard, an inverted scan) is turned round first.
    """
    median, p95 = percentiles(grey, (50, 95))
    if median < 100 and p95 < 200 or median < 70:
        grey = 255 - grey
    g = grey.astype(np.float32)
    h, w = g.shape
    # Background: a grey closing wider than any stroke removes the ink and leaves the paper.
    k = int(max(9, min(h, w) // 3)) | 1
    small = max(1, min(h, w) // 256)  # estimate on a reduced copy for big pages (speed)
    if small > 1:
        reduced = cv2.resize(g, (max(1, w // small), max(1, h // small)), interpolation=cv2.INTER_AREA)
        kr = max(3, k // small) | 1
        bg = dilate_ellipse(reduced, kr)
        bg = cv2.resize(cv2.blur(bg, (kr, kr)), (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        # A max filter is exact on uint8 too, where OpenCV runs it about 4 times faster.
        bg = dilate_ellipse(grey if grey.dtype == np.uint8 else g, k)
        bg = cv2.blur(bg.astype(np.float32), (k, k))
    flat = divide_paper(g, np.ascontiguousarray(bg, np.float32))
    lo, hi = percentiles(flat, (1.0, 90.0))
    if hi - lo < 0.08:
        # Under 1 % ink: a page with a few lines on it, or blank paper. The darkest pixels
        # tell; they must stand out further, as the extreme of paper grain goes deeper.
        lo = np.percentile(flat, 0.05)  # (a float32, and so is the stretch below: rare, as it was)
        if hi - lo < 0.2:  # blank or nearly uniform: nothing to stretch
            return np.full_like(grey, 255)
        out = (flat - lo) / (hi - lo)
        return np.clip(out * 255.0, 0, 255).astype(np.uint8)
    return stretch(flat, float(lo), float(hi))


def percentiles(image: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """``np.percentile(image, q)`` (linear interpolation), the same values, faster: the order
    statistics it interpolates are found without a partial sort, in a uint8 image from its
    histogram (several times faster on a line crop), in a float32 one by their bits
    (:func:`htr.image_kernels.order_statistics`), and interpolated as NumPy interpolates."""
    if image.dtype not in (np.uint8, np.float32) or not image.size or np.ndim(q) != 1:
        return np.percentile(image, q)
    n = image.size
    virtual = (n - 1) * np.true_divide(np.asarray(q, np.float64), 100)
    before = np.floor(virtual)
    after = before + 1
    top = virtual >= n - 1  # NumPy's -1 there: the largest value (gamma then multiplies 0)
    before[top], after[top] = -1, -1
    gamma = virtual - before
    before, after = before.astype(np.intp) % n, after.astype(np.intp) % n
    ranks = np.unique(np.concatenate([before, after]))
    if image.dtype == np.uint8:
        cdf = np.cumsum(np.bincount(image.ravel(), minlength=256))
        values = np.searchsorted(cdf, ranks, side="right").astype(np.uint8)
    else:
        values = order_statistics(image, ranks)
    a, b = values[np.searchsorted(ranks, before)], values[np.searchsorted(ranks, after)]
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


#: Ellipse diameter from which :func:`dilate_ellipse` takes its rows apart (below it OpenCV's
#: own dilation, which costs in proportion to the ellipse's area, is as fast).
ELLIPSE_ROWS_FROM = 25


def dilate_ellipse(image: np.ndarray, size: int) -> np.ndarray:
    """``cv2.dilate`` of a 2-D image by OpenCV's elliptical ``size`` x ``size`` structuring
    element (``size`` odd), pixel for pixel the same, faster for a large ellipse.

    OpenCV visits every pixel of the element for every pixel of the image. The ellipse is a
    stack of centred rows; the maximum over a row of half-width ``r`` is a running maximum, made
    from the one of half-width ``r - 1`` with one comparison per pixel, and the result is the
    maximum of those, each shifted by its row's offset: about ``1.5 * size`` passes over the image
    instead of ``0.8 * size ** 2``. Pixels outside the image count for nothing, as in OpenCV.
    """
    if size < ELLIPSE_ROWS_FROM or size % 2 == 0 or image.ndim != 2:
        return cv2.dilate(image, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    c = size // 2
    rows_by_half = _ellipse_rows(size)
    h, w = image.shape
    # The image itself is no more than the centre row's maximum, so it may start the result.
    out = image.copy()
    row = image  # row[y, x]: the maximum of image[y, x - r : x + r + 1], for r = 0, 1, ...
    for r, rows in enumerate(rows_by_half):
        if r:
            prev, row = row, row.copy()
            np.maximum(row[:, 1:], prev[:, :-1], out=row[:, 1:])
            np.maximum(row[:, :-1], prev[:, 1:], out=row[:, :-1])
        for i in rows:
            e = i - c  # out[y] takes the row e below it
            if e >= 0 and e < h:
                np.maximum(out[:h - e], row[e:], out=out[:h - e])
            elif e < 0 and -e < h:
                np.maximum(out[-e:], row[:h + e], out=out[-e:])
    return out


@functools.lru_cache(maxsize=64)
def _ellipse_rows(size: int) -> tuple[tuple[int, ...], ...]:
    """The rows of OpenCV's ``size`` x ``size`` elliptical element grouped by half-width: entry
    ``r`` lists the rows ``r`` pixels wide either side of the centre (made once per size: a
    page's line crops share a few sizes)."""
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    c = size // 2
    half = [c - int(np.flatnonzero(row)[0]) for row in element]
    return tuple(tuple(i for i, hr in enumerate(half) if hr == r) for r in range(max(half) + 1))


def crop_to_ink(grey: np.ndarray, margin: float = 0.08) -> np.ndarray:
    """Cut a normalised image down to its ink, keeping a margin of ``margin`` times the ink height."""
    y0, y1, x0, x1 = ink_bounds(grey, margin)
    return grey[y0:y1, x0:x1]


def ink_bounds(grey: np.ndarray, margin: float = 0.08) -> tuple[int, int, int, int]:
    """Rows and columns ``(y0, y1, x0, x1)`` that :func:`crop_to_ink` keeps (the whole image
    when it has no ink)."""
    ink = grey < 128
    rows = np.flatnonzero(ink.sum(axis=1) >= max(1, int(0.003 * grey.shape[1])))
    cols = np.flatnonzero(ink.sum(axis=0) >= 1)
    h, w = grey.shape
    if rows.size == 0 or cols.size == 0:
        return 0, h, 0, w
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    pad = int(round(margin * (y1 - y0))) + 1
    y_pad = pad
    band = text_band(ink[y0:y1, x0:x1])
    if band is not None:
        # The band already allows for ascenders and descenders; a margin would let the
        # neighbours' strokes back in.
        y0, y1 = y0 + band[0], y0 + band[1]
        cols = np.flatnonzero(ink[y0:y1].sum(axis=0) >= 1)
        x0, x1 = cols[0], cols[-1] + 1
        pad, y_pad = int(round(margin * (y1 - y0))) + 1, 0
    return (int(max(0, y0 - y_pad)), int(min(h, y1 + y_pad)),
            int(max(0, x0 - pad)), int(min(w, x1 + pad)))


def text_band(ink: np.ndarray) -> tuple[int, int] | None:
    """Rows ``(top, bottom)`` of the one line of writing in a line image whose ``ink`` (a boolean
    mask cut to its ink) also holds strokes of the lines above and below: descenders reaching
    down into a loose crop, ascenders reaching up. None when nothing should be cut.

    The line's core is the run of rows densest in ink (its x-height band); its own ascenders
    and descenders reach :data:`BAND_REACH` core heights beyond it. Cutting the rest keeps the
    line at the height the network reads best (IAM lines -1.0 points CER, Hooker -2.0 with the
    weights trained before this cut existed); words and multi-line crops are left alone.
    """
    h, w = ink.shape
    if w < BAND_MIN_ASPECT * h or h < 8:
        return None
    rows = ink.sum(axis=1).astype(np.float64)
    k = max(1, h // 20)  # smoothing: a single stroke's crossbar is not a core
    profile = np.convolve(rows, np.ones(k) / k, mode="same")
    dense = np.concatenate([[0], (profile >= 0.3 * profile.max()).astype(np.int8), [0]])
    starts, ends = np.flatnonzero(np.diff(dense) == 1), np.flatnonzero(np.diff(dense) == -1)
    densest = int(np.argmax([profile[a:b].sum() for a, b in zip(starts, ends)]))
    a, b = starts[densest], ends[densest]
    if b - a < BAND_MIN_CORE * h:  # a ruled line or a long stroke, not an x-height band
        return None
    top = max(0, int(a - BAND_REACH * (b - a)))
    bottom = min(h, int(b + BAND_REACH * (b - a)))
    if bottom - top >= 0.98 * h or rows[:top].sum() + rows[bottom:].sum() > BAND_MAX_OUTSIDE * rows.sum():
        return None
    return top, bottom


def line_skew(normal: np.ndarray) -> float:
    """The skew of the writing in a normalised line image, as rise over run (positive: it runs
    downhill to the right); 0.0 for a level line, a word or an image without ink.

    It is the vertical shear that makes the rows' ink profile sharpest (the projection-profile
    method): a level line piles its ink into the few rows of its x-height band, a tilted one
    smears it over many. Measured on a copy 32 px high: under a millisecond for a long line.
    """
    ink = normal < 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size < 2 or cols.size < 2:
        return 0.0
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = ink.shape
    if w * (1 / SKEW_MIN_ASPECT + MAX_SKEW) < h:  # too short even if levelling shrank it most
        return 0.0
    small = cv2.resize(ink.astype(np.uint8) * np.uint8(255), (max(2, round(w * 32 / h)), 32),
                       interpolation=cv2.INTER_AREA)  # the share of ink, 0..255
    ys, xs = np.nonzero(small > 50)
    weights = small[ys, xs].astype(np.float32)
    ys, xs = ys.astype(np.float32), xs.astype(np.float32)
    # Every tried skew's row profile at once: one histogram, each skew's rows in a block of
    # its own (``reach`` rows above the top and below the bottom, the most a shear moves one).
    reach = int(np.ceil(MAX_SKEW * small.shape[1])) + 1
    span = 32 + 2 * reach
    blocks = np.arange(len(_SKEWS), dtype=np.int64)[:, None] * span + reach
    shifted = np.floor(ys[None, :] - _SKEWS[:, None] * xs[None, :] + 0.5).astype(np.int64) + blocks
    profiles = np.bincount(shifted.ravel(), np.tile(weights, len(_SKEWS)),
                           minlength=len(_SKEWS) * span).reshape(len(_SKEWS), span)
    k = int(np.argmax(np.einsum("ij,ij->i", profiles, profiles)))
    inked = np.flatnonzero(profiles[k])
    if abs(_SKEWS[k]) < MIN_SKEW or small.shape[1] < SKEW_MIN_ASPECT * (inked[-1] - inked[0] + 1):
        return 0.0
    return float(_SKEWS[k])


def shear_level(grey: np.ndarray, skew: float) -> np.ndarray:
    """Shear an image so that writing of ``skew`` (:func:`line_skew`) runs level: every column
    keeps its x (positions along the line still map straight back), row y of column x moves to
    ``y - skew * x``, and the canvas grows by the rise, filled with the paper's colour."""
    if skew == 0.0:
        return grey
    h, w = grey.shape
    extra = int(np.ceil(abs(skew) * w))
    shear = np.float32([[1, 0, 0], [-skew, 1, extra if skew > 0 else 0]])
    return cv2.warpAffine(grey, shear, (w, h + extra), flags=cv2.INTER_LINEAR,
                          borderValue=int(percentiles(grey, (50,))[0]))


def shrink_to(grey: np.ndarray, long_side: int) -> tuple[np.ndarray, float]:
    """``grey`` reduced (area averaging) to at most ``long_side`` pixels on its long side, and
    the scale it was reduced by (1.0: it was small enough and is returned as it is)."""
    h, w = grey.shape[:2]
    scale = min(1.0, long_side / max(h, w))
    if scale == 1.0:
        return grey, scale
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA), scale


def fit_to_height(grey: np.ndarray, height: int) -> np.ndarray:
    """Resize to ``height`` rows without distortion (aspect ratio kept) and pad the width.

    Returns float32 ``(height, width)`` with ink = 1 and paper = 0, the width a multiple of
    :data:`WIDTH_STEP` (at least ``height``), so zero padding to the right is blank paper.
    """
    h, w = grey.shape
    new_w = _fitted_width(w, h, height)
    interp = cv2.INTER_AREA if height < h else cv2.INTER_CUBIC
    resized = cv2.resize(grey, (new_w, height), interpolation=interp)
    width = max(height, -(-new_w // WIDTH_STEP) * WIDTH_STEP)
    out = np.zeros((height, width), np.float32)
    out[:, :new_w] = 1.0 - resized.astype(np.float32) / 255.0
    return out


#: Threads that preprocess a batch of images: OpenCV and NumPy let go of Python's lock, so two
#: threads preprocess about 1.8 times as fast on 2 cores.
PREPROCESS_THREADS = min(4, os.cpu_count() or 1)


def preprocess(image: np.ndarray, height: int) -> np.ndarray:
    """The one preprocessing path of training and inference: grey uint8 -> network input.

    Lighting and contrast are corrected, a tilted line is sheared level, the image is cut to its
    ink and fitted to ``height``.
    Returns float32 ``(height, width)``, ink = 1.
    """
    return preprocess_with_geometry(image, height)[0]


def _fitted_width(w: int, h: int, height: int) -> int:
    """The width a ``w`` x ``h`` image takes at ``height`` rows (before padding): aspect ratio
    kept, squeezed beyond :data:`MAX_ASPECT`."""
    return min(max(1, int(round(w * height / h))), MAX_ASPECT * height)


@dataclass(frozen=True)
class InputGeometry:
    """Where a network input came from in its image: ``ink_box`` (x0, y0, x1, y1) is the part of
    the image that was cut out and fitted, input column ``c`` is image column
    ``ink_box[0] + c / x_scale``, and ``width`` is that content's width in input columns (the
    rest is padding)."""

    ink_box: tuple[int, int, int, int]
    x_scale: float
    width: int

    def to_image_x(self, column: float) -> float:
        return self.ink_box[0] + column / self.x_scale


def preprocess_with_geometry(image: np.ndarray, height: int) -> tuple[np.ndarray, InputGeometry]:
    """:func:`preprocess`, with the geometry that maps input columns back to image columns
    (word boxes from the recognizer's character alignment)."""
    return preprocess_normalized(normalize_ink(image), height)


def preprocess_normalized(normal: np.ndarray, height: int) -> tuple[np.ndarray, InputGeometry]:
    """:func:`preprocess_with_geometry` of an image already through :func:`normalize_ink`
    (``normal``), for a caller that needs that normalisation as well."""
    skew = line_skew(normal)
    level = shear_level(normal, skew)
    y0, y1, x0, x1 = ink_bounds(level)
    new_w = _fitted_width(x1 - x0, y1 - y0, height)
    out = fit_to_height(level[y0:y1, x0:x1], height)
    if skew:  # the rows cut out, back in the image's own (unsheared) rows
        offset = int(np.ceil(skew * normal.shape[1])) if skew > 0 else 0
        tops = [y0 + skew * x - offset for x in (x0, x1)]
        bottoms = [y1 + skew * x - offset for x in (x0, x1)]
        y0 = max(0, int(np.floor(min(tops))))
        y1 = min(normal.shape[0], int(np.ceil(max(bottoms))))
    return out, InputGeometry((x0, y0, x1, y1), new_w / (x1 - x0), new_w)


def pad_batch(images: list[np.ndarray], width: int = 0) -> np.ndarray:
    """Stack preprocessed images of one height into ``(n, height, width, 1)``, zero padded (blank
    paper) to ``width`` or, where that is less, to the widest of them."""
    height = images[0].shape[0]
    width = max(width, *(im.shape[1] for im in images))
    batch = np.zeros((len(images), height, width, 1), np.float32)
    for i, im in enumerate(images):
        batch[i, :, :im.shape[1], 0] = im
    return batch
