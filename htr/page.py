"""Reading a whole image into a :class:`~htr.results.Page`: decide whether it shows a page, a
line or a word, find its lines (:mod:`htr.segment`), read them with a
:class:`~htr.recognizer.Recognizer` and place every word on the image.

Lines are read whole by default and each word's box comes from the recognizer's character
alignment (:meth:`Recognition.words`): reading whole lines gives the network the context it was
trained with, and measured more accurate on the Hooker letters than reading word crops (see the
README). ``recognise="words"`` reads the :class:`~htr.segment.WordSegmenter`'s word crops
instead.

A photo of a sheet of paper (on a table, at an angle, in uneven light) is first flattened
(:mod:`htr.sheet`: the sheet found, perspective undone, background cropped, light evened) and
read flat; every box, polygon and baseline is then mapped back into the photo's pixels, and the
page gives the sheet's outline. Scans and crops, where no sheet stands out against a
background, are read as they are.

With a layout made elsewhere (:meth:`PageReader.read` with ``layout=``, the lines of a PAGE-XML
or ALTO file from :func:`htr.readers.pagexml.read_layout`) the page is read along exactly those
lines, in their order, and each keeps its id and its region's id.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from .errors import ImageError
from .image import (PREPROCESS_THREADS, ImageSource, InputGeometry, dilate_ellipse, load_image,
                    normalize_ink, percentiles, preprocess_normalized, shear_level)
from .results import Box, Line, Page, Recognition, Word
from .segment import LineSegmenter, WordSegmenter, classify_input
from .sheet import SHARPEN, Sheet, find_sheet, sharpen

if TYPE_CHECKING:
    from .readers.pagexml import PageLine
    from .recognizer import Recognizer

Level = Literal["auto", "page", "line", "word"]
#: What ``level`` may be: ``auto`` picks one of the others from the image.
LEVELS: tuple[str, ...] = ("auto", "page", "line", "word")
#: How the lines of a page are read: whole, or word crop by word crop.
RECOGNISE = ("lines", "words")


class PageReader:
    """Reads images into pages with one recognizer and one segmenter, both loaded once.

    >>> reader = PageReader(Recognizer.load())           # doctest: +SKIP
    >>> print(reader.read("letter.jpg").text)            # doctest: +SKIP
    """

    def __init__(self, recognizer: "Recognizer", segmenter: LineSegmenter | None = None,
                 word_segmenter: WordSegmenter | None = None, recognise: str = "lines",
                 find_sheets: bool = True) -> None:
        if recognise not in RECOGNISE:
            raise ValueError(f"unknown recognise mode {recognise!r}: choose one of {RECOGNISE}")
        self.recognizer = recognizer
        self.find_sheets = find_sheets  # False: photos read as they are (for comparisons)
        self.segmenter = segmenter or LineSegmenter()
        self.word_segmenter = word_segmenter or WordSegmenter()
        self.recognise = recognise
        self._reading = threading.local()  # what one read() noted on its way (its languages)

    def read(self, image: ImageSource, level: str = "auto",
             layout: Sequence["PageLine"] | None = None) -> Page:
        """Read one image (path, bytes, array or PIL image) at ``level``: ``page`` finds its lines,
        ``line`` and ``word`` take the whole image as one line or one word, and ``auto`` decides
        from what the segmenter finds. Raises :class:`htr.errors.ImageError` for an image that
        cannot be loaded; a blank page gives a page without lines.

        ``layout``: the lines of a layout file (:func:`htr.readers.pagexml.read_layout`); the
        image is then read as a page along exactly those lines, in their order, every one kept
        (an unreadable one with empty text) with its id and region, so that the text can be
        imported back where the layout came from. ``level`` is not used then.
        """
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
        return self._noting_language(lambda: self._read(image, level, layout))

    def _noting_language(self, read: Callable[[], Page]) -> Page:
        """The page ``read()`` gives, with the language most of it was read in (a layout's
        sideways notes are a text apart)."""
        self._reading.languages = []  # per thread: a web worker reads on two
        page = read()
        languages = self._reading.languages
        return dataclasses.replace(page, language=max(languages, key=languages.count)) if languages else page

    def read_many(self, images: Iterable[ImageSource], level: str = "auto",
                  chunk: int = 64) -> Iterator[Page | ImageError]:
        """Read many images, one result per image in their order: its :class:`Page` as
        :meth:`read` gives it, or the :class:`~htr.errors.ImageError` that stopped it.

        The crops among them (a line or a word, given by ``level`` or found by ``auto``) go
        through the network together, ``chunk`` images at a time, instead of one call each: a
        folder of line images reads several times faster. Pages are read one by one as usual.
        A chunk's crops are decoded in a thread of their own while the next chunk is loaded and
        goes through the network: word beam search holds Python's lock, the network lets go of
        it, so the two overlap on two cores.
        """
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
        with ThreadPoolExecutor(1) as decoding:
            waiting = None
            for batch in _chunks(images, chunk):
                seen = self._see_chunk(batch, level)
                if waiting is not None:
                    yield from waiting.result()
                waiting = decoding.submit(self._decode_chunk, *seen)
            if waiting is not None:
                yield from waiting.result()

    def _see_chunk(self, images: list[ImageSource], level: str) -> tuple[list, list, list, list]:
        """The first half of reading a chunk of :meth:`read_many`: its images loaded, its pages
        read whole, its crops through the network. Returns what :meth:`_decode_chunk` takes:
        the results so far (None for each crop), the crops, their preprocessing and their
        probabilities."""
        out: list[Page | ImageError | None] = [None] * len(images)
        crops: list[tuple[int, np.ndarray, str]] = []  # (index, image, its level): read together
        for i, image in enumerate(images):
            try:
                grey = load_image(image)
            except ImageError as exc:
                out[i] = exc
                continue
            own = level  # what this image is, decided as read() decides it
            if level in ("auto", "page"):
                sheet = find_sheet(grey) if self.find_sheets else None
                analysis = None
                if sheet is None:
                    analysis = self.segmenter.analyse(grey)
                    own = classify_input(grey, self.segmenter, layout=analysis) \
                        if level == "auto" else "page"
                if sheet is not None or own == "page":
                    out[i] = self._noting_language(
                        lambda: self._read_found(grey, own, sheet, analysis))
                    continue
            crops.append((i, grey, own))

        def prepare(crop: tuple[int, np.ndarray, str]) -> tuple[np.ndarray, np.ndarray, InputGeometry]:
            normal = normalize_ink(crop[1])  # once, for the network and for the word boxes
            return (normal, *preprocess_normalized(normal, self.recognizer.height))

        with ThreadPoolExecutor(PREPROCESS_THREADS) as pool:
            prepared = list(pool.map(prepare, crops))
        probs = self.recognizer.probabilities([p[1] for p in prepared]) if prepared else []
        return out, crops, prepared, probs

    def _decode_chunk(self, out: list, crops: list, prepared: list, probs: list
                      ) -> list[Page | ImageError]:
        """The second half of reading a chunk (:meth:`_see_chunk`): its crops decoded."""
        # Each crop is a text of its own (its own language), decoded with all the others at once.
        decoded = self.recognizer.decode_texts([[p] for p in probs]) if probs else []
        for (i, grey, own), (normal, _, geometry), (recs, language) in zip(crops, prepared, decoded):
            out[i] = Page(grey.shape[1], grey.shape[0],
                          (self._whole_line(normal, own, geometry, recs[0]),), level=own,
                          language=language)
        return out  # type: ignore[return-value]

    def _read(self, image: ImageSource, level: str, layout: Sequence["PageLine"] | None) -> Page:
        grey = load_image(image)
        h, w = grey.shape
        if layout is not None:
            return Page(w, h, self._read_layout(grey, layout), level="page")
        # A photo's sheet is read flat, and what is found on it mapped back into the photo. A
        # forced line or word level means a crop: nothing to look for.
        sheet = find_sheet(grey) if self.find_sheets and level in ("auto", "page") else None
        return self._read_found(grey, level, sheet)

    def _read_found(self, grey: np.ndarray, level: str, sheet: Sheet | None,
                    analysis=None) -> Page:
        """:meth:`read` of a loaded image once its sheet was looked for (``analysis``: the
        segmenter's of the image, when it is already made)."""
        h, w = grey.shape
        if sheet is not None:
            flat = sheet.flatten(grey)
            layout = self.segmenter.analyse(flat) if level in ("auto", "page") else None
            # Lines found on the flat page as it is, read from it sharpened (SHARPEN).
            read = self._read_image(sharpen(flat, *SHARPEN), level, layout)
            return Page(w, h, tuple(_line_to_photo(line, sheet, (w, h)) for line in read.lines),
                        level=read.level, sheet=sheet.outline)
        return self._read_image(grey, level, analysis)

    def _read_image(self, grey: np.ndarray, level: str, analysis=None) -> Page:
        """:meth:`read` of a loaded image without a layout, in its own pixels."""
        h, w = grey.shape
        layout = None
        if level in ("auto", "page"):
            layout = analysis if analysis is not None else self.segmenter.analyse(grey)
            if level == "auto":
                level = classify_input(grey, self.segmenter, layout=layout)
        if level == "page":
            return Page(w, h, self._read_lines(grey, layout.lines), level="page")
        return Page(w, h, (self._read_whole(grey, level),), level=level)

    def _decode(self, probs: list[np.ndarray]) -> list[Recognition]:
        """Decode one text's lines in one language (an ``auto`` recognizer picks it from them
        all), noted for the page being read."""
        recs, language = self.recognizer.decode_text(probs)
        if probs and language is not None:
            self._reading.languages.append(language)
        return recs

    # --- one line or one word ----------------------------------------------------------------

    def _read_whole(self, grey: np.ndarray, level: str) -> Line:
        normal = normalize_ink(grey)
        net_input, geometry = preprocess_normalized(normal, self.recognizer.height)
        rec = self._decode(self.recognizer.probabilities([net_input]))[0]
        return self._whole_line(normal, level, geometry, rec)

    def _whole_line(self, normal: np.ndarray, level: str, geometry: InputGeometry,
                    rec: Recognition) -> Line:
        """The one line of a line or word image, from its reading (``normal``: the image through
        :func:`normalize_ink`)."""
        box: Box = geometry.ink_box
        x0, y0, x1, y1 = box
        polygon = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        if level == "word":
            words = (Word(box, rec.text, rec.confidence),) if rec.text else ()
        else:
            words = tuple(_aligned_words(rec, geometry, self.recognizer.frame_width, normal, (0, 0)))
        return Line(box=box, polygon=polygon, text=rec.text, confidence=rec.confidence, words=words)

    # --- a page of lines ---------------------------------------------------------------------

    def _read_layout(self, grey: np.ndarray, layout: Sequence["PageLine"]) -> tuple[Line, ...]:
        from .readers.pagexml import crop_polygon, line_spacing, turns

        h, w = grey.shape
        spacing = line_spacing(list(layout))
        given, cut = [], []
        for pl in layout:
            # What the file says, kept as it is for the output (exports write it back) ...
            x0, y0 = min(max(0, pl.box[0]), w - 1), min(max(0, pl.box[1]), h - 1)
            box = (x0, y0, max(x0 + 1, min(w, pl.box[2])), max(y0 + 1, min(h, pl.box[3])))
            given.append(Line(box=box, polygon=tuple(pl.polygon),
                              baseline=tuple(pl.baseline or ()), id=pl.id, region=pl.region))
            # ... and what is cut out to read: as in training (readers.pagexml), a polygon that
            # is only a thin band along the baseline, or lies off it, gives way to a band round
            # the baseline, or the line would be read without its upper half.
            poly = crop_polygon(pl, spacing)
            xs, ys = [p[0] for p in poly], [p[1] for p in poly]
            cx0, cy0 = min(max(0, min(xs)), w - 1), min(max(0, min(ys)), h - 1)
            cbox = (cx0, cy0, max(cx0 + 1, min(w, max(xs) + 1)), max(cy0 + 1, min(h, max(ys) + 1)))
            cut.append(Line(box=cbox, polygon=tuple(poly), baseline=tuple(pl.baseline or ())))
        # Notes written up or down a margin: read turned level, their word boxes turned back.
        sideways = [i for i, pl in enumerate(layout) if turns(pl)]
        level_ones = [i for i in range(len(layout)) if i not in set(sideways)]
        read: dict[int, Line] = {}
        crops = [line_crop(grey, cut[i]) for i in level_ones]
        for i, line in zip(level_ones, self._read_line_crops(crops, [cut[i] for i in level_ones])):
            read[i] = line
        if sideways:
            k = [turns(layout[i]) for i in sideways]
            crops = [np.ascontiguousarray(np.rot90(line_crop(grey, cut[i]), q))
                     for i, q in zip(sideways, k)]
            flat = [Line(box=(0, 0, c.shape[1], c.shape[0])) for c in crops]
            for i, q, crop, line in zip(sideways, k, crops, self._read_line_crops(crops, flat)):
                words = tuple(dataclasses.replace(
                    wd, box=_turn_back(wd.box, q, crop.shape, cut[i].box[:2])) for wd in line.words)
                read[i] = dataclasses.replace(line, words=words)
        return tuple(dataclasses.replace(g, text=read[i].text, confidence=read[i].confidence,
                                         words=read[i].words) for i, g in enumerate(given))

    def _read_lines(self, grey: np.ndarray, found: Sequence[Line]) -> tuple[Line, ...]:
        crops = [line_crop(grey, line) for line in found]
        if self.recognise == "words":
            read = self._read_word_crops(crops, found)
        else:
            read = self._read_line_crops(crops, found)
        return tuple(line for line in read if line.text)

    def _read_line_crops(self, crops: list[np.ndarray], found: Sequence[Line]) -> list[Line]:
        def prepare(crop: np.ndarray, line: Line) -> tuple[np.ndarray, InputGeometry, np.ndarray]:
            # Normalised, then levelled (a shear keeps every column's x): the word boxes take
            # their ink from the same normalisation, made once.
            normal = normalize_ink(crop)
            net_input, geometry = preprocess_normalized(level_line(normal, line),
                                                        self.recognizer.height)
            return net_input, geometry, normal

        with ThreadPoolExecutor(PREPROCESS_THREADS) as pool:
            prepared = list(pool.map(prepare, crops, found))
        recs = self._decode(self.recognizer.probabilities([p[0] for p in prepared]))
        out = []
        for line, (_, geometry, normal), rec in zip(found, prepared, recs):
            # Word rows from the line's own ink: its polygon, a little grown (the crop keeps
            # more, for the network's sake).
            own = _inside(line, max(1, (line.box[3] - line.box[1]) // 30)).astype(bool)
            words = _aligned_words(rec, geometry, self.recognizer.frame_width, normal, line.box[:2],
                                   own)
            out.append(Line(box=line.box, polygon=line.polygon, baseline=line.baseline,
                            text=rec.text, confidence=rec.confidence, words=tuple(words)))
        return out

    def _read_word_crops(self, crops: list[np.ndarray], found: Sequence[Line]) -> list[Line]:
        boxes = [self.word_segmenter.find_words(crop, line.box) for crop, line in zip(crops, found)]
        images = []
        for crop, line, words in zip(crops, found, boxes):
            ox, oy = line.box[:2]
            images += [crop[w.box[1] - oy:w.box[3] - oy, w.box[0] - ox:w.box[2] - ox] for w in words]
        reads = iter(self.recognizer.read(images)) if images else iter(())
        out = []
        for line, words in zip(found, boxes):
            read = [(w, next(reads)) for w in words]
            kept = tuple(Word(w.box, r.text, r.confidence) for w, r in read if r.text)
            conf = float(np.mean([w.confidence for w in kept])) if kept else 0.0
            out.append(Line(box=line.box, polygon=line.polygon, baseline=line.baseline,
                            text=" ".join(w.text for w in kept), confidence=conf, words=kept))
        return out


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def line_crop(grey: np.ndarray, line: Line) -> np.ndarray:
    """The line's box cut from the page, with the page outside its polygon (grown by a fifth of
    the box height) painted paper-coloured, so that the neighbouring lines' ascenders and
    descenders that reach into the box are not read as part of it."""
    x0, y0, x1, y1 = line.box
    crop = grey[y0:y1, x0:x1].copy()
    if len(line.polygon) >= 3 and crop.size:
        crop[_inside(line, max(1, (y1 - y0) // 5)) == 0] = np.uint8(percentiles(crop, (50,))[0])
    return crop


def level_line(crop: np.ndarray, line: Line, min_degrees: float = 0.5) -> np.ndarray:
    """A line crop sheared upright along its baseline, so that a line written (or photographed)
    at a slant reaches the network level, as its training lines were. Columns keep their x, so
    positions along the line still map straight back to the page."""
    if len(line.baseline) < 2:
        return crop
    xs, ys = np.array(line.baseline, np.float64).T
    if np.ptp(xs) <= 0:
        return crop
    slope = float(np.polyfit(xs, ys, 1)[0])
    if abs(slope) < np.tan(np.radians(min_degrees)):
        return crop
    return shear_level(crop, slope)


def _inside(line: Line, grow: int) -> np.ndarray:
    """1 inside the line's polygon grown by ``grow`` pixels, over its box; all 1 without one."""
    x0, y0, x1, y1 = line.box
    if len(line.polygon) < 3:
        return np.ones((y1 - y0, x1 - x0), np.uint8)
    inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(inside, [np.array(line.polygon, np.int32) - np.array([x0, y0], np.int32)], 1)
    return dilate_ellipse(inside, 2 * grow + 1)


def _aligned_words(rec: Recognition, geometry: InputGeometry, frame_width: int,
                   normal: np.ndarray, origin: tuple[int, int],
                   own: np.ndarray | None = None) -> list[Word]:
    """Word boxes from the character alignment of a line reading.

    CTC puts a character's frames anywhere within its ink, often one frame at its middle, so a
    word's columns are taken from half-way to the previous word to half-way to the next, then
    shrunk to the ink in them; rows are the ink's rows within those columns. ``normal`` is the
    crop through :func:`normalize_ink`, ``origin`` where the crop lies in the page,
    ``frame_width`` the input columns per output frame; ``own`` marks the pixels that belong to
    the line.
    """
    spans = rec.words()
    if not spans:
        return []
    ink = normal < 128
    if own is not None:
        ink &= own
    h, w = ink.shape
    edges = [0.0]
    for a, b in zip(spans, spans[1:]):
        edges.append((a.end + b.start) / 2 * frame_width)
    edges.append(float(geometry.width))
    out = []
    for k, span in enumerate(spans):
        left = int(np.floor(geometry.to_image_x(edges[k])))
        right = int(np.ceil(geometry.to_image_x(edges[k + 1])))
        left, right = max(0, min(w - 1, left)), max(1, min(w, right))
        cols = np.flatnonzero(ink[:, left:right].any(axis=0))
        if cols.size:
            right, left = left + int(cols[-1]) + 1, left + int(cols[0])
            rows = np.flatnonzero(ink[:, left:right].any(axis=1))
            top, bottom = int(rows[0]), int(rows[-1]) + 1
        else:
            top, bottom = 0, h
        box = (origin[0] + left, origin[1] + top, origin[0] + right, origin[1] + bottom)
        out.append(Word(box, span.text, span.confidence))
    return out


def _line_to_photo(line: Line, sheet: Sheet, size: tuple[int, int]) -> Line:
    """A line read on the flattened sheet, every point of it mapped back into the photo (of
    ``size``: width, height): polygon and baseline point by point (a homography keeps straight
    lines straight, so the outline between its points stays true), boxes as the box round their
    four mapped corners."""
    def points(pts) -> tuple[tuple[int, int], ...]:
        return tuple((int(round(x)), int(round(y))) for x, y in sheet.to_original(pts))

    def box(b: Box) -> Box:
        x0, y0, x1, y1 = b
        corners = sheet.to_original([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        bx0, by0 = np.floor(corners.min(axis=0)).astype(int)
        bx1, by1 = np.ceil(corners.max(axis=0)).astype(int)
        bx0, by0 = min(max(0, int(bx0)), size[0] - 1), min(max(0, int(by0)), size[1] - 1)
        return bx0, by0, max(bx0 + 1, min(size[0], int(bx1))), max(by0 + 1, min(size[1], int(by1)))

    return dataclasses.replace(
        line, box=box(line.box), polygon=points(line.polygon) if line.polygon else (),
        baseline=points(line.baseline) if line.baseline else (),
        words=tuple(dataclasses.replace(w, box=box(w.box)) for w in line.words))


def _turn_back(box: Box, quarter_turns: int, turned_shape: tuple[int, int],
               origin: tuple[int, int]) -> Box:
    """A box found on a crop turned by ``np.rot90(crop, quarter_turns)`` (shape
    ``turned_shape``), back in page pixels (the unturned crop lies at ``origin``)."""
    x0, y0, x1, y1 = box
    th, tw = turned_shape  # the unturned crop is tw high and th wide
    if quarter_turns == 1:  # turned[r, c] = crop[c, th - 1 - r]
        bx0, by0, bx1, by1 = th - y1, x0, th - y0, x1
    else:  # -1: turned[r, c] = crop[tw - 1 - c, r]
        bx0, by0, bx1, by1 = y0, tw - x1, y1, tw - x0
    return origin[0] + bx0, origin[1] + by0, origin[0] + bx1, origin[1] + by1
