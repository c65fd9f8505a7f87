"""Reading a whole image into a :class:`~htr.results.Page`: decide whether it shows a page, a
line or a word, find its lines (:mod:`htr.segment`), read them with a
:class:`~htr.recognizer.Recognizer` and place every word on the image.

Lines are read whole by default and each word's box comes from the recognizer's character
alignment (:meth:`Recognition.words`): reading whole lines gives the network the context it was
trained with, and measured more accurate on the Hooker letters than reading word crops (see the
README). ``recognise="words"`` reads the :class:`~htr.words.WordSegmenter`'s word crops
instead.

A photo of a sheet of paper (on a table, at an angle, in uneven light) is first flattened
(:mod:`htr.sheet`: the sheet found, perspective undone, background cropped, light evened) and
read flat; every box, polygon and baseline is then mapped back into the photo's pixels, and the
page gives the sheet's outline. Scans and crops, where no sheet stands out against a
background, are read as they are.

A page that reads as nonsense is tried at its other quarter turns (:mod:`htr.orientation`: a
scan fed upside down, a photo that lost its EXIF turn) and read the way up that makes sense.

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

import numpy as np

from .decode import one_word, reads_as_word
from .errors import ImageError
from .image import (PREPROCESS_THREADS, ImageSource, InputGeometry, load_image, normalize_ink,
                    preprocess_normalized)
from .input_kind import classify_input, uncut_lines, word_sized as is_word_sized
from .linecut import inside_lines, level_line, line_crop, line_height, without_neighbours
from .orientation import (LEVEL_FROM, Lie, levelled, may_be_turned, measure_lie, turned_back_box,
                          turned_image, upright_reading)
from .results import Box, Line, Page, Recognition, Word
from .segment import Layout, LineSegmenter
from .sheet import SHARPEN, Sheet, find_sheet, sharpen
from .words import WordSegmenter

if TYPE_CHECKING:
    from .readers.pagexml import PageLine
    from .recognizer import Recognizer

Level = Literal["auto", "page", "line", "word"]
#: What ``level`` may be: ``auto`` picks one of the others from the image.
LEVELS: tuple[str, ...] = ("auto", "page", "line", "word")
#: How the lines of a page are read: whole, or word crop by word crop.
RECOGNISE = ("lines", "words")

#: Crops (line or word images) that :meth:`PageReader.read_many` reads together: through the
#: network in one call, and decoded at once, the word images among them in one language.
CROPS_TOGETHER = 64


class PageReader:
    """Reads images into pages with one recognizer and one segmenter, both loaded once.

    >>> reader = PageReader(Recognizer.load())           # doctest: +SKIP
    >>> print(reader.read("letter.jpg").text)            # doctest: +SKIP
    """

    def __init__(self, recognizer: "Recognizer", segmenter: LineSegmenter | None = None,
                 word_segmenter: WordSegmenter | None = None, recognise: str = "lines",
                 find_sheets: bool = True, turn_pages: bool = True) -> None:
        if recognise not in RECOGNISE:
            raise ValueError(f"unknown recognise mode {recognise!r}: choose one of {RECOGNISE}")
        self.recognizer = recognizer
        self.find_sheets = find_sheets  # False: photos read as they are (for comparisons)
        self.turn_pages = turn_pages  # False: pages read as they lie, never turned (comparisons)
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
                  chunk: int = CROPS_TOGETHER) -> Iterator[Page | ImageError]:
        """Read many images, one result per image in their order: its :class:`Page` as
        :meth:`read` gives it, or the :class:`~htr.errors.ImageError` that stopped it.

        While one image is read, the next is loaded, its sheet looked for and its lines found
        in a thread of its own (:meth:`_see`): segmentation is mostly NumPy and OpenCV, which let
        go of Python's lock, so it overlaps the reading of the image before. The crops among the
        images (a line or a word, given by ``level`` or found by ``auto``) go through the network
        together, ``chunk`` crops at a time, instead of one call each: a folder of line images
        reads several times faster, and the word images among them share a language
        (:meth:`htr.Recognizer.decode_texts`). A chunk's crops are decoded in a thread of their
        own while the next chunk is loaded and goes through the network: word beam search holds
        Python's lock, the network lets go of it, so the two overlap on two cores.
        """
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
        done: dict[int, Page | ImageError] = {}  # read, not yet given back (a crop before them)
        crops: list[tuple[int, _Seen]] = []  # (index, a line or word image looked at)
        given = 0
        with ThreadPoolExecutor(1) as decoding, ThreadPoolExecutor(1) as looking:
            decoded = None  # the chunk of crops being decoded

            def through_network():
                nonlocal decoded
                prepared, probs = self._crops_through_network(crops)
                if decoded is not None:
                    done.update(decoded.result())
                decoded = decoding.submit(self._decode_crops, list(crops), prepared, probs)
                crops.clear()

            for i, item in enumerate(_one_ahead(looking, self._see_safely, images, level)):
                if isinstance(item, ImageError):
                    done[i] = item
                elif item.flat is not None or item.level == "page" or self._may_turn(item):
                    done[i] = self._noting_language(lambda: self._read_upright(item))
                else:
                    crops.append((i, item))
                    if len(crops) >= chunk:
                        through_network()
                while given in done:
                    yield done.pop(given)
                    given += 1
            if crops:
                through_network()
            if decoded is not None:
                done.update(decoded.result())
            while given in done:
                yield done.pop(given)
                given += 1

    def _see_safely(self, image: ImageSource, level: str) -> "_Seen | ImageError":
        try:
            return self._see(load_image(image), level, sides_first=True)
        except ImageError as exc:
            return exc

    def _see(self, grey: np.ndarray, level: str, sides_first: bool = False) -> "_Seen":
        """The first steps of reading a loaded image at ``level``: its sheet looked for and
        flattened, or a page lying askew turned level (``auto`` and ``page`` only: a forced line
        or word level means a crop), its lines found, and what it shows decided (``auto``).
        ``sides_first``: a scan whose lines run down it, which :meth:`_read_upright` reads on
        its sides first, has its lines as it lies left to be found only if it needs them
        (:attr:`_Seen.lines_later`)."""
        sheet = flat = analysis = to_original = lie = None
        own, loaded = level, grey
        if level in ("auto", "page"):
            sheet = find_sheet(grey) if self.find_sheets else None
            if sheet is None:
                # A page laid askew (beyond the few degrees the segmenter shears level) is
                # turned level first (htr.orientation.LEVEL_FROM).
                lie = measure_lie(grey) if self.turn_pages and may_be_turned(grey.shape) else None
                if sides_first and lie is not None and lie.quarter_turns == (1, 3):
                    return _Seen(grey, level, None, None, None, guessed=level == "auto",
                                 loaded=grey, asked=level, lie=lie, lines_later=True)
                if lie is not None and abs(lie.tilt) >= LEVEL_FROM:
                    flat, to_original = levelled(grey, lie.tilt)
                analysis = self.segmenter.analyse(grey if flat is None else flat)
            else:  # lines found on the flat sheet as it is, read from it sharpened (SHARPEN)
                flat, to_original = sheet.flatten(grey), sheet.to_original
                analysis = self.segmenter.analyse(flat)
                flat = sharpen(flat, *SHARPEN)
            if level == "auto":
                own = classify_input(grey if flat is None else flat, self.segmenter, layout=analysis)
        word_sized = level == "auto" and own != "page" and is_word_sized(analysis)
        if level == "auto" and own == "line" and flat is None and not word_sized:
            # (A word's own strokes, found as rows apart, would be painted out: words read
            # worse with it, real IAM words 14.66 -> 14.86%.)
            grey = without_neighbours(grey, analysis)
        return _Seen(grey, own, sheet, flat, analysis, guessed=level == "auto", word_sized=word_sized,
                     loaded=loaded, asked=level, to_original=to_original, lie=lie)

    def _crops_through_network(self, crops: list[tuple[int, "_Seen"]]
                               ) -> tuple[list, list[np.ndarray]]:
        """The first half of reading crops together (:meth:`read_many`): each normalised and
        preprocessed, and all through the network."""
        def prepare(crop: tuple[int, _Seen]) -> tuple[np.ndarray, np.ndarray, InputGeometry]:
            normal = normalize_ink(crop[1].grey)  # once, for the network and for the word boxes
            return (normal, *preprocess_normalized(normal, self.recognizer.height))

        with ThreadPoolExecutor(PREPROCESS_THREADS) as pool:
            prepared = list(pool.map(prepare, crops))
        return prepared, self.recognizer.probabilities([p[1] for p in prepared])

    def _decode_crops(self, crops: list[tuple[int, "_Seen"]], prepared: list,
                      probs: list[np.ndarray]) -> dict[int, Page]:
        """The second half (:meth:`_crops_through_network`): the crops decoded, each a page of
        one line or word, by its index."""
        # Each crop is a text of its own (its own language), decoded with all the others at once.
        out = {}
        texts = [[self._given(p, seen.level, seen.guessed)] for (_, seen), p in zip(crops, probs)]
        readings = self.recognizer.decode_texts(  # the crops read as words with the words' shift
            texts, [_reads_words(seen.level, seen.word_sized) for _, seen in crops])
        readings = self._one_word_where_surer(
            readings, [t[0] for t in texts], [seen.word_sized for _, seen in crops])
        for (i, seen), (normal, _, geometry), (recs, language) in zip(crops, prepared, readings):
            line, own = self._whole_line(normal, seen.level, geometry, recs[0], seen.guessed)
            out[i] = Page(seen.grey.shape[1], seen.grey.shape[0], (line,), level=own, language=language)
        return out

    def _read(self, image: ImageSource, level: str, layout: Sequence["PageLine"] | None) -> Page:
        grey = load_image(image)
        h, w = grey.shape
        if layout is not None:
            return Page(w, h, self._read_layout(grey, layout), level="page")
        return self._read_upright(self._see(grey, level, sides_first=True))

    def _may_turn(self, seen: "_Seen") -> bool:
        """Whether ``seen`` may be a page lying on its side or upside down: asked for as ``auto``
        or ``page``, and of a page's size (:func:`htr.orientation.may_be_turned`)."""
        return (self.turn_pages and seen.asked in ("auto", "page")
                and may_be_turned(seen.loaded.shape))

    def _read_upright(self, seen: "_Seen") -> Page:
        """:meth:`_read_seen`, and where the image may be a page lying on its side or upside
        down and that reading is unsure, the image read at the quarter turns its lines allow
        too and the one that reads best kept (:func:`htr.orientation.upright_reading`), in the
        image's own pixels."""
        if not self._may_turn(seen):
            return self._read_seen(seen)

        def read_turned(turns: int) -> Page:
            if turns:
                turned = self._see(turned_image(seen.loaded, turns), seen.asked)
            else:  # (a page on its side has its lines as it lies found only now, if at all)
                turned = self._see(seen.loaded, seen.asked) if seen.lines_later else seen
            return self._noting_language(lambda: self._read_seen(turned))

        # Which way the lines run: known for a scan (its tilt was measured; 3 ms more), measured
        # on a photo's sheet (its background says nothing; 15 ms) only if it reads unsure.
        best = upright_reading(read_turned, seen.lie.quarter_turns if seen.lie is not None else
                               lambda: measure_lie(seen.flat if seen.flat is not None else
                                                   seen.grey).quarter_turns)
        # The language noted for the page is the kept reading's.
        self._reading.languages = [best.language] if best.language else []
        return best

    def _read_seen(self, seen: "_Seen") -> Page:
        """:meth:`read` of an image once :meth:`_see` has looked at it. A photo's sheet is read
        flat, a page lying askew level, and what is found on it mapped back into the image."""
        grey = seen.grey
        h, w = grey.shape
        if seen.flat is None:
            return self._read_image(grey, seen.level, seen.analysis, seen.guessed, seen.word_sized)
        read = self._read_image(seen.flat, seen.level, seen.analysis, seen.guessed, seen.word_sized)
        return Page(w, h, tuple(_line_mapped(line, seen.to_original, (w, h)) for line in read.lines),
                    level=read.level, sheet=seen.sheet.outline if seen.sheet is not None else None)

    def _read_image(self, grey: np.ndarray, level: str, analysis: Layout | None = None,
                    guessed: bool = False, word_sized: bool = False) -> Page:
        """:meth:`read` of a loaded image at a decided level (``page``, ``line`` or ``word``;
        ``guessed``: decided by ``auto``; ``word_sized``: see :meth:`_one_word_where_surer`) in
        its own pixels, the segmenter's ``analysis`` of it given for a page."""
        h, w = grey.shape
        if level == "page":
            return Page(w, h, self._read_lines(grey, uncut_lines(analysis)), level="page")
        line, level = self._read_whole(grey, level, guessed, word_sized)
        return Page(w, h, (line,), level=level)

    def _decode(self, probs: list[np.ndarray], word_sized: bool = False,
                as_word: bool = False) -> list[Recognition]:
        """Decode one text's lines in one language (an ``auto`` recognizer picks it from them
        all), noted for the page being read. ``word_sized``: the text is one crop that may well
        be a single word (:meth:`_one_word_where_surer`); ``as_word``: it is read as one
        (:meth:`htr.Recognizer.reading_words`)."""
        reading = self.recognizer.decode_text(probs, as_word)
        if word_sized:
            reading = self._one_word_where_surer([reading], probs, [True])[0]
        recs, language = reading
        if probs and language is not None:
            self._reading.languages.append(language)
        return recs

    # --- one line or one word ----------------------------------------------------------------

    def _read_whole(self, grey: np.ndarray, level: str, guessed: bool = False,
                    word_sized: bool = False) -> tuple[Line, str]:
        normal = normalize_ink(grey)
        net_input, geometry = preprocess_normalized(normal, self.recognizer.height)
        probs = self.recognizer.probabilities([net_input])
        rec = self._decode([self._given(probs[0], level, guessed)], word_sized,
                           _reads_words(level, word_sized))[0]
        return self._whole_line(normal, level, geometry, rec, guessed)

    def _given(self, probs: np.ndarray, level: str, guessed: bool) -> np.ndarray:
        """A crop's probabilities as what it was given as: an image given as a word (not guessed
        by ``auto``) is read as one word, no space in it (:func:`htr.decode.one_word`)."""
        if guessed or not reads_as_word(level):
            return probs
        return one_word(probs, self.recognizer.charset)

    def _one_word_where_surer(self, readings: list[tuple[list[Recognition], str | None]],
                              probs: Sequence[np.ndarray], word_sized: Sequence[bool]
                              ) -> list[tuple[list[Recognition], str | None]]:
        """``readings`` (each crop's, as :meth:`Recognizer.decode_texts` gives them) with a
        crop that ``auto`` found no wider than a word (``word_sized``) but that reads as several
        words read again as one word (:func:`htr.decode.one_word`), and that reading taken where
        the decoder is at least as sure of it as of the split one. The letter gaps of a word cut
        from a line read as spaces ("week end", "the me"), and the word segmenter cannot tell
        them from a short line's spaces; the decoder's confidence can, and a short line ("she
        is", "May 29 1905") keeps its spaces."""
        again = [k for k, ((recs, _), sized) in enumerate(zip(readings, word_sized))
                 if sized and len(recs[0].text.split()) > 1]
        if not again:
            return readings
        readings = list(readings)
        words = self.recognizer.reading_words()
        for k in again:
            split = readings[k][0][0]
            recs, language = words.in_language(readings[k][1]).decode_text(
                [one_word(probs[k], self.recognizer.charset)])
            if recs[0].text and recs[0].confidence >= split.confidence:
                readings[k] = (recs, language)
        return readings

    def _whole_line(self, normal: np.ndarray, level: str, geometry: InputGeometry,
                    rec: Recognition, guessed: bool = False) -> tuple[Line, str]:
        """The one line of a line or word image, from its reading (``normal``: the image through
        :func:`normalize_ink`), and the level it was read at. An image that ``auto`` took for a
        word (``guessed``) but that reads as several words is a line: each word gets its box
        (a line of joined-up or closely spaced writing shows no gaps to cut at)."""
        box: Box = geometry.ink_box
        x0, y0, x1, y1 = box
        polygon = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        if level == "word" and guessed and len(rec.text.split()) > 1:
            level = "line"
        if level == "word":
            words = (Word(box, rec.text, rec.confidence),) if rec.text else ()
        else:
            words = tuple(aligned_words(rec, geometry, self.recognizer.frame_width, normal, (0, 0)))
        line = Line(box=box, polygon=polygon, text=rec.text, confidence=rec.confidence, words=words)
        return line, level

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
        level_cut = [cut[i] for i in level_ones]
        level_read = self._read_line_crops(level_cut, lambda j: line_crop(grey, level_cut[j]))
        read.update(zip(level_ones, level_read))
        if sideways:
            k = [turns(layout[i]) for i in sideways]
            crops = [turned_image(line_crop(grey, cut[i]), q) for i, q in zip(sideways, k)]
            flat = [Line(box=(0, 0, c.shape[1], c.shape[0])) for c in crops]
            turned_read = self._read_line_crops(flat, crops.__getitem__)
            for i, q, crop, line in zip(sideways, k, crops, turned_read):
                x, y = cut[i].box[:2]  # where the unturned crop lies on the page
                on_crop = [turned_back_box(wd.box, q, crop.shape) for wd in line.words]
                words = tuple(dataclasses.replace(wd, box=(x + b[0], y + b[1], x + b[2], y + b[3]))
                              for wd, b in zip(line.words, on_crop))
                read[i] = dataclasses.replace(line, words=words)
        return tuple(dataclasses.replace(g, text=read[i].text, confidence=read[i].confidence,
                                         words=read[i].words) for i, g in enumerate(given))

    def _read_lines(self, grey: np.ndarray, found: Sequence[Line]) -> tuple[Line, ...]:
        if self.recognise == "words":
            read = self._read_word_crops([line_crop(grey, line) for line in found], found)
        else:
            read = self._read_line_crops(found, lambda j: line_crop(grey, found[j]))
        return tuple(line for line in read if line.text)

    def _read_line_crops(self, found: Sequence[Line], crop_of: Callable[[int], np.ndarray]) -> list[Line]:
        """The lines ``found`` read, the ``j``-th cut out by ``crop_of(j)`` (on the preparing
        threads, with the rest of each line's preparation)."""
        def prepare(j: int) -> tuple[np.ndarray, InputGeometry, np.ndarray, np.ndarray]:
            line = found[j]
            # Cut out and normalised, then levelled (a shear keeps every column's x): the word
            # boxes take their ink from the same normalisation, made once, and their rows from
            # the line's own ink: its polygon, a little grown (the crop keeps more, for the
            # network's sake).
            normal = normalize_ink(crop_of(j))
            net_input, geometry = preprocess_normalized(level_line(normal, line),
                                                        self.recognizer.height)
            x0, y0, x1, y1 = line.box
            own = inside_lines((y1 - y0, x1 - x0), [line], max(1, line_height(line) // 30),
                               (x0, y0)).astype(bool)
            return net_input, geometry, normal, own

        with ThreadPoolExecutor(PREPROCESS_THREADS) as pool:
            prepared = list(pool.map(prepare, range(len(found))))
        recs = self._decode(self.recognizer.probabilities([p[0] for p in prepared]))
        out = []
        for line, (_, geometry, normal, own), rec in zip(found, prepared, recs):
            words = aligned_words(rec, geometry, self.recognizer.frame_width, normal, line.box[:2],
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
        # Read as lines, not as one word each: the segmenter's crops hold two words at times
        # (Hooker pages, one_word: CER 36.82 -> 37.52%).
        reads = iter(self.recognizer.read(images)) if images else iter(())
        out = []
        for line, words in zip(found, boxes):
            read = [(w, next(reads)) for w in words]
            kept = tuple(Word(w.box, r.text, r.confidence) for w, r in read if r.text)
            conf = float(np.mean([w.confidence for w in kept])) if kept else 0.0
            out.append(Line(box=line.box, polygon=line.polygon, baseline=line.baseline,
                            text=" ".join(w.text for w in kept), confidence=conf, words=kept))
        return out


@dataclasses.dataclass
class _Seen:
    """An image looked at (:meth:`PageReader._see`), ready to read: what it shows (``level``:
    page, line or word), its sheet and the image its lines are read from instead of it
    (``flat``: the flattened sheet, sharpened, or a page lying askew turned level; None for a
    scan or a crop read as it is), and the segmenter's analysis of that image (None for a forced
    crop level)."""

    grey: np.ndarray
    level: str
    sheet: Sheet | None
    flat: np.ndarray | None
    analysis: Layout | None
    guessed: bool = False  # the level decided by ``auto``, not given
    word_sized: bool = False  # a crop ``auto`` found no wider than a word (input_kind.WORD_SIZED)
    loaded: np.ndarray | None = None  # as loaded (``grey`` may have its neighbours painted out)
    asked: str = "auto"  # the level it was asked to be read at
    #: Maps points on ``flat`` back into the image (None: no ``flat``).
    to_original: Callable[[Sequence], np.ndarray] | None = None
    #: How its writing lies (measured on a page-sized image without a sheet; None: not yet).
    lie: Lie | None = None
    #: A scan whose lines run down it, read on its sides first: its lines as it lies not yet
    #: found (``analysis`` None), nor what it shows (``level`` as asked).
    lines_later: bool = False


def _reads_words(level: str, word_sized: bool) -> bool:
    """Whether a crop read at ``level`` is read as one word (:meth:`htr.Recognizer.reading_words`):
    given as a word or taken for one by ``auto``, or no wider than a word."""
    return level == "word" or word_sized


def _one_ahead(pool: ThreadPoolExecutor, work: Callable, items: Iterable, *args) -> Iterator:
    """``work(item, *args)`` of each item in order, the next item's started in ``pool`` while
    the caller deals with the one before."""
    pending = None
    for item in items:
        future = pool.submit(work, item, *args)
        if pending is not None:
            yield pending.result()
        pending = future
    if pending is not None:
        yield pending.result()


def aligned_words(rec: Recognition, geometry: InputGeometry, frame_width: int,
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
        # A word read in the blank paper after the writing (htr.runtimes.TRAILING_PAPER) starts
        # past the writing's end, its last edge: at least one column, not a box turned inside out.
        left = max(0, min(w - 1, left))
        right = max(left + 1, min(w, right))
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


def _line_mapped(line: Line, to_original: Callable[[Sequence], np.ndarray],
                 size: tuple[int, int]) -> Line:
    """A line read on a flattened sheet or a levelled page, every point of it mapped back into
    the image (of ``size``: width, height) by ``to_original`` (:meth:`htr.sheet.Sheet.to_original`,
    :func:`htr.orientation.levelled`): polygon and baseline point by point (a homography keeps
    straight lines straight, so the outline between its points stays true), boxes as the box
    round their four mapped corners."""
    def points(pts) -> tuple[tuple[int, int], ...]:
        return tuple((int(round(x)), int(round(y))) for x, y in to_original(pts))

    def box(b: Box) -> Box:
        x0, y0, x1, y1 = b
        corners = to_original([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        bx0, by0 = np.floor(corners.min(axis=0)).astype(int)
        bx1, by1 = np.ceil(corners.max(axis=0)).astype(int)
        bx0, by0 = min(max(0, int(bx0)), size[0] - 1), min(max(0, int(by0)), size[1] - 1)
        return bx0, by0, max(bx0 + 1, min(size[0], int(bx1))), max(by0 + 1, min(size[1], int(by1)))

    return dataclasses.replace(
        line, box=box(line.box), polygon=points(line.polygon) if line.polygon else (),
        baseline=points(line.baseline) if line.baseline else (),
        words=tuple(dataclasses.replace(w, box=box(w.box)) for w in line.words))
