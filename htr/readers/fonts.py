"""Synthetic training lines: IAM corpus text rendered in handwriting fonts.

``fonts:PATH`` names an IAM text corpus folder (``lines.txt`` and ``splits/*/lines/te.lst``, as in
``../shared/data/iam-ascii``); each usable line of it becomes one sample, drawn when used in one of
the handwriting fonts installed from Debian packages (:data:`FONT_DIRS`, e.g.
``apt-get install fonts-dkg-handwriting fonts-breip``). The text follows the lexicon's rule
(:func:`htr.lexicon.iam_corpus_lines`): every line of the IAM test lists is left out with its form
group, and so is every form group that falls in the validation split of IAM-OnDB (whose texts are
IAM's), so no validation sentence is learnt from a font either.

Samples are training-only (``split="train"``): a font is not a writer, and scoring on it says
nothing about real hands. One line in :data:`CAPS_EVERY` also comes in capitals, so that the
caps-only fonts are used. Each draw picks a font that has every glyph of the line, a size, pen
weight, word spacing and a small baseline wobble per word; the training augmentation adds the
rest (slant, paper, camera).
"""

from __future__ import annotations

import functools
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import DataError
from ..lexicon import iam_corpus_lines
from .base import Sample, group_split

SOURCE = "fonts"
#: Where Debian's handwriting font packages put their files (one folder per package).
FONT_ROOTS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"))
FONT_DIRS = ("fifthhorseman", "breip", "femkeklaver", "kristi", "sjfonts", "bwht", "dancingscript",
             "rufscript")
#: Debian packages that provide :data:`FONT_DIRS` (named in the error when none is installed).
FONT_PACKAGES = ("fonts-dkg-handwriting", "fonts-breip", "fonts-femkeklaver", "fonts-kristi",
                 "fonts-sjfonts", "fonts-bwht", "fonts-dancingscript", "fonts-rufscript")
#: Font size (pixels) of the canonical drawing and the range of randomised ones.
CANONICAL_SIZE = 48
SIZE_RANGE = (34, 64)
#: One corpus line in this many is also drawn in capitals.
CAPS_EVERY = 6


def handwriting_fonts() -> list[Path]:
    """The installed font files of :data:`FONT_DIRS`, sorted (so a seed means the same font)."""
    files: list[Path] = []
    for root in FONT_ROOTS:
        for name in FONT_DIRS:
            folder = root / name
            if folder.is_dir():
                files += [p for p in folder.iterdir() if p.suffix.lower() in (".ttf", ".otf")]
    return sorted(files)


def read_font_lines(root: Path, *, fonts: list[Path] | None = None,
                    source: str | None = None) -> list[Sample]:
    """One training sample per usable corpus line of ``root`` (see the module's doc).

    Raises :class:`DataError` when no handwriting font is installed or the corpus is missing.
    """
    root = Path(root)
    fonts = handwriting_fonts() if fonts is None else list(fonts)
    if not fonts:
        raise DataError(f"fonts:{root}: no handwriting fonts installed "
                        f"(apt-get install {' '.join(FONT_PACKAGES)})")
    lines_file = root / "lines.txt"
    if not lines_file.is_file():
        raise DataError(f"fonts:{root}: no lines.txt (an IAM text corpus, like iam-ascii)")
    ids = [raw.split(" ", 1)[0] for raw in lines_file.read_text(encoding="utf-8").splitlines()
           if raw and not raw.startswith("#")]
    val_groups = {i[:7] for i in ids if group_split(i[:7]) == "val"}
    try:
        texts = iam_corpus_lines(root, exclude_groups=val_groups)
    except FileNotFoundError as exc:
        raise DataError(f"fonts:{root}: {exc}") from None
    coverage = [glyphs(str(f)) for f in fonts]
    # Every CAPS_EVERY-th line also in capitals, which caps-only fonts can draw (forms, names).
    items = [(f"font-{n:05d}", text) for n, text in enumerate(texts)]
    items += [(f"font-caps-{n:05d}", text.upper()) for n, text in enumerate(texts)
              if n % CAPS_EVERY == 0]
    samples = []
    for item_id, text in items:
        usable = tuple(str(f) for f, cov in zip(fonts, coverage) if set(text.replace(" ", "")) <= cov)
        if not text or not usable:
            continue
        samples.append(Sample(id=item_id, text=text, group=item_id,
                              load=functools.partial(draw_line, text, usable), split="train",
                              source=source or SOURCE))
    return samples


@functools.lru_cache(maxsize=None)
def glyphs(font_file: str) -> frozenset[str]:
    """Printable ASCII characters (and a few more) the font draws as their own glyph, not as the
    missing-glyph box. A caps-only font (the "Because We ..." family draws ``a`` as a small ``A``)
    covers no lower-case letter, since the drawing must show what the label says."""
    font = ImageFont.truetype(font_file, 40)
    missing = _mask_bytes(font, "\uffff")
    wanted = [chr(c) for c in range(33, 127)] + list("£°é")
    covered = {c for c in wanted if _mask_bytes(font, c) not in (missing, b"")}
    if _caps_only(font):
        covered = {c for c in covered if not c.islower()}
    return frozenset(covered)


def _caps_only(font: ImageFont.FreeTypeFont) -> bool:
    """Lower-case letters without ascenders or descenders stand as tall as capitals."""
    short = "acemnorsuvwxz"
    low = np.median([font.getmask(c).size[1] for c in short])
    high = np.median([font.getmask(c.upper()).size[1] for c in short])
    return bool(low >= 0.85 * high)


def _mask_bytes(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    mask = font.getmask(char)
    return bytes(mask) if mask.size[0] and mask.size[1] else b""


@functools.lru_cache(maxsize=64)
def _font(font_file: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_file, size)


def draw_line(text: str, font_files: tuple[str, ...],
              rng: np.random.Generator | None = None) -> np.ndarray:
    """``text`` drawn dark on light paper as 8-bit grey, word by word. ``rng`` None: the
    canonical drawing (a font chosen by the text, regular size and spacing)."""
    if rng is None:
        font_file = font_files[zlib.crc32(text.encode()) % len(font_files)]
        size, weight, space, wobble = CANONICAL_SIZE, 0, 0.35, 0.0
    else:
        font_file = font_files[int(rng.integers(len(font_files)))]
        size = int(rng.integers(*SIZE_RANGE))
        weight = int(rng.random() < 0.25)
        space = float(rng.uniform(0.25, 0.7))
        wobble = float(rng.uniform(0.0, 0.06))
    font = _font(font_file, size)
    words = text.split(" ")
    # Each word's ink box relative to where it is drawn, so that no ascender, descender or
    # swash is cut off whatever the font's metrics claim.
    boxes = [font.getbbox(w, stroke_width=weight) for w in words]
    gap = space * size
    shifts = [0.0 if rng is None else float(rng.normal(0.0, wobble * size)) for _ in words]
    xs, x = [], 0.0
    for (_, _, ink_right, _), jitter in zip(boxes, (1.0,) * len(words) if rng is None
                                            else rng.uniform(0.7, 1.3, len(words))):
        xs.append(x)
        x += ink_right + gap * float(jitter)
    top = min(b[1] + dy for b, dy in zip(boxes, shifts))
    bottom = max(b[3] + dy for b, dy in zip(boxes, shifts))
    left = min(x0 + b[0] for x0, b in zip(xs, boxes))
    right = max(x0 + b[2] for x0, b in zip(xs, boxes))
    pad = 0.3 * size
    width = int(right - left + 2 * pad) + 1
    height = int(bottom - top + 2 * pad) + 1
    ink = 0 if rng is None else int(rng.integers(0, 80))
    paper = 255 if rng is None else int(rng.integers(205, 256))
    image = Image.new("L", (max(width, 8), max(height, 8)), paper)
    draw = ImageDraw.Draw(image)
    for word, x0, dy in zip(words, xs, shifts):
        draw.text((x0 - left + pad, dy - top + pad), word, font=font, fill=ink,
                  stroke_width=weight, stroke_fill=ink)
    return np.asarray(image)
