"""Training the line-core network of :mod:`htr.linemask` on pages with drawn lines (PAGE-XML,
ALTO), exporting it to ONNX and quantising that to int8 (:func:`quantize_line_mask`, the file
the segmenter reads): ``python -m htr train-linemask``, ``python -m htr quantize-linemask``.

Each page is prepared as the segmenter sees it (reduced to its working size, through
:func:`htr.image.normalize_ink`); a training sample is a random square of it, scaled by
:func:`htr.linemask.mask_input` to :data:`~htr.linemask.SPACING_PX` between lines times a
random factor (0.75-1.33: writing of other sizes, and spacings misjudged), its ink a little
fainter at random, with sensor noise. Pages may also be photographed first
(:func:`prepare_photo`: a synthetic phone photo, its sheet found and flattened as the page reader
does). Never flipped: mirrored writing is
exactly the show-through the network is to learn to ignore.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .image import load_image, normalize_ink, shrink_to
from .linemask import DEFAULT_LINE_MASK, line_targets, mask_input
from .photo import photograph, warp_lines
from .readers import open_pages
from .readers.pagexml import PageLine, PageSample, line_spacing, turns
from .segment import WORK_SIZE
from .sheet import find_sheet

#: Side of the square training crops (network input pixels).
CROP = 256
#: The factor the scale of a training page is drawn from (log-uniform).
SCALE_JITTER = (0.75, 1.33)


@dataclass
class MaskPage:
    """A page ready for sampling: its flattened image at the segmenter's working size, its
    lines' baselines and its line spacing in those pixels."""

    flat: np.ndarray
    baselines: list[np.ndarray]
    spacing: float


def read_pages(specs: Sequence[str], split: str = "train", val_fraction: float = 0.1
               ) -> list[PageSample]:
    """The pages of ``pagexml:FOLDER`` and ``alto:FOLDER`` sets in ``split``
    (:func:`htr.readers.open_pages`)."""
    return [page for spec in specs for page in open_pages(spec, split, val_fraction)]


def prepare_page(page: PageSample) -> MaskPage | None:
    """``page`` as the segmenter sees it, with its level lines' baselines (a line without one:
    a line along the lower third of its box); None for a page without two level lines."""
    return _mask_page(load_image(page.image), page.lines)


def prepare_photo(page: PageSample, rng: np.random.Generator) -> MaskPage | None:
    """``page`` photographed (:func:`htr.photo.photograph`), its sheet found and flattened as
    :class:`htr.page.PageReader` does before it looks for lines (:func:`htr.sheet.find_sheet`,
    :meth:`~htr.sheet.Sheet.flatten`), with its lines carried through both warps: the network
    learns the softer, noisier, unevenly lit pages that photos give. None where no sheet is
    found, or as :func:`prepare_page`."""
    photo = photograph(page, rng)
    grey = load_image(photo.page.image)
    sheet = find_sheet(grey)
    if sheet is None:
        return None
    return _mask_page(sheet.flatten(grey), warp_lines(page.lines, sheet.homography @ photo.homography))


def prepare_photos(pages: Sequence[PageSample], times: int, seed: int = 0
                   ) -> Iterator[MaskPage | None]:
    """Every page photographed ``times`` times over (:func:`prepare_photo`, one random stream
    from ``seed``): one result per photo, None where no sheet was found in it."""
    rng = np.random.default_rng(seed)
    for page in list(pages) * times:
        yield prepare_photo(page, rng)


def _mask_page(grey: np.ndarray, lines: Sequence[PageLine]) -> MaskPage | None:
    grey, s = shrink_to(grey, WORK_SIZE)
    level = [line for line in lines if not turns(line)]
    spacing = line_spacing(level)
    if spacing is None or len(level) < 2:
        return None
    baselines = []
    for line in level:
        if line.baseline and len(line.baseline) >= 2:
            base = np.array(line.baseline, np.float64)
        else:
            x0, y0, x1, y1 = line.box
            y = y1 - 0.35 * (y1 - y0)
            base = np.array([[x0, y], [x1, y]], np.float64)
        baselines.append(base * s)
    return MaskPage(normalize_ink(grey), baselines, spacing * s)


def stacked_page(lines: Sequence[np.ndarray], rng: np.random.Generator) -> MaskPage:
    """A page made of line images (modern hands on clean paper, the Hooker and Copiste pages'
    complement): written one below the other at random indents and gaps, on paper of their own
    grey, each line's baseline where its ink's core ends."""
    widths = [line.shape[1] for line in lines]
    width = int(max(widths) * rng.uniform(1.05, 1.4)) + 40
    heights = [line.shape[0] for line in lines]
    gaps = rng.uniform(-0.15, 0.6, len(lines)) * np.median(heights)
    height = int(sum(heights) + max(0.0, gaps.sum()) + 2 * np.median(heights)) + 40
    page = np.full((height, width), 255, np.uint8)
    baselines, y = [], int(np.median(heights) * rng.uniform(0.3, 1.0)) + 20
    for line, gap in zip(lines, gaps):
        flat = normalize_ink(line)
        h, w = flat.shape
        x = int(rng.uniform(0, width - w)) if width > w else 0
        if y + h > height:
            break
        page[y:y + h, x:x + w] = np.minimum(page[y:y + h, x:x + w], flat)
        ink = flat < 128
        rows = np.convolve(ink.sum(axis=1), np.ones(3) / 3, mode="same")
        core = np.flatnonzero(rows >= 0.5 * rows.max()) if rows.max() > 0 else np.array([h // 2])
        cols = np.flatnonzero(ink.any(axis=0))
        if cols.size:
            base = y + float(core[-1])
            baselines.append(np.array([[x + cols[0], base], [x + cols[-1], base]], np.float64))
        y += int(h + gap)
    spacing = float(np.median(np.diff([b[0, 1] for b in baselines]))) if len(baselines) > 1 else 60.0
    return MaskPage(page, baselines, max(spacing, 8.0))


def line_pages(spec: str, count: int, seed: int, per_page: tuple[int, int] = (4, 14)) -> list[MaskPage]:
    """``count`` pages stacked (:func:`stacked_page`) from the train split of a set of line
    images (``folder:PATH`` and the like), each of lines of one writer or form group where it
    has enough of them."""
    from .readers import open_data, split_of

    rng = np.random.default_rng(seed)
    samples = [s for s in open_data(spec) if split_of(s) == "train"]
    by_group: dict[str, list] = {}
    for s in samples:
        by_group.setdefault(s.group, []).append(s)
    groups = list(by_group.values())
    pages = []
    for _ in range(count):
        group = groups[int(rng.integers(0, len(groups)))]
        n = int(rng.integers(*per_page))
        picks = [group[int(i)] for i in rng.integers(0, len(group), n)] if len(group) >= 3 else \
            [samples[int(i)] for i in rng.integers(0, len(samples), n)]
        page = stacked_page([s.image() for s in picks], rng)
        if len(page.baselines) >= 2:
            pages.append(page)
    return pages


def sample(page: MaskPage, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One training pair (input, target), each ``CROP`` x ``CROP`` x 1 float32."""
    jitter = float(np.exp(rng.uniform(*np.log(SCALE_JITTER))))
    x, f = mask_input(page.flat, page.spacing / jitter)
    y = line_targets(x.shape, page.baselines, page.spacing, f)
    ph, pw = max(0, CROP - x.shape[0]), max(0, CROP - x.shape[1])
    if ph or pw:
        x, y = np.pad(x, ((0, ph), (0, pw))), np.pad(y, ((0, ph), (0, pw)))
    i = int(rng.integers(0, x.shape[0] - CROP + 1))
    j = int(rng.integers(0, x.shape[1] - CROP + 1))
    x = x[i:i + CROP, j:j + CROP] * rng.uniform(0.8, 1.0)
    x = x + rng.normal(0.0, rng.uniform(0.0, 0.03), x.shape).astype(np.float32)
    return x[..., None].astype(np.float32), y[i:i + CROP, j:j + CROP, None].astype(np.float32)


def batches(pages: Sequence[MaskPage], batch_size: int, seed: int
            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    while True:
        pairs = [sample(pages[int(i)], rng) for i in rng.integers(0, len(pages), batch_size)]
        yield np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def build_network():
    """The U-Net: three poolings (16, 32, 48 channels), a dilated bottleneck of 64 with a wide
    horizontal kernel (a line is known by its neighbours along it), and back up with skips."""
    import keras
    from keras import layers

    def conv(x, channels: int, dilation: int = 1):
        x = layers.Conv2D(channels, 3, padding="same", dilation_rate=dilation, use_bias=False)(x)
        return layers.ReLU()(layers.BatchNormalization()(x))

    image = keras.Input((None, None, 1), name="image")
    e1 = conv(conv(image, 16), 16)
    e2 = conv(conv(layers.MaxPooling2D()(e1), 32), 32)
    e3 = conv(conv(layers.MaxPooling2D()(e2), 48), 48)
    b = conv(conv(conv(layers.MaxPooling2D()(e3), 64), 64, 2), 64, 4)
    b = layers.Conv2D(64, (1, 9), padding="same", activation="relu")(b)
    u3 = conv(layers.Concatenate()([layers.UpSampling2D()(b), e3]), 48)
    u2 = conv(layers.Concatenate()([layers.UpSampling2D()(u3), e2]), 32)
    u1 = conv(layers.Concatenate()([layers.UpSampling2D()(u2), e1]), 16)
    return keras.Model(image, layers.Conv2D(1, 1, activation="sigmoid")(u1), name="linemask")


def train(pages: Sequence[MaskPage], output: Path, steps: int = 3000, batch_size: int = 8,
          learning_rate: float = 2e-3, seed: int = 0, log=print) -> Path:
    """Train on ``pages`` for ``steps`` batches (the learning rate falls by a cosine to a
    tenth), writing ``linemask.keras`` (every 100 steps) and ``history.json`` to ``output``,
    and at the end ``linemask.onnx`` (:func:`export_onnx`). Returns the ONNX file."""
    import keras

    output.mkdir(parents=True, exist_ok=True)
    model = build_network()
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.1)
    model.compile(keras.optimizers.Adam(schedule), "binary_crossentropy")
    data = batches(pages, batch_size, seed)
    history, start = [], time.time()
    for done in range(100, steps + 100, 100):
        n = min(100, steps - (done - 100))
        if n <= 0:
            break
        loss = model.fit(data, steps_per_epoch=n, epochs=1, verbose=0).history["loss"][-1]
        history.append({"steps": done - 100 + n, "loss": float(loss), "seconds": time.time() - start})
        log(f"step {history[-1]['steps']}/{steps}: loss {loss:.4f} ({history[-1]['seconds']:.0f} s)")
        model.save(output / "linemask.keras")
        (output / "history.json").write_text(json.dumps(history, indent=1))
    return export_onnx(model, output / "linemask.onnx")


#: The operators of the line network run in int8 (:func:`htr.runtimes.quantize_onnx`): the whole
#: U-Net, so that each layer's int8 output feeds the next. On 32 training pages' inputs the
#: network ran in 33 ms a page against 56 in float32, and on the validation pages of both sets
#: the segmenter found exactly the same lines (``bench/eval_segmentation.py``, card).
INT8_OPS = ("Conv", "Relu", "MaxPool", "Concat", "DepthToSpace", "SpaceToDepth", "Pad", "Add",
            "Mul", "Split", "Transpose", "Sigmoid")
#: The quantised file beside the float one: the name the segmenter reads (:mod:`htr.linemask`).
INT8_FILE = DEFAULT_LINE_MASK.name


def quantize_line_mask(source: Path, pages: Sequence[MaskPage], output: Path) -> Path:
    """The float ONNX network ``source`` quantised to int8 (:data:`INT8_OPS`) into ``output``,
    its activations' ranges measured on ``pages`` fed as the segmenter feeds a page
    (:func:`htr.linemask.mask_input` at the page's line spacing). Returns ``output``."""
    from .files import write_atomically
    from .runtimes import quantize_onnx

    if not pages:
        raise ValueError("no pages to calibrate the quantised line network on")
    batches = [mask_input(page.flat, page.spacing)[0][None, ..., None] for page in pages]
    write_atomically(output, quantize_onnx(Path(source).read_bytes(), batches, INT8_OPS))
    return output


def export_onnx(model, path: Path) -> Path:
    """The network as ONNX (any page size), for :class:`htr.linemask.LineMask`."""
    from .runtimes import keras_to_onnx

    path.write_bytes(keras_to_onnx(model, (1, None, None, 1)).SerializeToString())
    return path
